"""Payment history: hand-computed values on a tiny ledger, and agreement with a naive reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import TablesBuilder, features_of, random_tables

from dropout.features import build_features
from dropout.features._naive import payment_history_reference


@pytest.fixture(scope="module")
def ledger():
    """Monthly payer enrolled 2025-01-10 (22 % x 1,500,000 = 330,000 a month).

    Jan paid 01-26 (on time), Feb paid 03-03 (3 days late), Mar never, Apr 04-20 (on time),
    May 07-10 (late; unknown at 07-01), Jun 06-30 (on the deadline), Jul 06-25 (early),
    Aug 08-20, then on time.
    """
    b = TablesBuilder(extracted_on="2025-12-31")
    pid = b.participant(enrolled_on="2025-01-10", birth_year=1980)
    paid = {1: "2025-01-26", 2: "2025-03-03", 3: None, 4: "2025-04-20", 5: "2025-07-10", 6: "2025-06-30",
            7: "2025-06-25", 8: "2025-08-20"}

    def paid_on(i, due):
        month = i + 1
        return paid[month] if month in paid else due - pd.Timedelta(days=5)

    b.schedule(pid, paid=paid_on)
    return b.build(), pid


def test_payment_history_at_july_first(ledger):
    tables, pid = ledger
    f = features_of(tables, "2025-07-01", pid, families=["payment_history"])
    expected = {
        "tenure_months": 5, "age_years": 45,
        "installments_due_3m": 3, "paid_on_time_3m": 2, "paid_late_3m": 0, "missed_3m": 1,
        "installments_due_6m": 6, "paid_on_time_6m": 3, "paid_late_6m": 1, "missed_6m": 2,
        "installments_due_12m": 6, "paid_on_time_12m": 3, "paid_late_12m": 1, "missed_12m": 2,
        # days late: Jan 0, Feb 3, Mar 92 so far, Apr 0, May 31 so far, Jun 0
        "mean_days_late_12m": 126 / 6, "max_days_late_12m": 92,
        "lapses_last_4": 2,  # Mar, Apr, May, Jun: Mar and May
        "arrears_installments": 2, "arrears_months": 2, "arrears_vnd": 660_000,
        "on_time_streak": 1,
        "months_since_last_payment": 0,  # Jun paid 06-30
        "mode_monthly": 1, "mode_quarterly": 0, "mode_annual": 0,
        "income_base_vnd": 1_500_000, "income_base_downgrades": 0,
        "makeup_payments_12m": 1,  # Feb's, received 03-03
        "suspensions_total": 2,  # Feb-Mar in a row, then May
        "paid_months_total": 5,  # Jan, Feb, Apr, Jun, Jul
        # a woman of 45 (pension age 56: 11 years) with 5 of the 180 required months paid: 14.6 years
        "years_to_pension": 14.6,
        # the oldest unpaid installment, March's, was due 03-31: 3 whole months to 07-01
        "months_in_arrears": 3, "behind_on_payments": 0,  # June's was paid
        # paid on 01-26, 03-03, 04-20, 06-25 (July's, ahead), 06-30: 5 days, the first 01-26
        "payment_days_total": 5, "months_since_first_payment": 5,
        # days before the deadline of those due and paid by as_of: Jan 5, Feb -3, Apr 10, Jun 0
        "payment_margin_days_12m": 3.0, "payment_margin_trend_days": -3.0,
    }
    for name, value in expected.items():
        assert f[name] == pytest.approx(value), name


def test_payment_history_a_month_later(ledger):
    tables, pid = ledger
    f = features_of(tables, "2025-08-01", pid, families=["payment_history"])
    # May's make-up payment (07-10) is now known; Jul was paid early.
    assert (f["installments_due_3m"], f["paid_on_time_3m"], f["paid_late_3m"], f["missed_3m"]) == (3, 2, 1, 0)
    assert f["arrears_installments"] == 1
    assert f["makeup_payments_12m"] == 2
    assert f["on_time_streak"] == 2
    assert f["max_days_late_12m"] == 123  # Mar still unpaid: 08-01 - 03-31


def test_deadline_day_is_not_yet_past_due(ledger):
    tables, pid = ledger
    on_deadline = features_of(tables, "2025-03-31", pid, families=["payment_history"])
    after = features_of(tables, "2025-04-01", pid, families=["payment_history"])
    assert on_deadline["installments_due_3m"] == 2  # Mar's deadline is today: outcome unknown
    assert after["installments_due_3m"] == 3 and after["missed_3m"] == 1


def test_downgrade_and_mode_from_the_schedule():
    b = TablesBuilder(extracted_on="2025-12-31")
    pid = b.participant(enrolled_on="2024-01-01", payment_mode="quarterly", income_base=3_000_000)
    b.schedule(pid, until="2024-12-31")
    b.schedule(pid, start="2025-01-01", income_base=2_000_000, months_covered=1)
    f = features_of(b.build(), "2025-02-15", pid, families=["payment_history"])
    assert f["income_base_downgrades"] == 1
    assert f["income_base_vnd"] == 2_000_000
    assert (f["mode_monthly"], f["mode_quarterly"]) == (1, 0)
    before = features_of(b.build(), "2024-12-15", pid, families=["payment_history"])
    assert before["income_base_downgrades"] == 0 and before["mode_quarterly"] == 1


def test_never_paid_is_empty_not_zero():
    b = TablesBuilder(extracted_on="2025-12-31")
    pid = b.participant(enrolled_on="2025-05-01")
    b.schedule(pid, paid="never")
    f = features_of(b.build(), "2025-06-15", pid, families=["payment_history"])
    assert np.isnan(f["months_since_last_payment"])
    assert f["missed_3m"] == 1 and f["on_time_streak"] == 0 and f["paid_months_total"] == 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_vectorised_equals_naive_reference(seed):
    tables = random_tables(seed, 30)
    for as_of in ["2022-04-15", "2024-01-01", "2025-07-01", "2025-12-31"]:
        ours = build_features(tables, [as_of], families=["payment_history"]).set_index("participant_id")
        ref = payment_history_reference(tables, pd.Timestamp(as_of)).set_index("participant_id")
        got = ours.loc[ref.index, ref.columns].astype(float)
        np.testing.assert_allclose(got.to_numpy(), ref.astype(float).to_numpy(), rtol=1e-6, err_msg=as_of)


def test_years_to_pension_takes_the_later_of_age_and_paid_years():
    from dropout.features.payment_history import years_to_pension
    from dropout.reference import contribution_rules

    rules = contribution_rules()  # pension age F 56, M 61; 15 years of contributions
    got = years_to_pension(rules, np.array([True, False, False, True]), np.array([50, 50, 70, 30]),
                           np.array([170, 170, 180, 0]))
    # F 50: 6 to age, 10/12 to paid -> 6; M 50: 11; M 70 with 15 years paid -> 0; F 30: 26 vs 15 -> 26
    np.testing.assert_allclose(got, [6.0, 11.0, 0.0, 26.0])


def test_behind_now_versus_old_gaps(ledger):
    """At 06-01 May's installment (due 05-31) is unpaid: behind; at 07-01 only old gaps remain."""
    tables, pid = ledger
    june = features_of(tables, "2025-06-01", pid, families=["payment_history"])
    assert june["behind_on_payments"] == 1 and june["arrears_installments"] == 2  # March and May
    july = features_of(tables, "2025-07-01", pid, families=["payment_history"])
    assert july["behind_on_payments"] == 0 and july["arrears_installments"] == 2
    assert np.isnan(june["payment_margin_trend_days"])  # May's margin is not known yet
