"""Evaluation metrics for risk scores: discrimination, calibration, capacity and groups.

Capacity metrics mirror how lists are used: an officer receives, for one as_of date,
the top k % of participants (or the top N in each district) and visits them. So
rankings are made *within* each as-of date (and district), never across dates, and
pooled afterwards. Ties are broken by a seeded random order, so a 0/1 rule is not
favoured or penalised by the order rows happen to arrive in.

ECE (expected calibration error) uses equal-width probability bins (Guo et al. 2017):
sum over bins of (share of rows in bin) x |mean predicted - observed rate|.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

TIE_SEED = 20240101


def _arrays(y, p):
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d of equal length, got {y.shape} and {p.shape}")
    return y, p


def ece(y, p, n_bins: int = 10) -> float:
    """Expected calibration error over `n_bins` equal-width bins of [0, 1]."""
    y, p = _arrays(y, p)
    if len(y) == 0:
        return float("nan")
    b = np.minimum((np.clip(p, 0, 1) * n_bins).astype(int), n_bins - 1)
    sp = np.bincount(b, weights=p, minlength=n_bins)
    sy = np.bincount(b, weights=y, minlength=n_bins)
    return float(np.abs(sp - sy).sum() / len(y))


def calibration_table(y, p, n_bins: int = 10) -> pd.DataFrame:
    """Per equal-width bin: rows, mean predicted probability, observed rate."""
    y, p = _arrays(y, p)
    b = np.minimum((np.clip(p, 0, 1) * n_bins).astype(int), n_bins - 1)
    df = pd.DataFrame({"bin": b, "p": p, "y": y}).groupby("bin").agg(n=("y", "size"), mean_pred=("p", "mean"), observed=("y", "mean"))
    return df.reset_index()


def safe_auc(y, p) -> float:
    y = np.asarray(y)
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def safe_pr_auc(y, p) -> float:
    y = np.asarray(y)
    return float(average_precision_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def binary_metrics(y, p, n_bins: int = 10, probabilistic: bool = True) -> dict[str, float]:
    """ROC-AUC, PR-AUC (average precision), and for probabilities Brier and ECE."""
    y, p = _arrays(y, p)
    out = {
        "n": float(len(y)),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "auc": safe_auc(y, p),
        "pr_auc": safe_pr_auc(y, p),
    }
    if probabilistic:
        out["mean_pred"] = float(p.mean()) if len(p) else float("nan")
        out["brier"] = float(brier_score_loss(y, p)) if len(y) else float("nan")
        out["ece"] = ece(y, p, n_bins)
    return out


# ---------------------------------------------------------------- rankings within lists


def _codes(by) -> np.ndarray:
    if isinstance(by, pd.DataFrame):
        return by.groupby(list(by.columns), sort=True, observed=True).ngroup().to_numpy()
    return pd.factorize(pd.Series(np.asarray(by)), sort=True)[0]


def rank_within(score, by) -> tuple[np.ndarray, np.ndarray]:
    """(rank from 0 = riskiest, size of the list) of each row within its list `by`."""
    score = np.asarray(score, dtype=float)
    codes = _codes(by)
    tie = np.random.default_rng(TIE_SEED).random(len(score))
    order = np.lexsort((tie, -np.nan_to_num(score, nan=-np.inf), codes))
    sizes = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(score), dtype=np.int64)
    rank[order] = np.arange(len(score)) - starts[codes[order]]
    return rank, sizes[codes]


def select_top_percent(score, by, k: float) -> np.ndarray:
    """Boolean mask: the top `k` % of each list (at least one row per list)."""
    rank, size = rank_within(score, by)
    return rank < np.maximum(np.ceil(size * k / 100.0), 1)


def select_top_n(score, by, n: int) -> np.ndarray:
    rank, _ = rank_within(score, by)
    return rank < n


def precision_recall(y, selected) -> tuple[float, float]:
    y = np.asarray(y, dtype=float)
    selected = np.asarray(selected, dtype=bool)
    hits = float(y[selected].sum())
    prec = hits / selected.sum() if selected.any() else float("nan")
    rec = hits / y.sum() if y.sum() > 0 else float("nan")
    return prec, rec


def lift_curve(y, score, by, points: int = 50) -> pd.DataFrame:
    """Cumulative gain and lift when the top fraction f of every list is selected."""
    y = np.asarray(y, dtype=float)
    rank, size = rank_within(score, by)
    fractions = np.linspace(1.0 / points, 1.0, points)
    n_sel = np.empty(points)
    hits = np.empty(points)
    for i, f in enumerate(fractions):  # a loop over 50 fractions, vectorised over rows
        sel = rank < np.ceil(f * size - 1e-9)
        n_sel[i], hits[i] = sel.sum(), y[sel].sum()
    total = max(y.sum(), 1e-12)
    gain = hits / total
    base = y.mean() if len(y) else float("nan")
    precision = np.where(n_sel > 0, hits / np.maximum(n_sel, 1), np.nan)
    return pd.DataFrame({"fraction": fractions, "gain": gain, "precision": precision, "lift": precision / base})


def capacity_metrics(y, score, as_of, district, top_k_percent=(5, 10, 20), top_n_per_district=(20, 50)) -> dict[str, float]:
    """Precision, recall and lift at the top k % of each as-of list and top N per district list."""
    y = np.asarray(y, dtype=float)
    base = y.mean() if len(y) else float("nan")
    out: dict[str, float] = {}
    by_date = pd.Series(pd.to_datetime(np.asarray(as_of)))
    for k in top_k_percent:
        prec, rec = precision_recall(y, select_top_percent(score, by_date, k))
        tag = f"{k:g}pct"
        out[f"precision_at_{tag}"], out[f"recall_at_{tag}"] = prec, rec
        out[f"lift_at_{tag}"] = prec / base if base and base > 0 else float("nan")
    by_district = pd.DataFrame({"as_of": by_date.to_numpy(), "district": np.asarray(district)})
    for n in top_n_per_district:
        prec, rec = precision_recall(y, select_top_n(score, by_district, n))
        out[f"precision_at_top{n}_per_district"], out[f"recall_at_top{n}_per_district"] = prec, rec
    return out


# ---------------------------------------------------------------- groups (fairlearn)


def _count(y, p):
    return float(len(y))


def _base_rate(y, p):
    return float(np.mean(y)) if len(y) else float("nan")


def _mean_pred(y, p):
    return float(np.mean(p)) if len(p) else float("nan")


def _brier(y, p):
    return float(np.mean((np.asarray(p, float) - np.asarray(y, float)) ** 2)) if len(y) else float("nan")


def _selection_rate(y, s):
    return float(np.mean(s)) if len(s) else float("nan")


GROUP_COLUMNS = ["n", "base_rate", "mean_pred", "auc", "pr_auc", "brier", "ece", "precision", "recall",
                 "selection_rate"]


def group_metrics(y, p, selected, sensitive: pd.DataFrame, n_bins: int = 10) -> dict[str, pd.DataFrame]:
    """Per sensitive column, a fairlearn MetricFrame of score and selection metrics by group.

    Args:
        y: labels; p: calibrated probabilities; selected: the capacity selection (bool).
        sensitive: one column per grouping (ethnic_group, province, sex, poverty_status).
    Returns:
        {column: DataFrame indexed by group with n, base_rate, mean_pred, auc, pr_auc,
        brier, ece, precision, recall, selection_rate}
    """
    from fairlearn.metrics import MetricFrame

    y = np.asarray(y, dtype=float)
    # Probability and selection travel together as one 2-column y_pred, and one metric
    # function returns all ten numbers: fairlearn re-stacks its inputs row by row for
    # every metric it calls, which at millions of rows cost more than the metrics.
    both = np.column_stack([np.asarray(p, dtype=float), np.asarray(selected, dtype=bool).astype(float)])

    def all_metrics(y_true, pred):
        score, chosen = pred[:, 0], pred[:, 1] > 0.5
        prec, rec = precision_recall(y_true, chosen)
        return (_count(y_true, score), _base_rate(y_true, score), _mean_pred(y_true, score),
                safe_auc(y_true, score), safe_pr_auc(y_true, score), _brier(y_true, score),
                ece(y_true, score, n_bins), prec, rec, _selection_rate(y_true, chosen))

    out = {}
    for col in sensitive.columns:
        groups = pd.Series(sensitive[col].astype(str).to_numpy(), name=col)
        frame = MetricFrame(metrics={"all": all_metrics}, y_true=y, y_pred=both, sensitive_features=groups)
        values = frame.by_group["all"]
        out[col] = pd.DataFrame(values.tolist(), index=values.index, columns=GROUP_COLUMNS).astype(float)
    return out


def oracle_fraction(model: dict, oracle: dict) -> dict[str, float]:
    """Model quality as a fraction of the oracle's (AUC, PR-AUC; Brier skill as oracle/model)."""
    out = {}
    for k in ("auc", "pr_auc"):
        if k in model and k in oracle and oracle[k] and not math.isnan(oracle[k]):
            out[f"{k}_fraction_of_oracle"] = model[k] / oracle[k]
    if model.get("brier") and oracle.get("brier"):
        out["brier_oracle_over_model"] = oracle["brier"] / model["brier"]
    return out
