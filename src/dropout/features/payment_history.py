"""Payment history: how the participant has paid so far, as known at as_of.

An installment is *past due* when due_on < as_of. Among past-due installments:
- paid on time: paid_on <= due_on;
- paid late: due_on < paid_on <= as_of (a make-up payment already received);
- missed: still unpaid as known at as_of (paid_on null or after as_of);
- a lapse (suspension) = not paid by due_on (late or missed); a run of consecutive
  lapses is one suspension.
Windows (3, 6, 12 months) select installments whose due_on lies in [as_of - window, as_of).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.features._context import Context
from dropout.features._time import (
    AsOf,
    last_true,
    prefix_sum,
    range_max,
    range_sum,
    whole_months_between,
)

FAMILY = "payment_history"
WINDOWS_MONTHS = (3, 6, 12)
LAST_N = 4


def _mode_flags(ctx: Context, months: np.ndarray) -> dict[str, np.ndarray]:
    modes = ctx.rules.payment_modes
    flags = {}
    for name, mode in modes.items():
        if name == "multi_year":
            flags[f"mode_{name}"] = (months > 12).astype(np.int8)
        else:
            flags[f"mode_{name}"] = (months == mode.months_covered).astype(np.int8)
    return flags


class _Static:
    """Per-ledger arrays that do not depend on the as-of date (built once per Context)."""

    def __init__(self, ctx: Context):
        L = ctx.ledger
        lapse = L["lapse"]
        on_time = ~lapse
        n_rows = len(L)
        self.on_time_prefix = prefix_sum(on_time.astype(np.int64))
        # A suspension starts at a lapse whose previous installment was not a lapse.
        prev_lapse = np.zeros(n_rows, dtype=bool)
        prev_lapse[1:] = lapse[:-1]
        prev_lapse &= L.prev_same_entity
        self.suspension_prefix = prefix_sum((lapse & ~prev_lapse).astype(np.int64))
        self.last_lapse = last_true(lapse)  # for the on-time streak
        # A lower income base than the participant's previous installment.
        prev_base = np.roll(L["income_base"], 1)
        self.downgrade = L.prev_same_entity & (L["income_base"] < prev_base)


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    L, t, n = ctx.ledger, asof.day, ctx.n
    static = ctx.once("payment_history_static", lambda: _Static(ctx))
    out: dict[str, np.ndarray] = {}
    out["tenure_months"] = whole_months_between(ctx.enrolled, t).astype(np.int32)
    out["age_years"] = (asof.ts.year - ctx.birth_year).astype(np.int16)

    hi = ctx.past_due_end(asof)  # rows [L.start, hi) are past due
    paid_by_t = L["paid"] <= t
    late_known_prefix = prefix_sum((L["lapse"] & paid_by_t).astype(np.int64))
    missed_prefix = prefix_sum((L["lapse"] & ~paid_by_t).astype(np.int64))
    # Days late: paid late -> paid_on - due_on; still unpaid -> as_of - due_on so far.
    days_late = np.where(L["lapse"], np.minimum(L["paid"], t) - L.day, 0)
    days_late_prefix = prefix_sum(days_late)

    for w in WINDOWS_MONTHS:
        lo = L.before(asof.months_back(w))
        due = hi - lo
        out[f"installments_due_{w}m"] = due.astype(np.int16)
        out[f"paid_on_time_{w}m"] = range_sum(static.on_time_prefix, lo, hi).astype(np.int16)
        out[f"paid_late_{w}m"] = range_sum(late_known_prefix, lo, hi).astype(np.int16)
        out[f"missed_{w}m"] = range_sum(missed_prefix, lo, hi).astype(np.int16)
        if w == 12:
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = range_sum(days_late_prefix, lo, hi) / due
            out["mean_days_late_12m"] = np.where(due > 0, mean, np.nan).astype(np.float32)
            mx = range_max(days_late, lo, hi, 0)
            out["max_days_late_12m"] = np.where(due > 0, mx, np.nan).astype(np.float32)

    lo_last = np.maximum(L.start, hi - LAST_N)
    out[f"lapses_last_{LAST_N}"] = (range_sum(ctx.lapse_prefix, lo_last, hi)).astype(np.int16)

    missed_rows = L["lapse"] & ~paid_by_t
    out["arrears_installments"] = range_sum(missed_prefix, L.start, hi).astype(np.int16)
    out["arrears_months"] = range_sum(prefix_sum(np.where(missed_rows, L["months"], 0)), L.start, hi).astype(np.int32)
    out["arrears_vnd"] = range_sum(prefix_sum(np.where(missed_rows, L["amount_due"], 0)), L.start, hi)

    # Consecutive on-time installments ending with the latest past-due one.
    last_row = np.maximum(hi - 1, 0)
    last_bad = static.last_lapse[last_row] if len(L) else np.zeros(n, dtype=np.int64)
    streak = (hi - 1) - np.maximum(last_bad, L.start - 1)
    out["on_time_streak"] = np.where(hi > L.start, streak, 0).astype(np.int16)

    last_paid = range_max(np.where(paid_by_t, L["paid"], -1), L.start, L.end, -1)
    has_paid = last_paid >= 0
    months = np.full(n, np.nan, dtype=np.float32)
    months[has_paid] = whole_months_between(last_paid[has_paid], t)
    out["months_since_last_payment"] = months

    # The current mode: installments of the latest period started by as_of.
    row, started = ctx.last_started_row(asof)
    nxt = ctx.next_installment(asof)
    cur_months = np.where(started, L["months"][row], nxt.months_covered) if len(L) else nxt.months_covered
    out.update(_mode_flags(ctx, cur_months))
    cur_base = np.where(started, L["income_base"][row], nxt.income_base) if len(L) else nxt.income_base
    out["income_base_vnd"] = cur_base.astype(np.int64)
    started_rows = np.where(L["period_start"] <= t, static.downgrade, False)
    out["income_base_downgrades"] = range_sum(prefix_sum(started_rows.astype(np.int64)), L.start, L.end).astype(np.int16)

    makeup = paid_by_t & L["lapse"] & (L["paid"] > asof.months_back(12))
    out["makeup_payments_12m"] = range_sum(prefix_sum(makeup.astype(np.int64)), L.start, L.end).astype(np.int16)
    out["suspensions_total"] = range_sum(static.suspension_prefix, L.start, hi).astype(np.int16)
    out["paid_months_total"] = ctx.paid_months(asof).astype(np.int32)
    return out


def build(tables, as_of_dates) -> pd.DataFrame:
    """This family alone: one row per (participant_id, as_of) of the cohort."""
    from dropout.features import build_features

    return build_features(tables, as_of_dates, families=[FAMILY])
