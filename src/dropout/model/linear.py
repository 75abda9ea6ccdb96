"""A logistic regression blended with the trees, with the catalog's monotone signs.

`LinearBase` is a plain logistic regression on the model's features: empty values take
the column's training median and get a missing-value indicator, everything is
standardised, coefficients are L2-penalised (C as scikit-learn's) and, for features the
catalog marks monotone, bounded to the catalog's sign (so the model's response to, say,
the net cost never turns the wrong way). It is fitted by L-BFGS-B with an analytic
gradient.

The model's log-odds are (1 - w) x the trees' + w x the line's, w tuned inside the
training window (train/tuning.py): the line carries the many small additive effects a
few hundred shallow trees learn slowly from a district's data, the trees the bends and
interactions. Every part is additive in the log-odds, so a person's reasons stay exact:
a feature's contribution is (1 - w) x its tree SHAP value + w x its linear term coef x
standardised value (and its indicator's); the intercept joins the bias. Stored as plain
JSON, never pickled.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class LinearBase:
    """Monotone-signed logistic regression on a float feature matrix (NaN = empty).

    Args:
        monotone: per feature -1 / 0 / +1 (the sign the coefficient must have; 0 free).
        C: inverse L2 strength, as in scikit-learn's LogisticRegression.
    """

    def __init__(self, monotone: list[int], C: float = 1.0, max_iter: int = 500):
        self.monotone = [int(m) for m in monotone]
        self.C = float(C)
        self.max_iter = int(max_iter)

    # ------------------------------------------------------------------ design

    def _design(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(standardised imputed values, standardised indicators of the columns that had gaps)."""
        X = np.asarray(X, dtype=np.float64)
        miss = ~np.isfinite(X)
        filled = np.where(miss, self.median_, X)
        z = (filled - self.mean_) / self.scale_
        ind = (miss[:, self.indicator_cols_].astype(np.float64) - self.ind_mean_) / self.ind_scale_
        return z, ind

    # ------------------------------------------------------------------ fit

    def fit(self, X: np.ndarray, y: np.ndarray) -> "LinearBase":
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.monotone) or len(y) != len(X):
            raise ValueError(f"LinearBase: X {X.shape} and y {y.shape} do not fit {len(self.monotone)} features")
        miss = ~np.isfinite(X)
        with np.errstate(all="ignore"):
            med = np.nanmedian(np.where(miss, np.nan, X), axis=0)
        self.median_ = np.where(np.isfinite(med), med, 0.0)
        filled = np.where(miss, self.median_, X)
        self.mean_ = filled.mean(axis=0)
        sd = filled.std(axis=0)
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        self.indicator_cols_ = np.flatnonzero(miss.any(axis=0))
        ind = miss[:, self.indicator_cols_].astype(np.float64)
        self.ind_mean_ = ind.mean(axis=0)
        isd = ind.std(axis=0)
        self.ind_scale_ = np.where(isd > 1e-12, isd, 1.0)
        z, indz = self._design(X)
        D = np.hstack([z, indz])
        n, k = D.shape
        lam = 1.0 / (self.C * n)
        base = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))

        def loss(theta):
            w, b = theta[:k], theta[k]
            m = D @ w + b
            # mean log-loss, stably: log(1 + e^m) - y m
            value = np.mean(np.logaddexp(0.0, m) - y * m) + 0.5 * lam * (w @ w)
            r = _sigmoid(m) - y
            grad = np.append(D.T @ r / n + lam * w, r.mean())
            return value, grad

        bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in self.monotone]
        bounds += [(None, None)] * (k - len(self.monotone) + 1)
        theta0 = np.zeros(k + 1)
        theta0[k] = np.log(base / (1 - base))
        res = minimize(loss, theta0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": self.max_iter})
        n_f = len(self.monotone)
        self.coef_ = res.x[:n_f]
        self.ind_coef_ = res.x[n_f:k]
        self.intercept_ = float(res.x[k])
        self.converged_ = bool(res.success)
        return self

    # ------------------------------------------------------------------ predict

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of each row."""
        z, ind = self._design(X)
        return z @ self.coef_ + ind @ self.ind_coef_ + self.intercept_

    def contributions(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """Per row and feature, its part of the log-odds (value and indicator terms), and the intercept."""
        z, ind = self._design(X)
        out = z * self.coef_
        if len(self.indicator_cols_):
            out[:, self.indicator_cols_] += ind * self.ind_coef_
        return out, self.intercept_

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict:
        return {
            "kind": "logistic", "monotone": self.monotone, "C": self.C,
            "median": self.median_.tolist(), "mean": self.mean_.tolist(), "scale": self.scale_.tolist(),
            "indicator_cols": self.indicator_cols_.tolist(), "ind_mean": self.ind_mean_.tolist(),
            "ind_scale": self.ind_scale_.tolist(), "coef": self.coef_.tolist(),
            "ind_coef": self.ind_coef_.tolist(), "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "LinearBase":
        if d.get("kind") != "logistic":
            raise ValueError(f"linear.json: unknown kind {d.get('kind')!r}")
        obj = cls(d["monotone"], d["C"])
        n = len(obj.monotone)
        arrays = {k: np.asarray(d[k], dtype=np.float64) for k in ("median", "mean", "scale", "coef")}
        if any(len(v) != n for v in arrays.values()):
            raise ValueError(f"linear.json: arrays do not all have {n} entries (one per feature)")
        cols = np.asarray(d["indicator_cols"], dtype=np.int64)
        ind = {k: np.asarray(d[k], dtype=np.float64) for k in ("ind_mean", "ind_scale", "ind_coef")}
        if any(len(v) != len(cols) for v in ind.values()) or (len(cols) and (cols.min() < 0 or cols.max() >= n)):
            raise ValueError("linear.json: indicator arrays do not fit their columns")
        values = [*arrays.values(), *ind.values(), np.array([d["intercept"]], dtype=np.float64)]
        if not all(np.isfinite(v).all() for v in values) or (arrays["scale"] <= 0).any() or (ind["ind_scale"] <= 0).any():
            raise ValueError("linear.json: a value is not finite, or a scale is not positive")
        obj.median_, obj.mean_, obj.scale_, obj.coef_ = (arrays[k] for k in ("median", "mean", "scale", "coef"))
        obj.indicator_cols_ = cols
        obj.ind_mean_, obj.ind_scale_, obj.ind_coef_ = (ind[k] for k in ("ind_mean", "ind_scale", "ind_coef"))
        obj.intercept_ = float(d["intercept"])
        obj.converged_ = True
        return obj
