"""Performance before the outcomes arrive: confidence-based performance estimation (CBPE).

A calibrated model says, for each person, the probability p_i that their installment
will lapse. If it is calibrated on this month's people too, the outcomes are draws
y_i ~ Bernoulli(p_i), and every metric has an expected value we can compute now:

- lapses: E[sum y] = sum p, variance sum p(1-p);
- Brier score: E[(p - y)^2] = mean p(1-p);
- precision at the visit capacity (the k highest risks): mean p of those k; recall:
  sum of their p over sum of all p;
- AUC: the expected share of concordant (lapsed, kept) pairs,
  sum_{i,j} p_i (1-p_j) [s_i > s_j] (+ half for ties) over sum_{i != j} p_i (1-p_j):
  the expected ROC curve of NannyML's CBPE, in closed form.

Uncertainty: the same draws simulated (`n_sims` outcome vectors), each metric computed
on each, and the central `level` interval of the simulated values reported. It is the
sampling noise of a calibrated world; a model that lost its calibration (a regime it
never saw) is wrong by more than that, which is what drift is for.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MAX_CELLS = 20_000_000  # n_sims x people simulated at once; bigger runs simulate fewer draws


@dataclass(frozen=True)
class Estimate:
    """One estimated metric: the point value and its interval."""

    value: float
    low: float
    high: float

    def as_dict(self) -> dict:
        return asdict(self)


def expected_auc(p) -> float:
    """The expected AUC of a calibrated score p against outcomes drawn from p (closed form)."""
    p = np.asarray(p, dtype=np.float64)
    if len(p) < 2:
        return float("nan")
    values, inverse = np.unique(p, return_inverse=True)  # ascending risk groups (ties together)
    a = np.bincount(inverse, weights=p, minlength=len(values))  # expected lapses per group
    b = np.bincount(inverse, weights=1 - p, minlength=len(values))  # expected kept per group
    c = np.bincount(inverse, weights=p * (1 - p), minlength=len(values))  # same-person pairs
    kept_below = np.concatenate([[0.0], np.cumsum(b)[:-1]])
    concordant = float(np.sum(a * kept_below) + 0.5 * np.sum(a * b - c))
    pairs = float(p.sum() * (1 - p).sum() - np.sum(p * (1 - p)))
    return concordant / pairs if pairs > 0 else float("nan")


def _simulated(p: np.ndarray, k: int, n_sims: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Each metric on n_sims outcome vectors drawn from p."""
    from scipy.stats import rankdata

    n = len(p)
    order = np.argsort(-p, kind="stable")
    ranks = rankdata(p)  # ascending, ties averaged
    out: dict[str, list[np.ndarray]] = {m: [] for m in ("auc", "pr_auc", "lapses", "brier", "precision", "recall")}
    batch = max(1, MAX_CELLS // max(n, 1))
    done = 0
    while done < n_sims:
        m = min(batch, n_sims - done)
        y = rng.random((m, n)) < p  # m outcome vectors
        n1 = y.sum(axis=1).astype(np.float64)
        n0 = n - n1
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (y @ ranks - n1 * (n1 + 1) / 2) / (n1 * n0)
            ys = y[:, order]
            hits = np.cumsum(ys, axis=1)
            ap = (ys * hits / np.arange(1, n + 1)).sum(axis=1) / n1
            top = hits[:, k - 1] if k > 0 else np.zeros(m)
            out["precision"].append(top / k if k > 0 else np.full(m, np.nan))
            out["recall"].append(top / n1)
        out["auc"].append(auc)
        out["pr_auc"].append(ap)
        out["lapses"].append(n1)
        out["brier"].append(((p - y) ** 2).mean(axis=1))
        done += m
    return {name: np.concatenate(v) for name, v in out.items()}


def estimate_performance(p, capacity: int | None = None, n_sims: int = 500, level: float = 0.9,
                         seed: int = 0) -> dict[str, Estimate]:
    """Expected metrics of calibrated probabilities `p`, with `level` intervals.

    Args:
        p: calibrated probabilities of lapse, one per person scored.
        capacity: how many people the office can visit (the k highest risks) for
            precision and recall at capacity; default: a tenth of the people.
        n_sims: outcome vectors simulated for the intervals.
    Returns:
        auc, pr_auc, brier, lapses, lapse_rate, precision_at_capacity, recall_at_capacity.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"estimate_performance: p must be a non-empty 1-d array of probabilities, got shape {p.shape}")
    if not np.all((p >= 0) & (p <= 1)):
        raise ValueError("estimate_performance: p must hold probabilities in [0, 1]")
    n = len(p)
    k = int(min(n, capacity if capacity is not None else max(1, round(n / 10))))
    sims = _simulated(p, k, int(n_sims), np.random.default_rng(seed))
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2

    def interval(name: str, value: float) -> Estimate:
        s = sims[name]
        s = s[np.isfinite(s)]
        if len(s) == 0:
            return Estimate(float(value), float("nan"), float("nan"))
        return Estimate(float(value), float(np.quantile(s, lo)), float(np.quantile(s, hi)))

    top = np.sort(p)[::-1][:k]
    lapses = interval("lapses", p.sum())
    return {
        "auc": interval("auc", expected_auc(p)),
        "pr_auc": interval("pr_auc", float(np.nanmean(sims["pr_auc"]))),
        "brier": interval("brier", float(np.mean(p * (1 - p)))),
        "lapses": lapses,
        "lapse_rate": Estimate(lapses.value / n, lapses.low / n, lapses.high / n),
        "precision_at_capacity": interval("precision", float(top.mean()) if k else float("nan")),
        "recall_at_capacity": interval("recall", float(top.sum() / p.sum()) if p.sum() > 0 else float("nan")),
    }
