"""Baselines that every run is compared with, so a report shows what the model adds.

Each baseline has the model interface (`dropout.model`): `fit(X, y, X_val, y_val,
context=..., context_val=...)` and `predict_proba(X, context=...)`, plus `score(X,
context=...)`, its raw ranking score (higher = riskier). `X` holds the model's
features; `context` holds per-row history facts drawn from the raw tables by
`history_summary` (point in time: only what is known at as_of). Given a validation
slice, `fit` calibrates the raw score on it (isotonic), as the model is calibrated on
its own validation slice, so Brier and ECE compare like with like.

- `LastInstallmentRule`: the officer's rule of thumb, "missed or late on the last
  installment that fell due before as_of" (score 1 or 0).
- `LateCountRule`: the same rule over a longer memory, "how many of the last 4
  installments due before as_of were missed or paid late" (0-4). Needed because the
  lapse cohort holds only participants with nothing unpaid past due, and a make-up
  payment usually settles the arrears together with the current installment: the last
  installment alone is then almost never late.
- `RecencyFrequency`: 1 - P(alive) of the MBG/NBD model (Batislam, Denizel & Filiztekin
  2007; the BG/NBD of Fader, Hardie & Lee 2005 with a possible drop-out at time 0), in
  the spirit of "buy 'til you die" models. Enrolment is time 0; a payment is a
  transaction; x = payments made, t_x = months from enrolment to the last payment,
  T = months from enrolment to as_of. Parameters (r, alpha, a, b) by maximum likelihood
  on the training rows.
- `BetaGeoRanking`: P(no payment in the horizon) under the BG/NBD of Fader, Hardie & Lee
  (2005), fitted by maximum likelihood on one row per participant (the calibration
  period ends at their latest training as-of); a payment day is a transaction.
- `LogisticBaseline`: logistic regression on the same features (median imputation with
  missing-value indicators, standardised).

Every baseline trains on exactly the rows the model trains on (no caps of their own).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln

from dropout.schema import Tables
from dropout.model.calibration import Calibrator
from dropout.model.gbm import ModelInputError

DAYS_PER_MONTH = 30.4375
HISTORY_COLUMNS = ["last_missed_or_late", "late_last_4", "n_payments", "months_to_last_payment", "tenure_months",
                   "repeat_payment_days", "months_first_to_last_payment", "months_since_first_payment"]


def _days(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]").astype(np.int64)


def history_summary(tables: Tables, keys: pd.DataFrame) -> pd.DataFrame:
    """Recency-frequency facts per (participant_id, as_of) known at as_of (strictly before it).

    Returns a frame aligned with `keys` (same index) with columns:
        last_missed_or_late: 1 if the last installment due before as_of was not paid by its
            due date (unpaid, or paid after due_on), 0 otherwise or when none fell due yet;
        late_last_4: how many of the last 4 installments due before as_of were late or unpaid;
        n_payments: payments received before as_of;
        months_to_last_payment: months from enrolment to the last such payment (0 if none);
        tenure_months: months from enrolment to as_of;
        repeat_payment_days, months_first_to_last_payment, months_since_first_payment: the
            BG/NBD's x, t_x and T, counting days on which the member paid anything (a
            make-up of several installments is one transaction), time 0 being the first
            payment (the enrolment when there is none: x = t_x = 0, T = tenure).
    """
    parts = tables.participants[["participant_id", "enrolled_on"]]
    index = pd.Index(parts["participant_id"].to_numpy())
    qcode = index.get_indexer(keys["participant_id"].to_numpy())
    if (qcode < 0).any():
        bad = keys["participant_id"].to_numpy()[qcode < 0][:5]
        raise ValueError(f"history_summary: participant_id not in participants: {bad.tolist()}")
    qcode = qcode.astype(np.int64)
    qday = _days(keys["as_of"])
    shift = np.int64(1) << 32
    qkey = qcode * shift + qday
    qbase = qcode * shift

    inst = tables.installments
    icode = index.get_indexer(inst["participant_id"].to_numpy()).astype(np.int64)

    # Payments received strictly before as_of.
    paid = inst["paid_on"].notna().to_numpy()
    pkey = np.sort(icode[paid] * shift + _days(inst["paid_on"].to_numpy()[paid]))
    hi = np.searchsorted(pkey, qkey, side="left")
    lo = np.searchsorted(pkey, qbase, side="left")
    n_pay = hi - lo
    last_pay_day = np.where(n_pay > 0, pkey[np.maximum(hi - 1, 0)] - qbase, 0)
    # Distinct payment days, for the BG/NBD.
    dkeys = np.unique(pkey)
    dhi = np.searchsorted(dkeys, qkey, side="left")
    dlo = np.searchsorted(dkeys, qbase, side="left")
    n_days = dhi - dlo
    first_day = np.where(n_days > 0, dkeys[np.minimum(dlo, max(len(dkeys) - 1, 0))] - qbase if len(dkeys) else 0, 0)
    last_day = np.where(n_days > 0, dkeys[np.maximum(dhi - 1, 0)] - qbase if len(dkeys) else 0, 0)

    # The last installment that fell due strictly before as_of, and whether it was late.
    due = _days(inst["due_on"])
    paid_day = np.where(paid, _days(inst["paid_on"].fillna(inst["due_on"])), np.iinfo(np.int64).max)
    late = (~paid) | (paid_day > due)
    dkey = icode * shift + due
    order = np.argsort(dkey, kind="stable")
    dkey, late = dkey[order], late[order]
    j = np.searchsorted(dkey, qkey, side="left") - 1
    first = np.searchsorted(dkey, qbase, side="left")
    has_due = (j >= 0) & (j >= first)
    last_missed = np.where(has_due, late[np.maximum(j, 0)], False)
    cum_late = np.concatenate([[0], np.cumsum(late)])
    late4 = np.where(has_due, cum_late[j + 1] - cum_late[np.maximum(j - 3, first)], 0)

    enrol_day = _days(parts["enrolled_on"].to_numpy())[qcode]
    tenure = np.maximum(qday - enrol_day, 0) / DAYS_PER_MONTH
    t_x = np.where(n_pay > 0, np.maximum(last_pay_day - enrol_day, 0) / DAYS_PER_MONTH, 0.0)
    return pd.DataFrame(
        {
            "last_missed_or_late": last_missed.astype(np.int8),
            "late_last_4": late4.astype(np.int8),
            "n_payments": n_pay.astype(np.int32),
            "months_to_last_payment": np.minimum(t_x, tenure),
            "tenure_months": tenure,
            "repeat_payment_days": np.maximum(n_days - 1, 0).astype(np.int32),
            "months_first_to_last_payment": np.where(n_days > 0, (last_day - first_day) / DAYS_PER_MONTH, 0.0),
            "months_since_first_payment": np.where(n_days > 0, (qday - first_day) / DAYS_PER_MONTH, tenure),
        },
        index=keys.index,
    )


class Baseline:
    """The common verbs: `fit` learns (`_fit`) and calibrates on the validation slice."""

    name = "baseline"

    def fit(self, X, y, X_val=None, y_val=None, *, context=None, context_val=None) -> "Baseline":
        self._fit(X, None if y is None else np.asarray(y), context)
        if X_val is not None and y_val is not None:
            self.calibrator_ = Calibrator("isotonic").fit(self.score(X_val, context=context_val), np.asarray(y_val))
        return self

    def _fit(self, X, y, context) -> None:
        """Learn from the training rows (rules learn nothing)."""

    def score(self, X, *, context=None) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X, *, context=None) -> np.ndarray:
        """The raw score calibrated on the validation slice given to `fit`."""
        if not hasattr(self, "calibrator_"):
            raise ModelInputError(f"{self.name}: fit it with a validation slice (X_val, y_val) to calibrate")
        return self.calibrator_.transform(self.score(X, context=context))


class LastInstallmentRule(Baseline):
    """Score 1 if the last installment due before as_of was missed or paid late, else 0."""

    name = "rule_last_missed"

    def score(self, X, *, context=None) -> np.ndarray:
        return context["last_missed_or_late"].to_numpy(dtype=float)


class LateCountRule(Baseline):
    """Score = how many of the last 4 installments due before as_of were missed or late."""

    name = "rule_late_last_4"

    def score(self, X, *, context=None) -> np.ndarray:
        return context["late_last_4"].to_numpy(dtype=float)


def _mbgnbd_loglik(log_params: np.ndarray, x, t_x, T) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return float(np.sum(a1 + a2 + a3 + np.logaddexp(0.0, a4)))


class RecencyFrequency(Baseline):
    """1 - P(alive) under an MBG/NBD model fitted on the training rows."""

    name = "recency_frequency"

    def __init__(self, max_rows: int | None = None, seed: int = 1):
        self.max_rows = max_rows
        self.seed = seed

    @staticmethod
    def _xtT(context: pd.DataFrame):
        x = context["n_payments"].to_numpy(dtype=float)
        T = np.maximum(context["tenure_months"].to_numpy(dtype=float), 1e-3)
        t_x = np.clip(context["months_to_last_payment"].to_numpy(dtype=float), 0.0, T)
        return x, t_x, T

    def _fit(self, X, y, context: pd.DataFrame) -> None:
        x, t_x, T = self._xtT(context)
        if self.max_rows is not None and len(x) > self.max_rows:
            keep = np.random.default_rng(self.seed).choice(len(x), self.max_rows, replace=False)
            keep.sort()
            x, t_x, T = x[keep], t_x[keep], T[keep]
        res = minimize(
            lambda p: -_mbgnbd_loglik(p, x, t_x, T) / len(x),
            x0=np.zeros(4),
            method="L-BFGS-B",
            bounds=[(-8.0, 8.0)] * 4,
        )
        self.params_ = dict(zip(("r", "alpha", "a", "b"), np.exp(res.x).tolist()))
        self.converged_ = bool(res.success)

    def p_alive(self, context: pd.DataFrame) -> np.ndarray:
        x, t_x, T = self._xtT(context)
        r, alpha, a, b = (self.params_[k] for k in ("r", "alpha", "a", "b"))
        log_ratio = (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return 1.0 / (1.0 + np.exp(np.log(a / (b + x)) + log_ratio))

    def score(self, X, *, context=None) -> np.ndarray:
        return 1.0 - self.p_alive(context)


class BetaGeoRanking(Baseline):
    """P(no payment in the next `horizon_days`) under a BG/NBD fitted by maximum likelihood.

    Properly fitted: one row per participant (their latest as-of in the training rows,
    i.e. the calibration period ends there), not one row per snapshot; a payment day is
    a transaction (`history_summary`). Scores any row from its own history at its as-of
    (`dropout.model.btyd.BetaGeoNBD.p_no_transaction`).
    """

    name = "bg_nbd"

    def __init__(self, horizon_days: int = 90):
        self.horizon_days = int(horizon_days)

    @staticmethod
    def _xtT(context: pd.DataFrame):
        x = context["repeat_payment_days"].to_numpy(dtype=np.int64)
        T = np.maximum(context["months_since_first_payment"].to_numpy(dtype=float), 1e-3)
        t_x = np.where(x > 0, np.clip(context["months_first_to_last_payment"].to_numpy(dtype=float), 0.0, T), 0.0)
        return x, t_x, T

    def _fit(self, X, y, context: pd.DataFrame) -> None:
        from dropout.model.btyd import BetaGeoNBD

        latest = context.assign(_row=np.arange(len(context)))
        if "participant_id" in latest and "as_of" in latest:
            latest = latest.sort_values("as_of", kind="stable").drop_duplicates("participant_id", keep="last")
        x, t_x, T = self._xtT(latest)
        self.model_ = BetaGeoNBD().fit(x, t_x, T)

    def score(self, X, *, context=None) -> np.ndarray:
        x, t_x, T = self._xtT(context)
        return self.model_.p_no_transaction(self.horizon_days / DAYS_PER_MONTH, x, t_x, T)


class LogisticBaseline(Baseline):
    """Logistic regression on the model's features (imputed, with missing indicators, scaled)."""

    name = "logistic"

    def __init__(self, feature_names: list[str], max_rows: int | None = None, seed: int = 1, C: float = 1.0):
        self.feature_names = list(feature_names)
        self.max_rows = max_rows
        self.seed = seed
        self.C = C

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        m = np.array(X[self.feature_names].to_numpy(dtype=np.float64, na_value=np.nan), copy=True)
        m[~np.isfinite(m)] = np.nan
        return m

    def _fit(self, X: pd.DataFrame, y, context) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        m, y = self._matrix(X), np.asarray(y)
        if self.max_rows is not None and len(y) > self.max_rows:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(y), self.max_rows, replace=False))
            m, y = m[keep], y[keep]
        self.pipeline_ = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=1000),
        )
        self.pipeline_.fit(m, y)

    def score(self, X: pd.DataFrame, *, context=None) -> np.ndarray:
        return self.pipeline_.predict_proba(self._matrix(X))[:, 1]


def make_baselines(feature_names: list[str], seed: int = 1, horizon_days: int = 90) -> list:
    """The baselines of every run, in report order; each trains on the model's own rows."""
    return [LastInstallmentRule(), LateCountRule(), RecencyFrequency(max_rows=None, seed=seed),
            BetaGeoRanking(horizon_days), LogisticBaseline(feature_names, max_rows=None, seed=seed)]
