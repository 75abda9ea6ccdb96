"""Small checks of what officers rely on: visit outcomes as features, fresh payments
without re-scoring, the demo's window, names and places from the simulator."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dropout.features import build_features
from dropout.score.core import next_deadline_window
from dropout.simulate.contacts import phones, vietnamese_place
from factories import TablesBuilder


def test_visit_outcomes_become_outreach_features():
    b = TablesBuilder(extracted_on="2025-07-31")
    b.village("V1")
    a = b.participant(village_id="V1", enrolled_on="2024-01-01")
    c = b.participant(village_id="V1", enrolled_on="2024-01-01")
    for pid in (a, c):
        b.schedule(pid)
    t = b.build()
    visits = pd.DataFrame({
        "visit_id": [1, 2, 3, 4],
        "participant_id": pd.array([a, a, a, c], dtype="Int64"),
        "village_id": "V1",
        "visited_on": pd.to_datetime(["2024-03-01", "2025-02-01", "2025-05-01", "2025-06-20"]),
        "kind": "home_visit", "language": "Vietnamese", "outcome_note": None,
        "outcome": ["refused", "refused", "not_home", "promised"],
        "promised_on": pd.to_datetime([None, None, None, "2025-07-15"]),
    })
    t = t.replace(visits=visits)
    f = build_features(t, ["2025-06-30", "2025-07-20"]).set_index(["participant_id", "as_of"])
    june, july = pd.Timestamp("2025-06-30"), pd.Timestamp("2025-07-20")
    assert f.loc[(a, june), "visit_refused_12m"] == 1  # the 2024 refusal is more than 12 months old
    assert f.loc[(a, june), "visit_not_home_12m"] == 1
    assert f.loc[(a, june), "visit_promise_open"] == 0
    assert f.loc[(c, june), "visit_promise_open"] == 1  # promised for 15 July
    assert f.loc[(c, july), "visit_promise_open"] == 0  # the day has passed
    # point in time: as of before the visits, nothing
    early = build_features(t, ["2024-02-01"]).set_index("participant_id")
    assert early.loc[a, "visit_refused_12m"] == 0


def test_features_without_outcome_columns_are_zero():
    b = TablesBuilder(extracted_on="2025-06-30")
    b.village("V1")
    pid = b.participant(village_id="V1", enrolled_on="2024-01-01")
    b.schedule(pid)
    b.visit("2025-05-01", participant_id=pid)
    f = build_features(b.build(), ["2025-06-30"]).set_index("participant_id")
    assert f.loc[pid, ["visit_refused_12m", "visit_not_home_12m", "visit_promise_open"]].tolist() == [0, 0, 0]


@pytest.mark.parametrize("as_of, days", [("2026-06-30", 31), ("2026-06-10", 20), ("2026-06-20", 41),
                                         ("2026-01-31", 28)])
def test_the_demo_window_reaches_the_next_deadline(as_of, days):
    assert next_deadline_window(as_of) == days
    end = pd.Timestamp(as_of) + pd.Timedelta(days=days)
    assert end == end.to_period("M").to_timestamp(how="end").normalize()  # a month's last day


def test_place_names_phones():
    assert vietnamese_place("Thi tran A Luoi") == "Thị trấn A Lưới"
    assert vietnamese_place("Hong Van") == "Hồng Vân"
    assert vietnamese_place("Nowhere Town") == "Nowhere Town"
    numbers = phones(np.random.default_rng(1), 2000)
    given = [n for n in numbers if n is not None]
    assert 0.8 < len(given) / 2000 < 0.95
    assert all(re.fullmatch(r"0[3789][0-9]{8}", n) for n in given)
    assert len(set(given)) == len(given)


def test_refresh_merges_payments_once_and_refuses_an_empty_store(tmp_path):
    from dropout.cli import app
    from dropout.io import write_tables
    from dropout.store import open_store
    from dropout.store.payments import paid_after_scoring
    from dropout.web.fake import fake_scores, fake_tables

    tables = fake_tables(participants_per_district=20, seed=2)
    url = f"sqlite:///{tmp_path}/s.db"
    data = tmp_path / "data"
    write_tables(tables, data)
    runner = CliRunner()
    r = runner.invoke(app, ["refresh", "--data", str(data), "--store", url])
    assert r.exit_code == 2 and "no finished scoring run" in r.output
    scores = fake_scores(tables).drop(columns=["run_id"])
    store = open_store(url)
    store.begin_run({"run_id": "r", "as_of": tables.extracted_on, "window_days": 30, "model_name": "fake",
                     "model_version": "1", "model_sha256": "0" * 64, "data_fingerprint": "f", "engine": "pandas",
                     "chunk_size": 1000, "n_chunks": 1, "n_expected": len(scores)})
    store.write_chunk("r", 0, scores)
    store.finish_run("r")
    store.dispose()
    later = tables.extracted_on + pd.Timedelta(days=5)
    inst = tables.installments.copy()
    first = scores.iloc[0]
    hit = (inst["participant_id"] == first["participant_id"]) & (inst["due_on"] == first["due_on"])
    inst.loc[hit, "paid_on"] = later
    inst.loc[hit, "amount_paid"] = 50_000
    write_tables(tables.replace(installments=inst, extracted_on=later), tmp_path / "newer")
    for _ in range(2):  # twice: one row per installment
        r = runner.invoke(app, ["refresh", "--data", str(tmp_path / "newer"), "--store", url])
        assert r.exit_code == 0, r.output
        assert "1 of" in r.output
    paid, as_of = paid_after_scoring(url)
    assert as_of == later and len(paid) == 1
    assert paid.iloc[0]["participant_id"] == first["participant_id"] and paid.iloc[0]["paid_on"] == later
