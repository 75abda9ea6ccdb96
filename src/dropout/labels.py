"""Labels: what happened after each as-of date, for training and evaluation.

Every target is defined on the cohort at as_of: enrolled on or before as_of and not
withdrawn by as_of, members in arrears (suspended) included: they are the people an
officer can still bring back.

- `lapse`: the member's next installment (the first with due_on after as_of not already
  paid by as_of) falls due within the horizon; label 1 when it was not paid by its
  due_on. For a member in arrears, paying it means resuming. Rows whose due_on lies after
  the extraction date are not yet observable and are left out; so are members with no
  installment due in the horizon.
- `no_payment`: "stops paying". The member owes something within the horizon (an
  installment falls due in it, or past installments are unpaid at as_of); label 1 when
  no payment of any kind (paid_on) falls in (as_of, as_of + horizon]. Only as-of dates
  with as_of + horizon <= extraction date are observable. Members who owe nothing in
  the horizon (paid ahead) are left out: not paying is then no sign of leaving.
- `withdraw_12m`: label 1 when a lump-sum withdrawal is claimed in (as_of, as_of + 365
  days]. Only as-of dates with as_of + 365 days <= extraction date are observable.

The label always lies strictly after as_of; features use only what is known at as_of
(see `dropout.features`). Who is due next is the schedule's answer (`dropout.schedule`),
which scoring uses too.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.errors import InputError
from dropout.features import KEY_COLUMNS, build_features
from dropout.features.context import Context
from dropout.schedule import Schedule, check_horizon, next_installments
from dropout.schema import Tables
from dropout.timeline import AsOf, day_of, normalize_as_of_dates

TARGETS = ("lapse", "no_payment", "withdraw_12m")
WITHDRAW_WINDOW_DAYS = 365
DEFAULT_HORIZON_DAYS = 90
LABEL_COLUMNS = ["label", "label_period_start", "label_due_on"]


def _check_tables(tables) -> None:
    if not isinstance(tables, Tables):
        raise TypeError(f"tables must be a dropout.schema.Tables bundle, got {type(tables).__name__}")


def _labels(schedule: Schedule, tables: Tables, dates, target: str, horizon_days: int) -> pd.DataFrame:
    extracted = day_of(tables.extracted_on)
    if target == "lapse":
        nxt = next_installments(schedule, dates, horizon_days)
        nxt = nxt[nxt["due_on"].to_numpy() <= np.datetime64(int(extracted), "D")]
        L = schedule.ledger
        lapsed = L["lapse"][nxt["_row"].to_numpy()] if len(nxt) else np.zeros(0, dtype=bool)
        out = pd.DataFrame({
            "participant_id": nxt["participant_id"].to_numpy(np.int64),
            "as_of": nxt["as_of"].to_numpy(),
            "label": lapsed.astype(np.int8),
            "label_period_start": nxt["period_start"].to_numpy(),
            "label_due_on": nxt["due_on"].to_numpy(),
        })
        return out.reset_index(drop=True)
    window = WITHDRAW_WINDOW_DAYS if target == "withdraw_12m" else horizon_days
    parts = []
    for ts in dates:
        asof = AsOf.of(ts)
        if asof.day + window > extracted:
            continue
        if target == "withdraw_12m":
            rows = np.flatnonzero(schedule.cohort(asof))
            claimed = schedule.withdrawn_on[rows]
            label = (claimed > asof.day) & (claimed <= asof.day + window)
        else:  # no_payment
            owes = schedule.due_within(asof, window) | (schedule.cohort(asof) & schedule.in_arrears(asof))
            rows = np.flatnonzero(owes)
            label = ~schedule.paid_within(asof, window)[rows]
        parts.append(pd.DataFrame({
            "participant_id": schedule.participant_id[rows],
            "as_of": np.full(len(rows), ts.to_datetime64(), dtype="datetime64[ns]"),
            "label": label.astype(np.int8),
            "label_period_start": np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]"),
            "label_due_on": np.full(len(rows), np.datetime64("NaT"), dtype="datetime64[ns]"),
        }))
        schedule.forget()
    if not parts:
        return pd.DataFrame({
            "participant_id": np.zeros(0, np.int64), "as_of": np.zeros(0, "datetime64[ns]"),
            "label": np.zeros(0, np.int8), "label_period_start": np.zeros(0, "datetime64[ns]"),
            "label_due_on": np.zeros(0, "datetime64[ns]"),
        })
    return pd.concat(parts, ignore_index=True)


def _check_target(target: str) -> str:
    if target not in TARGETS:
        raise InputError(f"target must be one of {list(TARGETS)}, got {target!r}")
    return target


def build_labels(tables: Tables, as_of_dates, target: str = "lapse",
                 horizon_days: int = DEFAULT_HORIZON_DAYS) -> pd.DataFrame:
    """Labels per (participant_id, as_of): participant_id, as_of, label (int8), label_period_start, label_due_on.

    For `no_payment` and `withdraw_12m` the two label_* dates are empty.
    """
    _check_tables(tables)
    target = _check_target(target)
    horizon_days = check_horizon(horizon_days)
    dates = normalize_as_of_dates(as_of_dates, tables.extracted_on)
    return _labels(Schedule(tables), tables, dates, target, horizon_days)


def build_training_frame(tables: Tables, as_of_dates, target: str = "lapse",
                         horizon_days: int = DEFAULT_HORIZON_DAYS, families=None, progress=None) -> pd.DataFrame:
    """Features inner-joined with labels.

    Returns:
        participant_id, as_of, the features in catalog order, label, label_period_start,
        label_due_on; sorted by as_of, participant_id.
    """
    _check_tables(tables)
    target = _check_target(target)
    horizon_days = check_horizon(horizon_days)
    dates = normalize_as_of_dates(as_of_dates, tables.extracted_on)
    ctx = Context(tables)
    labels = _labels(ctx.schedule, tables, dates, target, horizon_days)
    features = build_features(tables, dates, families, progress, context=ctx)
    frame = features.merge(labels, on=KEY_COLUMNS, how="inner", validate="one_to_one")
    return frame.sort_values(KEY_COLUMNS, ignore_index=True)
