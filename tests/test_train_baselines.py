"""Baselines: hand-made tables with hand-computed history facts; the MBG/NBD behaves."""

import numpy as np
import pandas as pd
import pytest

from dropout.schema import Tables
from dropout.model.baselines import (
    LastInstallmentRule,
    LateCountRule,
    LogisticBaseline,
    RecencyFrequency,
    history_summary,
)
from dropout.train.data import group_columns

D = pd.Timestamp


def _tables() -> Tables:
    participants = pd.DataFrame({
        "participant_id": [11, 22, 33],
        "household_id": [1, 2, 3],
        "village_id": ["v1", "v1", "v2"],
        "sex": ["F", "M", "F"],
        "ethnicity": ["Ta Oi", "Kinh", "Pa Ko"],
        "enrolled_on": [D("2024-01-01"), D("2024-01-01"), D("2024-06-01")],
    })
    # 11 pays monthly, the March installment late; 22 misses April; 33 never pays
    installments = pd.DataFrame({
        "participant_id": [11, 11, 11, 11, 22, 22, 22, 33],
        "due_on": [D("2024-01-31"), D("2024-02-29"), D("2024-03-31"), D("2024-04-30"),
                   D("2024-01-31"), D("2024-02-29"), D("2024-04-30"), D("2024-06-30")],
        "paid_on": [D("2024-01-10"), D("2024-02-10"), D("2024-04-15"), D("2024-04-20"),
                    D("2024-01-20"), D("2024-02-20"), pd.NaT, pd.NaT],
    })
    villages = pd.DataFrame({"village_id": ["v1", "v2"], "commune": ["c1", "c2"], "district": ["A Luoi", "A Luoi"],
                             "province": ["Hue", "Hue"]})
    poverty = pd.DataFrame({
        "household_id": [1, 1, 3], "status": ["poor", "none", "near_poor"],
        "valid_from": [D("2023-01-01"), D("2024-03-15"), D("2024-05-01")],
        "valid_to": [D("2024-03-14"), pd.NaT, D("2024-05-31")],
    })
    empty = pd.DataFrame()
    return Tables(villages, participants, installments, poverty, empty, empty, empty, empty, extracted_on=D("2024-08-01"))


def test_history_summary_hand_computed():
    keys = pd.DataFrame({"participant_id": [11, 11, 11, 22, 22, 33],
                         "as_of": [D("2024-03-01"), D("2024-04-15"), D("2024-05-01"), D("2024-05-01"), D("2024-01-15"), D("2024-07-01")]},
                        index=[10, 11, 12, 13, 14, 15])
    h = history_summary(_tables(), keys)
    assert list(h.index) == [10, 11, 12, 13, 14, 15]
    # 11 on 2024-03-01: last due before is Feb (paid on time); 2 payments; last payment 02-10
    # 11 on 2024-04-15: last due is March, paid 04-15 = not yet known as paid, and after due -> late
    #   (payments strictly before as_of: 2; the 04-15 payment counts from the next day)
    # 11 on 2024-05-01: last due is April, paid 04-20 on time; 4 payments
    # 22 on 2024-05-01: April unpaid -> missed; 2 payments
    # 22 on 2024-01-15: nothing due yet -> 0; no payment yet
    # 33 on 2024-07-01: June unpaid -> missed; no payment
    assert h["last_missed_or_late"].tolist() == [0, 1, 0, 1, 0, 1]
    assert h["late_last_4"].tolist() == [0, 1, 1, 1, 0, 1]  # 11's March stays in its last 4
    assert h["n_payments"].tolist() == [2, 2, 4, 2, 0, 0]
    assert h["months_to_last_payment"].iloc[0] == pytest.approx(40 / 30.4375)  # 2024-01-01 -> 02-10
    assert h["months_to_last_payment"].iloc[4] == 0
    assert h["tenure_months"].iloc[5] == pytest.approx(30 / 30.4375)  # 2024-06-01 -> 07-01


def test_group_columns_hand_computed():
    keys = pd.DataFrame({"participant_id": [11, 11, 22, 33, 33],
                         "as_of": [D("2024-03-01"), D("2024-04-01"), D("2024-04-01"), D("2024-05-10"), D("2024-07-01")]})
    g = group_columns(_tables(), keys)
    assert g["ethnic_group"].tolist() == ["minority", "minority", "Kinh", "minority", "minority"]
    assert g["poverty_status"].tolist() == ["poor", "none", "none", "near_poor", "none"]  # 33's spell ended 05-31
    assert g["district"].tolist() == ["A Luoi"] * 5 and g["sex"].tolist() == ["F", "F", "M", "F", "F"]


def test_rules_score_the_last_installments():
    ctx = pd.DataFrame({"last_missed_or_late": [0, 1, 1], "late_last_4": [0, 3, 1]})
    assert LastInstallmentRule().fit(None, None, context=ctx).score(None, context=ctx).tolist() == [0.0, 1.0, 1.0]
    assert LateCountRule().fit(None, None, context=ctx).score(None, context=ctx).tolist() == [0.0, 3.0, 1.0]


def _rf_context(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    tenure = rng.uniform(3, 48, n)
    x = rng.poisson(tenure * 0.8)
    t_x = np.where(x > 0, tenure - rng.exponential(2, n), 0).clip(0, tenure)
    return pd.DataFrame({"n_payments": x, "months_to_last_payment": t_x, "tenure_months": tenure})


def test_recency_frequency_p_alive_falls_with_recency_gap():
    rf = RecencyFrequency().fit(None, None, context=_rf_context())
    assert all(v > 0 for v in rf.params_.values())
    probe = pd.DataFrame({"n_payments": [20, 20, 20], "tenure_months": [24.0, 24.0, 24.0],
                          "months_to_last_payment": [23.5, 20.0, 12.0]})
    alive = rf.p_alive(probe)
    assert np.all(np.diff(alive) < 0) and np.all((alive > 0) & (alive <= 1))
    assert np.all(np.diff(rf.score(None, context=probe)) > 0)


def test_logistic_baseline_handles_missing_values():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    y = (X["a"] + rng.normal(size=500) > 0).astype(int)
    X.loc[::7, "b"] = np.nan
    X.loc[::11, "a"] = np.inf
    lr = LogisticBaseline(["a", "b"]).fit(X, y)
    s = lr.score(X)
    assert s.shape == (500,) and np.all((s >= 0) & (s <= 1))
    assert np.corrcoef(s[X["a"].abs() < 10], X.loc[X["a"].abs() < 10, "a"])[0, 1] > 0.5
