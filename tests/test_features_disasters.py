"""Disaster exposure: events in the participant's commune by started_on."""

from __future__ import annotations

import numpy as np
import pytest
from factories import TablesBuilder, features_of


def test_counts_severity_and_days_since():
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", commune="Hong Thai")
    b.village("V2", commune="A Ngo")
    a = b.participant(village_id="V1", enrolled_on="2024-01-01")
    c = b.participant(village_id="V2", enrolled_on="2024-01-01")
    for p in (a, c):
        b.schedule(p)
    b.disaster("Hong Thai", "2025-06-20", severity=1)
    b.disaster("Hong Thai", "2025-05-01", severity=3)
    b.disaster("Hong Thai", "2024-09-15", severity=2)
    b.disaster("Hong Thai", "2024-06-01", severity=3)  # more than 365 days before
    b.disaster("Hong Thai", "2025-07-05", severity=3)  # after as_of
    b.disaster("Tra Leng", "2025-06-25", severity=3)  # another commune
    tables = b.build()
    f = features_of(tables, "2025-07-01", a, families=["disasters"])
    assert (f["disasters_30d"], f["disasters_90d"], f["disasters_365d"]) == (1, 2, 3)
    assert f["severe_disasters_365d"] == 1
    assert (f["disaster_max_severity_90d"], f["disaster_max_severity_365d"]) == (3, 3)
    assert f["days_since_disaster"] == 11
    # impact: severity halving every 45 days over the last year:
    # 1 x 2^(-11/45) + 3 x 2^(-61/45) + 2 x 2^(-289/45); the 2024-06-01 event is over a year old
    expected = 1 * 2 ** (-11 / 45) + 3 * 2 ** (-61 / 45) + 2 * 2 ** (-289 / 45)
    assert f["disaster_impact"] == pytest.approx(expected, rel=1e-6)
    g = features_of(tables, "2025-07-01", c, families=["disasters"])
    assert (g["disasters_365d"], g["disaster_max_severity_365d"], g["disaster_impact"]) == (0, 0, 0)
    assert np.isnan(g["days_since_disaster"])
    # An event dated on as_of counts.
    assert features_of(tables, "2025-07-05", a, families=["disasters"])["days_since_disaster"] == 0
