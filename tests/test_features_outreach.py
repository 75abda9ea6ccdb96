"""Outreach: home visits to the person, evening sessions in the village, by visited_on."""

from __future__ import annotations

import numpy as np
from factories import TablesBuilder, features_of


def test_visits_sessions_and_language():
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", ethnic_language="Ta Oi")
    b.village("V2", ethnic_language="Pa Ko")
    a = b.participant(village_id="V1", enrolled_on="2024-01-01")
    c = b.participant(village_id="V1", enrolled_on="2024-01-01")
    for p in (a, c):
        b.schedule(p)
    b.visit("2025-03-10", participant_id=a, language="Ta Oi")
    b.visit("2024-05-01", participant_id=a, language="Vietnamese")
    b.visit("2025-06-01", village_id="V1", language="Ta Oi")
    b.visit("2024-01-15", village_id="V1", language="Vietnamese")
    b.visit("2025-06-20", village_id="V2")
    b.visit("2025-07-02", participant_id=a)  # after as_of
    tables = b.build()
    f = features_of(tables, "2025-07-01", a, families=["outreach"])
    assert f["days_since_home_visit"] == 113
    assert f["days_since_evening_session"] == 30
    assert (f["home_visits_12m"], f["evening_sessions_12m"], f["visits_own_language_12m"]) == (1, 1, 2)
    g = features_of(tables, "2025-07-01", c, families=["outreach"])
    assert np.isnan(g["days_since_home_visit"]) and g["days_since_evening_session"] == 30
    assert (g["home_visits_12m"], g["visits_own_language_12m"]) == (0, 1)
