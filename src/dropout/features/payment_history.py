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

from dropout.features.context import Context
from dropout.timeline import (
    AsOf,
    last_true,
    months_since,
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
        L = ctx.schedule.ledger
        # Days before the deadline of installments paid by it (0 for the others: their
        # margin is negative and known only once paid, see `compute`).
        on_time = ~L["lapse"]
        self.on_time_margin_prefix = prefix_sum(np.where(on_time, L.day - np.minimum(L["paid"], L.day), 0))
        lapse = L["lapse"]
        # A suspension starts at a lapse whose previous installment was not a lapse.
        prev_lapse = np.zeros(len(L), dtype=bool)
        prev_lapse[1:] = lapse[:-1]
        prev_lapse &= L.prev_same_entity
        self.suspension_prefix = prefix_sum(lapse & ~prev_lapse)
        self.last_lapse = last_true(lapse)  # for the on-time streak
        # A lower income base than the participant's previous installment.
        prev_base = np.roll(L["income_base"], 1)
        self.downgrade_prefix = prefix_sum(L.prev_same_entity & (L["income_base"] < prev_base))


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    L, P, t, n = ctx.schedule.ledger, ctx.schedule.payments, asof.day, ctx.n
    static = ctx.once("payment_history_static", lambda: _Static(ctx))
    out: dict[str, np.ndarray] = {}
    out["tenure_months"] = whole_months_between(ctx.enrolled, t).astype(np.int32)
    out["age_years"] = (asof.ts.year - ctx.birth_year).astype(np.int16)

    # Rows [L.start, hi) are past due. Lapse rows are indexed through lapse_prefix.
    hi = ctx.schedule.past_due_end(asof)
    lp = L["lapse_prefix"]
    state = ctx.schedule.lapse_state(asof)
    l_hi = lp[hi]
    for w in WINDOWS_MONTHS:
        lo = L.before(asof.months_back(w))
        l_lo = lp[lo]
        due = hi - lo
        lapses = l_hi - l_lo
        late = range_sum(state["late_prefix"], l_lo, l_hi)
        out[f"installments_due_{w}m"] = due.astype(np.int16)
        out[f"paid_on_time_{w}m"] = (due - lapses).astype(np.int16)
        out[f"paid_late_{w}m"] = late.astype(np.int16)
        out[f"missed_{w}m"] = (lapses - late).astype(np.int16)
        if w == 12:
            # Days past the deadline: 0 when on time; for lapses paid_on - due_on, or as_of - due_on so far.
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = range_sum(state["days_late_prefix"], l_lo, l_hi) / due
            out["mean_days_late_12m"] = np.where(due > 0, mean, np.nan).astype(np.float32)
            mx = range_max(state["days_late"], l_lo, l_hi, 0)
            out["max_days_late_12m"] = np.where(due > 0, mx, np.nan).astype(np.float32)

    lo_last = np.maximum(L.start, hi - LAST_N)
    out[f"lapses_last_{LAST_N}"] = range_sum(lp, lo_last, hi).astype(np.int16)

    arrears = ctx.schedule.arrears(asof)
    out["arrears_installments"] = arrears["installments"].astype(np.int16)
    out["arrears_months"] = arrears["months"].astype(np.int32)
    out["arrears_vnd"] = arrears["vnd"]
    out["months_in_arrears"] = months_since(arrears["oldest_due"], t, arrears["installments"] > 0).astype(np.float32)
    out["behind_on_payments"] = arrears["behind"].astype(np.int8)

    # Consecutive on-time installments ending with the latest past-due one.
    last_bad = static.last_lapse[np.maximum(hi - 1, 0)] if len(L) else np.zeros(n, dtype=np.int64)
    streak = (hi - 1) - np.maximum(last_bad, L.start - 1)
    out["on_time_streak"] = np.where(hi > L.start, streak, 0).astype(np.int16)

    paid_end = P.before(t + 1)  # payments received by as_of: [P.start, paid_end)
    has_paid = paid_end > P.start
    months = np.full(n, np.nan, dtype=np.float32)
    since_first = np.full(n, np.nan, dtype=np.float32)
    if len(P):
        months[has_paid] = whole_months_between(P.day[paid_end[has_paid] - 1], t)
        since_first[has_paid] = whole_months_between(P.day[P.start[has_paid]], t)
    out["months_since_last_payment"] = months
    out["months_since_first_payment"] = since_first
    out["payment_days_total"] = range_sum(P["event_prefix"], P.start, paid_end).astype(np.int32)
    out.update(_payment_margins(ctx, asof, static, hi))

    # The current mode: installments of the latest period started by as_of.
    row, started = ctx.schedule.last_started_row(asof)
    nxt = ctx.schedule.next_installment(asof)
    cur_months = np.where(started, L["months"][row], nxt.months_covered) if len(L) else nxt.months_covered
    out.update(_mode_flags(ctx, cur_months))
    cur_base = np.where(started, L["income_base"][row], nxt.income_base) if len(L) else nxt.income_base
    out["income_base_vnd"] = cur_base.astype(np.int64)
    out["income_base_downgrades"] = range_sum(static.downgrade_prefix, L.start, ctx.schedule.started_end(asof)).astype(np.int16)

    makeup_from = P.before(asof.months_back(12) + 1)
    out["makeup_payments_12m"] = range_sum(P["late_prefix"], makeup_from, paid_end).astype(np.int16)
    out["suspensions_total"] = range_sum(static.suspension_prefix, L.start, hi).astype(np.int16)
    out["paid_months_total"] = range_sum(P["months_prefix"], P.start, paid_end).astype(np.int32)
    out["years_to_pension"] = years_to_pension(ctx.rules, ctx.female, out["age_years"], out["paid_months_total"])
    return out


def _payment_margins(ctx: Context, asof: AsOf, static: _Static, hi: np.ndarray) -> dict[str, np.ndarray]:
    """How many days before its deadline each installment was paid, on average over the
    installments due in the last 12 months and paid by as_of (late ones count negative),
    and the latest such installment's margin minus that average: paying ever closer to
    the deadline is a sign of strain before any installment is missed."""
    L = ctx.schedule.ledger
    lp = L["lapse_prefix"]
    state = ctx.schedule.lapse_state(asof)
    lo = L.before(asof.months_back(12))
    n_on_time = (hi - lo) - (lp[hi] - lp[lo])
    n_late_paid = range_sum(state["late_prefix"], lp[lo], lp[hi])
    total = range_sum(static.on_time_margin_prefix, lo, hi) - range_sum(state["paid_late_days_prefix"], lp[lo], lp[hi])
    count = n_on_time + n_late_paid
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    # The latest past-due installment, when it was paid by as_of.
    last = np.maximum(hi - 1, 0)
    known = (hi > L.start) & (L["paid"][last] <= asof.day) if len(L) else np.zeros(ctx.n, dtype=bool)
    last_margin = np.where(known, L.day[last] - L["paid"][last], np.nan) if len(L) else np.full(ctx.n, np.nan)
    return {
        "payment_margin_days_12m": mean.astype(np.float32),
        "payment_margin_trend_days": (last_margin - mean).astype(np.float32),
    }


def years_to_pension(rules, female: np.ndarray, age_years: np.ndarray, paid_months: np.ndarray) -> np.ndarray:
    """Years until a pension is earned: both the pension age (by sex) and the years of
    contributions the law requires must be reached (features/contribution_rules.yaml);
    0 once both are. Close to a pension, stopping throws the paid years away."""
    pension_age = np.where(female, rules.pension_age["F"], rules.pension_age["M"])
    to_age = pension_age - age_years.astype(np.float64)
    to_paid = (12 * rules.pension_years_required - paid_months.astype(np.float64)) / 12.0
    return np.round(np.clip(np.maximum(to_age, to_paid), 0.0, None), 1).astype(np.float32)
