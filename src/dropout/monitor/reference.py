"""The training reference kept with the model: what 'normal' looked like when it was trained.

`build_reference` describes, from the final model's most recent training snapshots
(restricted to people whose installment fell due within a scoring window), every
feature and the predicted probabilities (`drift.describe`: decile bins, shares, a
quantile grid, and how far single months drifted from the whole), each feature's share
of the model's influence, and the out-of-time performance of the backtest (AUC, PR-AUC,
lapse rate). It is saved as `reference.json` in the model folder and travels with the model
into MLflow, so a scoring run can always be compared with the model that scored it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from dropout.monitor.drift import column_drift, describe

REFERENCE_FILE = "reference.json"


def build_reference(X: pd.DataFrame, p, *, as_of=None, performance: dict | None = None, bins: int = 10) -> dict:
    """The reference of feature rows `X` and their predicted probabilities `p`.

    Args:
        as_of: the snapshot date of each row (recorded as the period described).
        performance: out-of-time metrics of the model (auc, pr_auc, lapse_rate, ...).
    """
    p = np.asarray(p, dtype=np.float64)
    if len(p) != len(X):
        raise ValueError(f"build_reference: {len(X)} feature rows but {len(p)} predictions")
    period = None
    if as_of is not None and len(X):
        a = pd.to_datetime(pd.Series(as_of))
        period = [str(a.min().date()), str(a.max().date())]
    months = _month_rows(as_of) if as_of is not None else None
    features = {c: _with_natural(describe(X[c].to_numpy(np.float64), bins), X[c].to_numpy(np.float64), months)
                for c in X.columns}
    return {
        "rows": int(len(X)),
        "period": period,
        "features": features,
        "prediction": _with_natural(describe(p, bins), p, months),
        "expected_lapse_rate": float(p.mean()) if len(p) else None,
        "performance": {k: float(v) for k, v in (performance or {}).items() if v is not None},
    }


def _month_rows(as_of) -> list[np.ndarray]:
    """The row positions of each calendar month of `as_of`, found once for every column."""
    a = pd.to_datetime(pd.Series(as_of)).reset_index(drop=True)
    code = (a.dt.year * 12 + a.dt.month).to_numpy()
    if len(code) == 0:
        return []
    order = np.argsort(code, kind="stable")
    starts = np.flatnonzero(np.r_[True, code[order][1:] != code[order][:-1]])
    return np.split(order, starts[1:])


def _with_natural(described: dict, values: np.ndarray, months: list[np.ndarray] | None) -> dict:
    """Add how far each single month of the reference drifted from the whole (the largest
    PSI and distance of one month against all months): the drift a stable year shows by
    itself, through seasons, trends and sampling noise. Thresholds scale from it.
    `months`: the row positions of each month (`_month_rows`)."""
    described["natural_psi"] = described["natural_distance"] = 0.0
    if months is None:
        return described
    psis, dists = [], []
    for rows in months:
        d = column_drift(described, values[rows])
        psis.append(d["psi"])
        if np.isfinite(d["distance"]):
            dists.append(d["distance"])
    described["natural_psi"] = float(max(psis)) if psis else 0.0
    described["natural_distance"] = float(max(dists)) if dists else 0.0
    return described


def find_reference(model_folder: str | Path | None) -> dict | None:
    """The reference saved with a model (its folder, or MLflow's extra_files), or None."""
    if model_folder is None:
        return None
    folder = Path(model_folder)
    for p in (folder / REFERENCE_FILE, folder / "extra_files" / REFERENCE_FILE):
        if p.exists():
            return json.loads(p.read_text(encoding="utf-8"))
    return None


def _window_rows(frame: pd.DataFrame, window_days: int) -> np.ndarray:
    """Rows whose installment falls due within `window_days` of the snapshot (all rows
    when the frame has no due date, as for targets other than lapse)."""
    if "label_due_on" not in frame.columns:
        return np.ones(len(frame), dtype=bool)
    days = (pd.to_datetime(frame["label_due_on"]) - pd.to_datetime(frame["as_of"])).dt.days
    return (days.isna() | (days <= window_days)).to_numpy()


def training_reference(frame: pd.DataFrame, feature_names: list[str], model, predictions: pd.DataFrame | None,
                       config=None) -> dict:
    """The reference of a trained model (what `dropout train` saves with it).

    Args:
        frame: the training frame (participant_id, as_of, label, label_due_on, features).
        model: the final model (its probabilities describe the prediction distribution).
        predictions: the backtest's out-of-time predictions (participant_id, as_of, label,
            p_model): the reference performance.
    """
    from dropout.evaluate.metrics import safe_auc, safe_pr_auc
    from dropout.monitor.config import load_monitor_config

    cfg = (config or load_monitor_config()).reference
    as_of = pd.to_datetime(frame["as_of"])
    recent = (as_of > as_of.max() - pd.DateOffset(months=cfg.last_months)).to_numpy()
    rows = recent & _window_rows(frame, cfg.window_days)
    X = frame.loc[rows, feature_names].reset_index(drop=True)
    p = model.predict_proba(X)
    performance = {}
    if predictions is not None and len(predictions):
        pred = predictions
        if "label_due_on" in frame.columns:
            due = frame[["participant_id", "as_of", "label_due_on"]]
            pred = pred.merge(due, on=["participant_id", "as_of"], how="left")
            pred = pred[_window_rows(pred, cfg.window_days)]
        y, q = pred["label"].to_numpy(), pred["p_model"].to_numpy(np.float64)
        performance = {"auc": safe_auc(y, q), "pr_auc": safe_pr_auc(y, q), "lapse_rate": float(np.mean(y)),
                       "expected_lapse_rate": float(np.mean(q)), "rows": float(len(y))}
    ref = build_reference(X, p, as_of=frame.loc[rows, "as_of"], performance=performance, bins=cfg.bins)
    ref["importance"] = influence(model, X)
    return ref


#: Rows whose contributions measure each feature's influence (a random sample beyond this).
INFLUENCE_SAMPLE_ROWS = 50_000


def influence(model, X: pd.DataFrame) -> dict[str, float]:
    """Each feature's share of how much the model's risks move: the spread (standard
    deviation) of its contribution to the log-odds over the rows, trees and the blended
    logistic line together (a policy lever may live in the line alone, with no tree gain)."""
    if len(X) == 0 or not hasattr(model, "contributions"):
        return {}
    if len(X) > INFLUENCE_SAMPLE_ROWS:  # a spread needs a sample, not every row's pred_contrib
        X = X.sample(INFLUENCE_SAMPLE_ROWS, random_state=0)
    spread = model.contributions(X).drop(columns="bias").std(ddof=0)
    total = float(spread.sum())
    return {str(k): float(v) / total for k, v in spread.items()} if total > 0 else {}
