"""Hyperparameters chosen by temporal cross-validation inside the training window only.

For every fold (and for the final fit) the candidates of `models/lightgbm.yaml` are
compared on an inner split of that fold's *training* block:

    inner train [train_start, inner_val_start - gap) .. gap .. inner validation [inner_val_start, train_end)

With `inner_splits` = k the inner validation block rolls back k times inside the
training block and the scores are averaged (one block of a few months is a noisy judge).
Each candidate trains on the inner train rows with early stopping on the inner
validation rows, and the one with the best inner-validation AUC wins (ties: the one
listed first, the simplest). The weight of the logistic line blended with the trees is
chosen afterwards, on the fold's validation slice (the most recent months before the
gap; `DropoutModel.fit`), from `linear_weights`. The fold's validation block (early stopping and
calibration of the model that is scored) and its test block are never looked at, so a
reported test number is never the best of several tries on the test rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dropout.evaluate.metrics import safe_auc


@dataclass
class TuningResult:
    """The chosen parameter overrides and every candidate's inner-validation numbers."""

    chosen: dict
    scores: list[dict] = field(default_factory=list)  # params, auc, best_iteration, rows

    def as_dict(self) -> dict:
        return {"chosen": self.chosen, "candidates": self.scores}


def inner_split(as_of: pd.Series, train: np.ndarray, inner_months: int, gap_days: int,
                back: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(inner train, inner validation) masks inside the training mask `train`.

    `back` = k takes the inner validation block k blocks before the end of the training
    block (rolling origin inside it), with the inner training rows before it.
    """
    a = pd.to_datetime(np.asarray(as_of))
    dates = a[train]
    if len(dates) == 0:
        return train.copy(), np.zeros(len(a), dtype=bool)
    end = dates.max().normalize() + pd.offsets.MonthBegin(1) - pd.DateOffset(months=inner_months * back)
    inner_val_start = end - pd.DateOffset(months=inner_months)
    inner_train_end = inner_val_start - pd.Timedelta(days=gap_days)
    inner_val = train & np.asarray((a >= inner_val_start) & (a < end))
    inner_train = train & np.asarray(a < inner_train_end)
    return inner_train, inner_val


def choose(spec, X: pd.DataFrame, y: np.ndarray, as_of: pd.Series, train: np.ndarray, *,
           gap_days: int, sample=None) -> TuningResult:
    """The candidate of `spec.candidates` with the best inner-validation AUC (see module doc).

    Args:
        sample: mask -> mask keeping a sample of whole participants (large data: the
            candidates compare on `spec.max_inner_rows` rows of each inner block).
    """
    if not spec.candidates:
        return TuningResult(chosen={})
    # The blend weight is chosen later, on the fold's validation slice (DropoutModel.fit);
    # here the trees alone are compared.
    weights = [0.0]
    pairs = [dict(c) for c in spec.candidates]
    per_split: list[list[float]] = []
    rows = []
    for back in range(max(1, spec.inner_splits)):
        inner_train, inner_val = inner_split(as_of, train, spec.inner_validation_months, gap_days, back)
        if sample is not None:
            inner_train, inner_val = sample(inner_train), sample(inner_val)
        usable = (inner_train.sum() > 0 and inner_val.sum() > 0
                  and len(np.unique(y[inner_train])) == 2 and len(np.unique(y[inner_val])) == 2)
        if not usable:
            break
        per_split.append(_scores(spec, X, y, inner_train, inner_val, weights))
        rows.append((int(inner_train.sum()), int(inner_val.sum())))
    if not per_split:  # too little history for an inner split: the first candidate, said so
        return TuningResult(chosen=dict(spec.candidates[0]),
                            scores=[{"params": pairs[0], "auc": None,
                                     "note": "training window too short for an inner split"}])
    mean = np.mean(np.asarray(per_split), axis=0)
    scores = [{"params": p, "auc": float(m), "auc_by_split": [float(s[i]) for s in per_split],
               "rows_by_split": rows} for i, (p, m) in enumerate(zip(pairs, mean))]
    best = max(range(len(scores)), key=lambda i: (scores[i]["auc"], -i))
    return TuningResult(chosen=dict(scores[best]["params"]), scores=scores)


def _scores(spec, X, y, inner_train, inner_val, weights) -> list[float]:
    """Inner-validation AUC of every candidate's trees (the blend weight is chosen later)."""
    Xtr, ytr, Xva, yva = X[inner_train], y[inner_train], X[inner_val], y[inner_val]
    out = []
    for overrides in spec.candidates:
        model = spec.with_params(overrides).build()
        model.linear_weight, model.linear_weights = 0.0, []  # the trees alone
        model.fit(Xtr, ytr, Xva, yva)
        out.append(float(safe_auc(yva, model.predict_raw(Xva))))
    return out
