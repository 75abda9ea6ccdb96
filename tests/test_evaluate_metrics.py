"""Metrics on hand-made scores with hand-computed answers."""

import numpy as np
import pandas as pd
import pytest

from dropout.evaluate.metrics import (
    binary_metrics,
    capacity_metrics,
    ece,
    group_metrics,
    lift_curve,
    oracle_fraction,
    rank_within,
    select_top_n,
    select_top_percent,
)


def test_ece_hand_computed():
    # bin [0.1,0.2): p 0.1, 0.1 with y 0, 1 -> |0.2 - 1| ; bin [0.9,1]: p 0.9, y 1 -> |0.9 - 1|
    y = np.array([0, 1, 1])
    p = np.array([0.1, 0.1, 0.9])
    assert ece(y, p, 10) == pytest.approx((abs(0.2 - 1) + abs(0.9 - 1)) / 3)
    assert ece(np.array([0, 1]), np.array([0.5, 0.5])) == pytest.approx(0.0)
    assert ece(np.array([1]), np.array([1.0])) == pytest.approx(0.0)  # p = 1 falls in the last bin


def test_binary_metrics_known_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    m = binary_metrics(y, p)
    assert m["auc"] == pytest.approx(0.75)
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert np.isnan(binary_metrics(np.array([1, 1]), np.array([0.2, 0.3]))["auc"])


def test_rankings_are_within_each_list():
    score = np.array([0.9, 0.1, 0.5, 0.3, 0.2, 0.8])
    by = np.array(["a", "a", "a", "b", "b", "b"])
    rank, size = rank_within(score, by)
    assert rank.tolist() == [0, 2, 1, 1, 2, 0] and size.tolist() == [3] * 6
    assert select_top_percent(score, by, 34).tolist() == [True, False, True, True, False, True]  # ceil(1.02) = 2
    assert select_top_n(score, by, 1).tolist() == [True, False, False, False, False, True]


def test_capacity_metrics_hand_computed():
    as_of = pd.to_datetime(["2025-01-01"] * 4 + ["2025-02-01"] * 4)
    district = ["X", "X", "Y", "Y"] * 2
    y = np.array([1, 0, 0, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.8, 0.7, 0.1, 0.9, 0.2, 0.3, 0.1])
    m = capacity_metrics(y, s, as_of, district, top_k_percent=(25, 50), top_n_per_district=(1,))
    # top 25 % of each date: one row each -> rows 0 (y=1) and 4 (y=0)
    assert m["precision_at_25pct"] == pytest.approx(0.5) and m["recall_at_25pct"] == pytest.approx(1 / 3)
    # top 50 %: rows 0, 1 and 4, 6 -> hits 2 of 4
    assert m["precision_at_50pct"] == pytest.approx(0.5) and m["lift_at_50pct"] == pytest.approx(0.5 / (3 / 8))
    # top 1 per (date, district): rows 0, 2, 4, 6 -> hits 0 and 6
    assert m["precision_at_top1_per_district"] == pytest.approx(0.5)
    assert m["recall_at_top1_per_district"] == pytest.approx(2 / 3)


def test_lift_curve_ends_at_full_gain():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 1000)
    s = y + rng.normal(0, 0.5, 1000)
    lc = lift_curve(y, s, np.repeat([0, 1], 500), points=20)
    assert lc["gain"].iloc[-1] == pytest.approx(1.0) and lc["lift"].iloc[-1] == pytest.approx(1.0)
    assert (np.diff(lc["gain"]) >= 0).all() and lc["lift"].iloc[0] > 1.5


def test_group_metrics_by_sensitive_column():
    rng = np.random.default_rng(1)
    n = 400
    y = rng.integers(0, 2, n)
    p = np.clip(y * 0.3 + rng.random(n) * 0.6, 0, 1)
    sens = pd.DataFrame({"sex": rng.choice(["F", "M"], n), "ethnic_group": rng.choice(["Kinh", "minority"], n)})
    sel = p > np.quantile(p, 0.9)
    g = group_metrics(y, p, sel, sens)
    assert set(g) == {"sex", "ethnic_group"}
    f = g["sex"]
    assert list(f.index) == ["F", "M"]
    assert {"auc", "pr_auc", "brier", "ece", "precision", "recall", "selection_rate", "n"} <= set(f.columns)
    mask = sens["sex"].to_numpy() == "F"
    assert f.loc["F", "n"] == mask.sum()
    assert f.loc["F", "precision"] == pytest.approx(y[mask & sel].mean())
    from sklearn.metrics import roc_auc_score

    assert f.loc["M", "auc"] == pytest.approx(roc_auc_score(y[~mask], p[~mask]))
    assert f.loc["M", "brier"] == pytest.approx(np.mean((p[~mask] - y[~mask]) ** 2))
    assert f.loc["M", "selection_rate"] == pytest.approx(sel[~mask].mean())
    assert f.loc["F", "base_rate"] == pytest.approx(y[mask].mean())


def test_oracle_fraction():
    frac = oracle_fraction({"auc": 0.76, "pr_auc": 0.4, "brier": 0.11}, {"auc": 0.8, "pr_auc": 0.5, "brier": 0.1})
    assert frac["auc_fraction_of_oracle"] == pytest.approx(0.95)
    assert frac["pr_auc_fraction_of_oracle"] == pytest.approx(0.8)
