"""Labels: what happened after each as-of date, for training and evaluation.

- `lapse`: the participant is active at as_of (enrolled, not withdrawn, nothing past due
  still unpaid as known at as_of) and their next installment (the first with due_on after
  as_of not already paid by as_of) falls due within the horizon; label 1 when it was not
  paid by its due_on. Rows whose due_on lies after the extraction date are not yet
  observable and are left out; so are participants with no installment due in the horizon.
- `withdraw_12m`: the participant is enrolled and not withdrawn at as_of; label 1 when a
  lump-sum withdrawal is claimed in (as_of, as_of + 365 days]. Only as-of dates with
  as_of + 365 days <= extraction date are observable.

The label's installment always lies strictly after as_of; features use only what is
known at as_of (see `dropout.features`). Scoring reuses `next_installment`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.features import KEY_COLUMNS, _build_features
from dropout.features._context import Context
from dropout.features._time import (
    AsOf,
    day_of,
    normalize_as_of_dates,
    to_days,
    to_timestamps,
)
from dropout.schema import Tables

TARGETS = ("lapse", "withdraw_12m")
WITHDRAW_WINDOW_DAYS = 365
DEFAULT_HORIZON_DAYS = 90
LABEL_COLUMNS = ["label", "label_period_start", "label_due_on"]
NEXT_COLUMNS = ["participant_id", "as_of", "period_start", "due_on", "months_covered", "amount_due", "income_base"]


def _check_horizon(horizon_days) -> int:
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)) or horizon_days <= 0:
        raise ValueError(f"horizon_days must be a positive whole number of days, got {horizon_days!r}")
    return int(horizon_days)


def _check_tables(tables) -> None:
    if not isinstance(tables, Tables):
        raise TypeError(f"tables must be a dropout.io.Tables bundle, got {type(tables).__name__}")


def _active(ctx: Context, asof: AsOf) -> np.ndarray:
    """In the cohort and with no past-due installment still unpaid as known at as_of."""
    arrears = ctx.missed_between(asof, ctx.ledger.start, ctx.past_due_end(asof))
    return ctx.cohort(asof) & (arrears == 0)


def _next_frame(ctx: Context, dates: list[pd.Timestamp], horizon_days: int) -> pd.DataFrame:
    parts = []
    for ts in dates:
        asof = AsOf.of(ts)
        nxt = ctx.next_installment(asof)
        keep = _active(ctx, asof) & nxt.scheduled & (nxt.due_on <= asof.day + horizon_days)
        rows = np.flatnonzero(keep)
        parts.append(pd.DataFrame({
            "participant_id": ctx.participant_id[rows],
            "as_of": np.full(len(rows), ts.to_datetime64(), dtype="datetime64[ns]"),
            "period_start": to_timestamps(nxt.period_start[rows]),
            "due_on": to_timestamps(nxt.due_on[rows]),
            "months_covered": nxt.months_covered[rows].astype(np.int64),
            "amount_due": nxt.amount_due[rows].astype(np.int64),
            "income_base": nxt.income_base[rows].astype(np.int64),
            "_row": nxt.row[rows],
        }))
        ctx.forget()
    return pd.concat(parts, ignore_index=True)


def next_installment(tables: Tables, as_of_dates, horizon_days: int = DEFAULT_HORIZON_DAYS,
                     context: Context | None = None) -> pd.DataFrame:
    """The installment each active participant must pay next, if it falls due within the horizon.

    Args:
        tables: validated raw tables.
        as_of_dates: one or several dates (none after tables.extracted_on).
        horizon_days: keep installments with as_of < due_on <= as_of + horizon_days.
        context: a `Context(tables)` shared with the caller's feature build; default: a new one.

    Returns:
        participant_id, as_of, period_start, due_on, months_covered, amount_due, income_base;
        one row per active participant with an installment due in the horizon.
    """
    _check_tables(tables)
    horizon_days = _check_horizon(horizon_days)
    dates = normalize_as_of_dates(as_of_dates, tables.extracted_on)
    return _next_frame(context if context is not None else Context(tables), dates, horizon_days)[NEXT_COLUMNS]


def _labels(ctx: Context, tables: Tables, dates, target: str, horizon_days: int) -> pd.DataFrame:
    extracted = day_of(tables.extracted_on)
    if target == "lapse":
        nxt = _next_frame(ctx, dates, horizon_days)
        nxt = nxt[to_days(nxt["due_on"]) <= extracted]
        L = ctx.ledger
        lapsed = L["lapse"][nxt["_row"].to_numpy()] if len(nxt) else np.zeros(0, dtype=bool)
        out = pd.DataFrame({
            "participant_id": nxt["participant_id"].to_numpy(np.int64),
            "as_of": nxt["as_of"].to_numpy(),
            "label": lapsed.astype(np.int8),
            "label_period_start": nxt["period_start"].to_numpy(),
            "label_due_on": nxt["due_on"].to_numpy(),
        })
        return out.reset_index(drop=True)
    parts = []
    for ts in dates:
        asof = AsOf.of(ts)
        if asof.day + WITHDRAW_WINDOW_DAYS > extracted:
            continue
        rows = np.flatnonzero(ctx.cohort(asof))
        claimed = ctx.withdrawn_on[rows]
        parts.append(pd.DataFrame({
            "participant_id": ctx.participant_id[rows],
            "as_of": np.full(len(rows), ts.to_datetime64(), dtype="datetime64[ns]"),
            "label": ((claimed > asof.day) & (claimed <= asof.day + WITHDRAW_WINDOW_DAYS)).astype(np.int8),
            "label_period_start": np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]"),
            "label_due_on": np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]"),
        }))
    if not parts:
        return pd.DataFrame({
            "participant_id": np.zeros(0, np.int64), "as_of": np.zeros(0, "datetime64[ns]"),
            "label": np.zeros(0, np.int8), "label_period_start": np.zeros(0, "datetime64[ns]"),
            "label_due_on": np.zeros(0, "datetime64[ns]"),
        })
    return pd.concat(parts, ignore_index=True)


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise ValueError(f"target must be one of {list(TARGETS)}, got {target!r}")
    return target


def build_labels(tables: Tables, as_of_dates, target: str = "lapse",
                 horizon_days: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """Labels per (participant_id, as_of): participant_id, as_of, label (int8), label_period_start, label_due_on.

    For `withdraw_12m` the two label_* dates are empty.
    """
    _check_tables(tables)
    target = _check_target(target)
    horizon_days = _check_horizon(horizon_days)
    dates = normalize_as_of_dates(as_of_dates, tables.extracted_on)
    return _labels(Context(tables), tables, dates, target, horizon_days)


def build_training_frame(tables: Tables, as_of_dates, target: str = "lapse",
                         horizon_days: int = DEFAULT_HORIZON_DAYS, families=None, progress=None) -> pd.DataFrame:
    """Features inner-joined with labels.

    Returns:
        participant_id, as_of, the features in catalog order, label, label_period_start,
        label_due_on; sorted by as_of, participant_id.
    """
    _check_tables(tables)
    target = _check_target(target)
    horizon_days = _check_horizon(horizon_days)
    dates = normalize_as_of_dates(as_of_dates, tables.extracted_on)
    ctx = Context(tables)
    labels = _labels(ctx, tables, dates, target, horizon_days)
    features = _build_features(ctx, dates, families, progress)
    frame = features.merge(labels, on=KEY_COLUMNS, how="inner", validate="one_to_one")
    return frame.sort_values(KEY_COLUMNS, ignore_index=True)
