"""Small helpers the scenario modules share: months from YAML, checks that name the knob."""

from __future__ import annotations

import numpy as np

from dropout.errors import ConfigError


def month_index(value: str, calendar, where: str) -> int:
    """A 'YYYY-MM' knob as a month index of the run (may lie outside the window)."""
    try:
        month = np.datetime64(str(value)[:7], "M")
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a month like 2023-06") from None
    return int(month.astype(np.int64)) - calendar.m0


def draw_month(rng: np.random.Generator, between: list[str], calendar, where: str) -> int:
    """A month drawn uniformly in [first, last] (both 'YYYY-MM'), clipped to the simulated months."""
    if len(between) != 2:
        raise ConfigError(f"{where}: expected [first month, last month], got {between!r}")
    lo, hi = (month_index(v, calendar, where) for v in between)
    if hi < lo:
        raise ConfigError(f"{where}: {between[1]!r} is before {between[0]!r}")
    lo, hi = max(lo, 0), min(hi, calendar.n_total - 1)
    if hi < lo:
        return calendar.n_total  # entirely outside the run: never happens
    return int(rng.integers(lo, hi + 1))


def check_range(value: float, lo: float, hi: float, where: str) -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{where}: {value!r} is not within {lo}-{hi}")


def check_pair(values: list, where: str, lo: float = 0.0, hi: float = float("inf")) -> None:
    """A [low, high] knob with lo <= low <= high <= hi."""
    if len(values) != 2 or not lo <= values[0] <= values[1] <= hi:
        raise ConfigError(f"{where}: expected [low, high] with {lo} <= low <= high <= {hi}, got {values!r}")


def check_months(values: list[float], where: str) -> np.ndarray:
    """Twelve non-negative numbers, January to December, scaled to mean 1."""
    a = np.asarray(values, dtype=float)
    if a.shape != (12,) or (a < 0).any() or a.sum() <= 0:
        raise ConfigError(f"{where}: expected 12 non-negative numbers, January to December")
    return a / a.mean()


def check_keys(mapping: dict, allowed, where: str, complete: bool = False) -> None:
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = sorted(set(allowed) - set(mapping))
    if complete and missing:
        raise ConfigError(f"{where}: missing {missing}")


def weighted_choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """`size` distinct positions drawn with probability proportional to `weights` (> 0 where possible)."""
    w = np.asarray(weights, dtype=float)
    size = min(size, int((w > 0).sum()))
    return rng.choice(len(w), size=size, replace=False, p=w / w.sum()) if size else np.empty(0, dtype=np.int64)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
