"""Community: neighbours' lapses become known the day after their deadline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import TablesBuilder

from dropout.features import build_features


@pytest.fixture(scope="module")
def village():
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", travel_minutes=150)
    b.village("V2", travel_minutes=20)
    ids = {}
    on_time = "on_time"
    skip = lambda month: (lambda i, due: None if due.month == month and due.year == 2025 - (month == 12) else due - pd.Timedelta(days=3))  # noqa: E731
    ids["A"] = b.participant(village_id="V1", enrolled_on="2024-06-01")
    b.schedule(ids["A"], paid=skip(3))  # missed 2025-03
    ids["B"] = b.participant(village_id="V1", enrolled_on="2024-06-01")
    b.schedule(ids["B"], paid=skip(12))  # missed 2024-12 (due 12-31)
    ids["C"] = b.participant(village_id="V1", enrolled_on="2024-06-01")
    b.schedule(ids["C"], paid=on_time)
    ids["D"] = b.participant(village_id="V1", enrolled_on="2024-06-01")
    b.schedule(ids["D"], paid=skip(6))  # missed 2025-06 (due 06-30)
    ids["E"] = b.participant(village_id="V2", enrolled_on="2024-06-01")
    b.schedule(ids["E"], paid=on_time)
    ids["F"] = b.participant(village_id="V1", enrolled_on="2025-08-01")  # joins later
    b.schedule(ids["F"], paid="never")
    ids["G"] = b.participant(village_id="V1", enrolled_on="2022-01-01")  # withdrew before
    b.schedule(ids["G"], paid="never", until="2025-04-01")
    b.withdrawal(ids["G"], "2025-05-01")
    return b.build(), ids


def share(tables, ids, as_of):
    df = build_features(tables, [as_of], families=["community"]).set_index("participant_id")
    return {k: df.loc[v] for k, v in ids.items() if v in df.index}


def test_share_excludes_self_and_outsiders(village):
    tables, ids = village
    f = share(tables, ids, "2025-07-01")  # window: due_on in [2025-01-01, 2025-07-01)
    assert set(f) == {"A", "B", "C", "D", "E"}
    assert f["A"]["village_lapse_share_6m"] == pytest.approx(1 / 3)  # D
    assert f["B"]["village_lapse_share_6m"] == pytest.approx(2 / 3)  # A, D
    assert f["C"]["village_lapse_share_6m"] == pytest.approx(2 / 3)
    assert f["D"]["village_lapse_share_6m"] == pytest.approx(1 / 3)  # A
    assert f["A"]["village_participants"] == 4 and f["A"]["travel_minutes"] == 150
    assert np.isnan(f["E"]["village_lapse_share_6m"]) and f["E"]["village_participants"] == 1


def test_a_lapse_is_known_only_the_day_after_its_deadline(village):
    tables, ids = village
    f = share(tables, ids, "2025-06-30")  # window [2024-12-30, 2025-06-30): D's June not yet known
    assert f["C"]["village_lapse_share_6m"] == pytest.approx(2 / 3)  # A (Mar), B (Dec 31)
    assert f["B"]["village_lapse_share_6m"] == pytest.approx(1 / 3)  # A only
