"""Small numeric helpers shared across stages (one copy each)."""

from __future__ import annotations

import numpy as np


def logit(p, eps: float = 1e-12) -> np.ndarray:
    """log(p / (1 - p)), with p clipped to [eps, 1 - eps] so 0 and 1 stay finite."""
    p = np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def sigmoid(x) -> np.ndarray:
    """1 / (1 + exp(-x)), the inverse of `logit`."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))
