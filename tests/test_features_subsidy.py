"""Subsidy and net cost: rates in force at as_of, the next installment net of support."""

from __future__ import annotations

import numpy as np
import pytest
from factories import TablesBuilder, features_of

from dropout.reference import contribution_rules

RULES = contribution_rules()
LINE = RULES.poverty_line_vnd


def support(rate: float, months: int) -> float:
    return rate * RULES.contribution_rate * LINE * months


def test_near_poor_minority_in_quang_tri_after_july_2025():
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", province="Quang Tri")
    pid = b.participant(enrolled_on="2025-01-10", ethnicity="Ta Oi", occupation="farmer")
    b.schedule(pid, paid=lambda i, due: due - np.timedelta64(5, "D") if i < 6 else None)
    hh = b.household_of(pid)
    b.poverty(hh, "poor", "2024-01-01", "2025-03-31")
    b.poverty(hh, "near_poor", "2025-04-01")
    f = features_of(b.build(), "2025-07-01", pid, families=["subsidy"])
    # central: max(near-poor 0.40, minority 0.30, other 0.20); Quang Tri: near-poor 0.15
    assert f["subsidy_rate_central"] == pytest.approx(0.40)
    assert f["subsidy_rate_provincial"] == pytest.approx(0.15)
    assert f["subsidy_months_left"] == 120 - 6
    net = 330_000 - support(0.55, 1)
    assert f["next_net_amount_vnd"] == pytest.approx(net)  # 148,500
    assert f["net_monthly_cost_vnd"] == pytest.approx(net)
    assert f["net_cost_share_poverty_line"] == pytest.approx(net / LINE)
    assert f["ethnic_minority"] == 1
    assert np.isnan(f["net_monthly_cost_change_12m_vnd"])  # not enrolled 12 months earlier
    assert np.isnan(f["subsidy_rate_change_12m"])


def test_annual_kinh_in_quang_nam_and_the_2025_rate_rise():
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", province="Quang Nam")
    pid = b.participant(enrolled_on="2024-03-05", ethnicity="Kinh", payment_mode="annual", income_base=2_000_000)
    b.schedule(pid)  # paid 10 days before each deadline (end of the 7th month)
    tables = b.build()
    jan = features_of(tables, "2025-01-01", pid, families=["subsidy"])
    gross = 0.22 * 2_000_000 * 12  # 5,280,000 for the period starting 2025-03
    assert (jan["subsidy_rate_central"], jan["subsidy_rate_provincial"]) == pytest.approx((0.10, 0.05))
    assert jan["subsidy_months_left"] == 108
    assert jan["next_net_amount_vnd"] == pytest.approx(gross - support(0.15, 12))
    aug = features_of(tables, "2025-08-01", pid, families=["subsidy"])
    assert aug["subsidy_rate_central"] == pytest.approx(0.20)
    now = (gross - support(0.25, 12)) / 12
    before = (gross - support(0.15, 12)) / 12  # at 2024-08-01: the 2024-03 period, old rates
    assert aug["net_monthly_cost_vnd"] == pytest.approx(now)
    assert aug["net_monthly_cost_change_12m_vnd"] == pytest.approx(now - before)  # -33,000
    assert aug["subsidy_rate_change_12m"] == pytest.approx(0.10)


def test_support_stops_after_120_months():
    b = TablesBuilder(extracted_on="2025-12-31")
    pid = b.participant(enrolled_on="2015-01-01", ethnicity="Kinh")
    b.schedule(pid)
    f = features_of(b.build(), "2025-02-01", pid, families=["subsidy"])
    assert f["subsidy_months_left"] == 0  # 121 months paid
    assert f["next_net_amount_vnd"] == pytest.approx(330_000)
