"""A small synthetic Dataset with the training frame's exact shape, for fast tests.

Not a simulator: a few informative features with a known logistic risk (the oracle), a
participant effect that persists over time, and the context columns a backtest needs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.train.data import Dataset
from dropout.model.gbm import monotone_constraints

CATALOG = [
    {"name": "missed_last_4", "family": "payment_history", "direction": "up", "monotone": True},
    {"name": "months_since_last_payment", "family": "payment_history", "direction": "up", "monotone": True},
    {"name": "tenure_months", "family": "payment_history", "direction": "down", "monotone": True},
    {"name": "net_cost_share", "family": "subsidy", "direction": "up", "monotone": True},
    {"name": "disasters_90d", "family": "disaster", "direction": "up", "monotone": False},
    {"name": "travel_minutes", "family": "community", "direction": "unknown", "monotone": False},
    {"name": "noise", "family": "seasonality", "direction": "unknown", "monotone": False},
]
for _e in CATALOG:
    _e.update(reason_en=f"{_e['name']} is {{value}}", reason_vi=f"{_e['name']} = {{value}}")


def synthetic_dataset(
    participants: int = 600, start: str = "2022-01-01", end: str = "2025-12-01", seed: int = 0,
    horizon_days: int = 60,
) -> Dataset:
    """A Dataset of monthly snapshots with a known risk; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, end, freq="MS")
    n_p, n_d = participants, len(dates)
    pid = np.repeat(np.arange(1, n_p + 1) + 1_000_000_000, n_d)
    as_of = np.tile(dates.to_numpy(), n_p)
    person = np.repeat(rng.normal(0, 1, n_p), n_d)
    enrol = np.repeat(rng.integers(-36, 24, n_p), n_d)
    t = np.tile(np.arange(n_d), n_p)
    tenure = np.maximum(t - enrol, 0).astype(float)
    missed = np.clip(rng.poisson(np.exp(0.4 * person - 0.5)), 0, 4).astype(float)
    since = np.clip(rng.exponential(1 + np.maximum(person, 0) * 2), 0, 24)
    cost = np.clip(rng.normal(0.15 + 0.05 * person, 0.05), 0.01, 0.6)
    month = pd.DatetimeIndex(as_of).month.to_numpy()
    disasters = rng.poisson(np.where((month >= 9) & (month <= 11), 0.8, 0.1)).astype(float)
    travel = np.repeat(rng.integers(5, 240, n_p), n_d).astype(float)
    noise = rng.normal(0, 1, len(pid))
    logit = (-2.2 + 0.55 * missed + 0.12 * since - 0.02 * tenure + 4.0 * (cost - 0.15)
             + 0.35 * disasters + 0.002 * travel + 0.4 * person)
    p = 1 / (1 + np.exp(-logit))
    label = (rng.random(len(p)) < p).astype(np.int8)
    since[rng.random(len(since)) < 0.05] = np.nan  # features may be missing
    frame = pd.DataFrame({
        "participant_id": pid, "as_of": as_of,
        "missed_last_4": missed, "months_since_last_payment": since, "tenure_months": tenure,
        "net_cost_share": cost, "disasters_90d": disasters, "travel_minutes": travel, "noise": noise,
        "label": label,
    })
    frame["label_period_start"] = frame["as_of"] + pd.Timedelta(days=14)
    frame["label_due_on"] = frame["as_of"] + pd.Timedelta(days=horizon_days - 5)
    district = np.repeat(rng.choice(["A Luoi", "Nam Dong", "Phong Dien"], n_p), n_d)
    paid = np.maximum(tenure - missed, 0)
    since_last = np.minimum(np.nan_to_num(since, nan=0.0), tenure)
    ctx = pd.DataFrame({
        "participant_id": pid, "as_of": as_of,
        "district": district,
        "province": np.where(district == "Phong Dien", "Hue", "Thua Thien Hue"),
        "ethnic_group": np.repeat(rng.choice(["Kinh", "minority"], n_p, p=[0.3, 0.7]), n_d),
        "sex": np.repeat(rng.choice(["F", "M"], n_p), n_d),
        "poverty_status": rng.choice(["poor", "near_poor", "none"], len(pid), p=[0.2, 0.2, 0.6]),
        "last_missed_or_late": (missed > 0).astype(np.int8),
        "late_last_4": missed.astype(np.int8),
        "n_payments": np.maximum(tenure - missed, 0).astype(np.int32),
        "months_to_last_payment": np.maximum(tenure - np.nan_to_num(since), 0),
        "tenure_months": tenure,
        "repeat_payment_days": np.maximum(paid - 1, 0).astype(np.int32),
        "months_first_to_last_payment": np.where(paid > 1, np.maximum(tenure - since_last, 0), 0.0),
        "months_since_first_payment": np.maximum(tenure, 1e-3).astype(float),
        "label_known_on": frame["label_due_on"],
        "oracle_p": p,
    }, index=frame.index)
    features = [e["name"] for e in CATALOG]
    return Dataset(
        frame=frame, context=ctx, feature_names=features,
        monotone=monotone_constraints(CATALOG, features), target="lapse", horizon_days=horizon_days,
        data_fingerprint=f"synthetic-{participants}-{seed}", catalog=CATALOG,
    )
