"""Data drift: how far a run's feature values and predictions moved from the training reference.

Two measures per feature, both against the reference kept with the model
(`monitor.reference`):

- **PSI** (population stability index) over the reference's decile bins:
  `PSI = sum_b (c_b - r_b) ln(c_b / r_b)`, with `r_b`, `c_b` the reference and current
  shares of bin b (missing values are a bin of their own; shares are floored at
  `EPS` so an empty bin does not make it infinite). Rule of thumb: < 0.1 stable,
  0.1-0.25 moderate, > 0.25 a shift.
- **Normalised Wasserstein distance**: the earth mover's distance between the two
  distributions (the mean absolute gap between their quantile functions), divided by
  the reference's standard deviation, so 0.1 reads "a tenth of a standard deviation".
  PSI misses moves inside a bin; this sees them, and says how far.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-4
N_QUANTILES = 101  # quantile grid kept in the reference for the distance


def bin_edges(values, n_bins: int = 10) -> list[float]:
    """Inner bin edges from the quantiles of `values` (NaN ignored); few distinct values
    give one bin each (edges half-way between them)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return []
    distinct = np.unique(v)
    if len(distinct) <= n_bins:
        return ((distinct[:-1] + distinct[1:]) / 2).tolist()
    edges = np.unique(np.quantile(v, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return edges.tolist()


def bin_shares(values, edges) -> np.ndarray:
    """Shares of `values` in the bins cut at `edges` (len(edges)+1 bins) plus a last bin
    for missing values; sums to 1 (all zeros for no values)."""
    v = np.asarray(values, dtype=np.float64)
    missing = ~np.isfinite(v)
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), v[~missing], side="right")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    counts = np.append(counts, missing.sum())
    total = counts.sum()
    return counts / total if total else counts


def psi(reference_shares, current_shares, eps: float = EPS) -> float:
    """Population stability index between two share vectors over the same bins."""
    r = np.maximum(np.asarray(reference_shares, dtype=np.float64), eps)
    c = np.maximum(np.asarray(current_shares, dtype=np.float64), eps)
    if r.shape != c.shape:
        raise ValueError(f"psi: {r.shape[0]} reference bins but {c.shape[0]} current bins")
    return float(np.sum((c - r) * np.log(c / r)))


def quantile_grid(values, n: int = N_QUANTILES) -> list[float]:
    """The n quantiles (0..1) of the finite values (empty list when there are none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return np.quantile(v, np.linspace(0, 1, n)).tolist() if len(v) else []


def wasserstein(reference_quantiles, values, scale: float | None = None) -> float:
    """Earth mover's distance between a reference (its quantile grid) and `values`,
    divided by `scale` (the reference's standard deviation) when it is positive.

    0 for identical distributions; a shift of every value by d gives d / scale.
    """
    q_ref = np.asarray(reference_quantiles, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(q_ref) == 0 or len(v) == 0:
        return float("nan")
    q_cur = np.quantile(v, np.linspace(0, 1, len(q_ref)))
    # The mean gap between quantile functions, by the trapezoid rule on the grid.
    gap = np.abs(q_cur - q_ref)
    d = float(np.mean((gap[:-1] + gap[1:]) / 2)) if len(gap) > 1 else float(gap[0])
    if scale is not None and scale > 0:
        d /= scale
    return d


def describe(values, n_bins: int = 10) -> dict:
    """What the reference keeps of one column: bins, shares, quantiles, mean, std."""
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    edges = bin_edges(finite, n_bins)
    return {
        "edges": edges,
        "shares": bin_shares(v, edges).tolist(),
        "quantiles": quantile_grid(finite),
        "mean": float(finite.mean()) if len(finite) else None,
        "std": float(finite.std()) if len(finite) else None,
        "missing": float((~np.isfinite(v)).mean()) if len(v) else 0.0,
    }


def column_drift(reference: dict, values) -> dict:
    """PSI and the normalised distance of `values` against one column of the reference."""
    shares = bin_shares(values, reference["edges"])
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    return {
        "psi": psi(reference["shares"], shares),
        "distance": wasserstein(reference["quantiles"], finite, reference.get("std")),
        "mean": float(finite.mean()) if len(finite) else None,
        "reference_mean": reference.get("mean"),
    }
