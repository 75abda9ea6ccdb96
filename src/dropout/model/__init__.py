"""Models that turn a feature matrix into a risk, with one interface.

Every model here has `fit(X, y, X_val=None, y_val=None, *, context=None,
context_val=None)` and `predict_proba(X, *, context=None)` (a calibrated probability of
the positive label, 1-d). `context` carries per-row facts that are not model features
(the raw-history summary some baselines read).

    gbm.py          DropoutModel: LightGBM with early stopping and calibration (saved as text)
    calibration.py  Calibrator: monotone maps raw score -> probability, stored as JSON
    baselines.py    the rules, recency-frequency and logistic contenders every report shows
"""

from __future__ import annotations

from dataclasses import dataclass

from dropout.model.calibration import Calibrator
from dropout.model.gbm import DropoutModel, ModelInputError, monotone_constraints


@dataclass
class ModelRef:
    """A loaded model and what a scoring run records about it."""

    model: DropoutModel
    name: str
    version: str | None
    sha256: str
    source: str


__all__ = ["Calibrator", "DropoutModel", "ModelInputError", "ModelRef", "monotone_constraints"]
