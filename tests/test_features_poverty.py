"""Poverty status: hand-computed values from dated status spells."""

from __future__ import annotations

import numpy as np
import pytest
from factories import TablesBuilder, features_of


@pytest.fixture(scope="module")
def world():
    b = TablesBuilder(extracted_on="2025-12-31")
    a = b.participant(enrolled_on="2023-01-01")
    b.schedule(a)
    hh = b.household_of(a)
    b.poverty(hh, "none", "2022-01-01", "2023-12-31")
    b.poverty(hh, "poor", "2024-01-01", "2025-03-31")
    b.poverty(hh, "near_poor", "2025-04-01")
    c = b.participant(enrolled_on="2023-01-01")  # no poverty record at all
    b.schedule(c)
    d = b.participant(enrolled_on="2023-01-01")  # a spell that ends with no successor
    b.schedule(d)
    b.poverty(b.household_of(d), "poor", "2023-06-01", "2024-05-31")
    return b.build(), a, c, d


def test_status_months_and_direction(world):
    tables, a, _, _ = world
    f = features_of(tables, "2025-07-01", a, families=["poverty_status"])
    assert (f["is_poor"], f["is_near_poor"]) == (0, 1)
    assert f["months_in_poverty_status"] == 3  # since 2025-04-01
    assert f["months_since_poverty_change"] == 3
    assert f["poverty_last_change_direction"] == 1  # poor -> near-poor: less support
    assert f["left_poverty_list_12m"] == 1


def test_status_before_the_change_is_not_leaked(world):
    tables, a, _, _ = world
    f = features_of(tables, "2025-03-31", a, families=["poverty_status"])
    assert (f["is_poor"], f["is_near_poor"]) == (1, 0)
    assert f["months_since_poverty_change"] == 14  # 2024-01-01 -> 2025-03-31
    assert f["poverty_last_change_direction"] == -1  # none -> poor
    assert f["left_poverty_list_12m"] == 0


def test_left_list_flag_expires_after_12_months(world):
    tables, _, _, d = world  # back to none on 2024-06-01
    assert features_of(tables, "2025-05-31", d, families=["poverty_status"])["left_poverty_list_12m"] == 1
    assert features_of(tables, "2025-06-01", d, families=["poverty_status"])["left_poverty_list_12m"] == 0


def test_no_record_and_ended_spell(world):
    tables, _, c, d = world
    f = features_of(tables, "2025-01-01", c, families=["poverty_status"])
    assert (f["is_poor"], f["is_near_poor"], f["poverty_last_change_direction"]) == (0, 0, 0)
    assert np.isnan(f["months_in_poverty_status"]) and np.isnan(f["months_since_poverty_change"])
    g = features_of(tables, "2024-07-01", d, families=["poverty_status"])
    assert g["is_poor"] == 0  # the poor spell ended 2024-05-31
    assert g["months_since_poverty_change"] == 1  # back to none on 2024-06-01
    assert g["poverty_last_change_direction"] == 1 and g["left_poverty_list_12m"] == 1
