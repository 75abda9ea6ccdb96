"""Hyperparameters chosen by temporal cross-validation inside the training window only.

For every fold (and for the final fit) the candidates of `models/lightgbm.yaml` are
compared on an inner split of that fold's *training* block:

    inner train [train_start, inner_val_start - gap) .. gap .. inner validation [inner_val_start, train_end)

Each candidate trains on the inner train rows with early stopping on the inner
validation rows; the one with the highest inner-validation AUC wins (ties: the one
listed first, the simplest). The fold's validation block (early stopping and
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


def inner_split(as_of: pd.Series, train: np.ndarray, inner_months: int, gap_days: int) -> tuple[np.ndarray, np.ndarray]:
    """(inner train, inner validation) masks inside the training mask `train`."""
    a = pd.to_datetime(np.asarray(as_of))
    dates = a[train]
    if len(dates) == 0:
        return train.copy(), np.zeros(len(a), dtype=bool)
    end = dates.max().normalize() + pd.offsets.MonthBegin(1)
    inner_val_start = end - pd.DateOffset(months=inner_months)
    inner_train_end = inner_val_start - pd.Timedelta(days=gap_days)
    inner_val = train & np.asarray(a >= inner_val_start)
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
    inner_train, inner_val = inner_split(as_of, train, spec.inner_validation_months, gap_days)
    if sample is not None:
        inner_train, inner_val = sample(inner_train), sample(inner_val)
    usable = (inner_train.sum() > 0 and inner_val.sum() > 0
              and len(np.unique(y[inner_train])) == 2 and len(np.unique(y[inner_val])) == 2)
    if not usable:  # too little history for an inner split: the first candidate, said so
        return TuningResult(chosen=dict(spec.candidates[0]),
                            scores=[{"params": dict(spec.candidates[0]), "auc": None,
                                     "note": "training window too short for an inner split"}])
    scores = []
    Xtr, ytr, Xva, yva = X[inner_train], y[inner_train], X[inner_val], y[inner_val]
    for overrides in spec.candidates:
        model = spec.with_params(overrides).build().fit(Xtr, ytr, Xva, yva)
        auc = safe_auc(yva, model.predict_raw(Xva))
        scores.append({"params": dict(overrides), "auc": float(auc), "best_iteration": model.best_iteration_,
                       "inner_train_rows": int(inner_train.sum()), "inner_validation_rows": int(inner_val.sum())})
    best = max(range(len(scores)), key=lambda i: (scores[i]["auc"], -i))
    return TuningResult(chosen=dict(spec.candidates[best]), scores=scores)
