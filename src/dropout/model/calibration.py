"""Probability calibration fitted on the validation slice, stored as plain JSON.

Both calibrators are non-decreasing maps from the booster's raw probability to a
calibrated one, clipped to [0, 1]. Because they never reverse the order of two scores,
ranking metrics are unchanged (up to ties for isotonic) and the sign of every
`pred_contrib` term keeps its meaning after calibration.

- isotonic: the pool-adjacent-violators fit of scikit-learn, kept as its breakpoints
  (x, y) and applied with linear interpolation, exactly as `IsotonicRegression` does.
- platt: sigmoid(a * logit(p) + b) with a > 0 (a logistic regression on the logit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from dropout.maths import logit

_EPS = 1e-7


def _logit(p: np.ndarray) -> np.ndarray:
    return logit(p, _EPS)


def _numbers(values, name: str) -> list[float]:
    """JSON numbers only (not strings such as "Infinity"), all finite."""
    if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise ValueError(f"calibration JSON: {name} must be a number or a list of numbers")
    out = [float(v) for v in values]
    if not np.all(np.isfinite(out)):
        raise ValueError(f"calibration JSON: {name} holds a value that is not finite")
    return out


@dataclass
class Calibrator:
    """A monotone map raw probability -> calibrated probability (JSON-serialisable)."""

    method: str = "isotonic"
    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    a: float = 1.0
    b: float = 0.0

    def fit(self, raw: np.ndarray, label: np.ndarray) -> "Calibrator":
        raw = np.asarray(raw, dtype=float)
        label = np.asarray(label, dtype=float)
        if raw.shape != label.shape or raw.ndim != 1:
            raise ValueError(f"calibration: raw and label must be 1-d of equal length, got {raw.shape} and {label.shape}")
        if len(np.unique(label)) < 2:
            raise ValueError("calibration: the validation slice holds only one class; cannot calibrate")
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
            iso.fit(raw, label)
            self.x = [float(v) for v in iso.X_thresholds_]
            self.y = [float(v) for v in iso.y_thresholds_]
        elif self.method == "platt":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6, solver="lbfgs", max_iter=1000)
            lr.fit(_logit(raw).reshape(-1, 1), label)
            self.a = float(max(lr.coef_[0, 0], 1e-6))  # keep the map increasing
            self.b = float(lr.intercept_[0])
        else:
            raise ValueError(f"calibration method {self.method!r} is unknown; use 'isotonic' or 'platt'")
        return self

    def transform(self, raw: np.ndarray) -> np.ndarray:
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic":
            if not self.x:
                raise ValueError("calibration: isotonic calibrator is not fitted")
            out = np.interp(raw, self.x, self.y)
        else:
            out = 1.0 / (1.0 + np.exp(-(self.a * _logit(raw) + self.b)))
        return np.clip(out, 0.0, 1.0)

    def to_dict(self) -> dict:
        if self.method == "isotonic":
            return {"method": "isotonic", "x": self.x, "y": self.y}
        return {"method": "platt", "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, d: dict) -> "Calibrator":
        """Read the JSON form back; refuse non-numbers, non-finite or out-of-range values
        (a calibration with a=Infinity would score everyone 0 without a word)."""
        if not isinstance(d, dict):
            raise ValueError("calibration JSON: not an object")
        method = d.get("method")
        if method == "isotonic":
            x, y = _numbers(d.get("x"), "x"), _numbers(d.get("y"), "y")
            if len(x) != len(y) or len(x) == 0:
                raise ValueError("calibration JSON: isotonic x and y must be non-empty and of equal length")
            if np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
                raise ValueError("calibration JSON: isotonic breakpoints are not non-decreasing")
            if min(x + y) < 0 or max(x + y) > 1:
                raise ValueError("calibration JSON: isotonic breakpoints must be probabilities within 0-1")
            return cls(method="isotonic", x=x, y=y)
        if method == "platt":
            a, b = _numbers([d.get("a")], "a")[0], _numbers([d.get("b")], "b")[0]
            if not 0 < a <= 1e3:
                raise ValueError(f"calibration JSON: platt slope a={a} must be > 0 (and at most 1000)")
            if abs(b) > 1e3:
                raise ValueError(f"calibration JSON: platt intercept b={b} must be within -1000 to 1000")
            return cls(method="platt", a=a, b=b)
        raise ValueError(f"calibration JSON: unknown method {method!r}")

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1)
