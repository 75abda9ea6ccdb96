"""The contribution schedule as known at an as-of date: who is in the cohort, what fell due,
what was paid, what is owed, and which installment falls due next.

Labels, features and scoring all ask these questions; they are answered here once.
`Schedule(tables)` sorts the participants and their installments once; per-as-of
answers are cached for the as-of date being worked on (`forget()` drops them).

Point in time (docs/data.md): an installment is past due at `as_of` when
`due_on < as_of`; a payment counts from its `paid_on` (`paid_on <= as_of`); the schedule
itself (period, deadline, amount) is known in advance.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from dropout.errors import InputError
from dropout.reference import ContributionRules, contribution_rules
from dropout.schema import Tables
from dropout.timeline import (
    NEVER,
    AsOf,
    SortedEvents,
    entity_index,
    month_end,
    month_index,
    normalize_as_of_dates,
    prefix_sum,
    range_sum,
    require_columns,
    str_values,
    to_days,
    to_timestamps,
)

NEEDED_COLUMNS = {
    "participants": ["participant_id", "enrolled_on", "payment_mode", "income_base"],
    "installments": ["participant_id", "period_start", "due_on", "months_covered", "income_base",
                     "amount_due", "paid_on"],
    "withdrawals": ["participant_id", "claimed_on"],
}
#: Columns of `next_installments`.
NEXT_COLUMNS = ["participant_id", "as_of", "period_start", "due_on", "months_covered", "amount_due", "income_base"]


@dataclass
class NextInstallment:
    """Per participant: the first installment due after as_of and not paid by then.

    Taken from the schedule; where the schedule holds none (it ends at a later
    withdrawal, or past the extraction horizon) it is projected one period after the
    last scheduled row with the same months and amount, so a missing row never hints
    at the future.
    """

    period_start: np.ndarray
    due_on: np.ndarray
    months_covered: np.ndarray
    amount_due: np.ndarray
    income_base: np.ndarray
    scheduled: np.ndarray  # True where the row exists in the schedule (labels need it)
    row: np.ndarray  # ledger position of the scheduled row (-1 if projected)


class Schedule:
    """Participants (sorted by participant_id) and their installment ledger, as arrays."""

    def __init__(self, tables: Tables, rules: ContributionRules | None = None):
        if not isinstance(tables, Tables):
            raise TypeError(f"tables must be a dropout.schema.Tables bundle, got {type(tables).__name__}")
        for table, cols in NEEDED_COLUMNS.items():
            require_columns(getattr(tables, table), table, cols)
        self.tables = tables
        self.rules = rules or contribution_rules()
        parts = tables.participants
        pid = parts["participant_id"].to_numpy(np.int64)
        # Sorted by participant_id (a stable sort, as sort_values would), column by column.
        self._order = np.argsort(pid, kind="stable") if len(pid) > 1 and (pid[1:] < pid[:-1]).any() else None
        self.participant_id = self.sort(pid)
        self.n = len(self.participant_id)
        self.enrolled = self.sort(to_days(parts["enrolled_on"]))
        self.payment_mode = self.sort(str_values(parts["payment_mode"]))
        self.registered_income_base = self.sort(parts["income_base"].to_numpy(np.int64))
        w = tables.withdrawals
        self.withdrawn_on = np.full(self.n, NEVER, dtype=np.int64)
        if len(w):
            pos = entity_index(w["participant_id"].to_numpy(np.int64), self.participant_id)
            ok = pos >= 0
            np.minimum.at(self.withdrawn_on, pos[ok], to_days(w["claimed_on"])[ok])
        self._cache: dict = {}

    def sort(self, values: np.ndarray) -> np.ndarray:
        """A participants-table column in the schedule's participant order."""
        return values if self._order is None else values[self._order]

    def forget(self) -> None:
        """Drop the per-as-of cache (called when moving to the next as-of date)."""
        self._cache.clear()

    def cached(self, name: str, asof: AsOf, compute):
        key = (name, int(asof.day))
        if key not in self._cache:
            self._cache[key] = compute(asof)
        return self._cache[key]

    # ------------------------------------------------------------ the cohort

    def cohort(self, asof: AsOf) -> np.ndarray:
        """Enrolled on or before as_of and not withdrawn by as_of."""
        return (self.enrolled <= asof.day) & (self.withdrawn_on > asof.day)

    def in_arrears(self, asof: AsOf) -> np.ndarray:
        """Behind now: the latest installment that fell due before as_of is still unpaid at
        as_of (the member is suspended). Older gaps a member did not make up, while paying
        again, do not count here (they are in `arrears`)."""
        return self.arrears(asof)["behind"]

    def arrears(self, asof: AsOf) -> dict[str, np.ndarray]:
        """Per participant, what is past due and still unpaid as known at as_of: installments,
        months and VND (gross amount due), the due_on of the oldest such row (NEVER if none),
        and `behind`: whether the latest past-due installment is one of them."""
        def compute(a: AsOf):
            L = self.ledger
            lp = L["lapse_prefix"]
            lo, hi = lp[L.start], lp[self.past_due_end(a)]
            state = self.lapse_state(a)
            late = range_sum(state["late_prefix"], lo, hi)
            # The oldest unpaid lapse row: the first k in [lo, hi) with (k + 1 - late_prefix[k + 1]) > (lo - late_prefix[lo]).
            unpaid_prefix = np.arange(len(state["late_prefix"]), dtype=np.int64) - state["late_prefix"]
            first = np.searchsorted(unpaid_prefix, unpaid_prefix[lo] + 1, side="left") - 1
            n = (hi - lo) - late
            oldest = np.where(n > 0, self.lapse_rows["due"][np.clip(first, 0, max(len(self.lapse_rows["due"]) - 1, 0))]
                              if len(self.lapse_rows["due"]) else NEVER, NEVER)
            end = self.past_due_end(a)
            last = np.maximum(end - 1, 0)
            behind = (end > L.start) & (L["paid"][last] > a.day) if len(L) else np.zeros(self.n, dtype=bool)
            return {
                "installments": n,
                "months": range_sum(state["missed_months_prefix"], lo, hi),
                "vnd": range_sum(state["missed_amount_prefix"], lo, hi),
                "oldest_due": oldest,
                "behind": behind,
            }
        return self.cached("arrears", asof, compute)

    # ------------------------------------------------------------ the ledger

    @cached_property
    def ledger(self) -> SortedEvents:
        """Installments sorted by (participant, due_on), with as-of-independent prefix sums."""
        inst = self.tables.installments
        pidx = entity_index(inst["participant_id"].to_numpy(np.int64), self.participant_id)
        keep = pidx >= 0
        if keep.all():
            def take(a):
                return a
        else:
            def take(a):
                return a[keep]
        ledger = SortedEvents(
            take(pidx), take(to_days(inst["due_on"])), self.n,
            period_start=take(to_days(inst["period_start"])),
            paid=take(to_days(inst["paid_on"])),
            months=take(inst["months_covered"].to_numpy(np.int64)),
            amount_due=take(inst["amount_due"].to_numpy(np.int64)),
            income_base=take(inst["income_base"].to_numpy(np.int64)),
        )
        # Not paid by the deadline: known at as_of for every row with due_on < as_of.
        lapse = ledger["paid"] > ledger.day
        ledger.columns["lapse"] = lapse
        ledger.columns["lapse_prefix"] = prefix_sum(lapse)
        ledger.columns["on_time_prefix"] = prefix_sum(~lapse)
        return ledger

    @cached_property
    def lapse_rows(self) -> dict[str, np.ndarray]:
        """The ledger rows not paid by their deadline (a small share), in ledger order.

        Whether such a row is 'paid late' or 'still missed' depends on as_of, so per-as-of
        work runs on these rows only; ledger position p maps to lapse_prefix[p] here.
        """
        L = self.ledger
        rows = np.flatnonzero(L["lapse"])
        return {"paid": L["paid"][rows], "due": L.day[rows], "months": L["months"][rows],
                "amount_due": L["amount_due"][rows]}

    @cached_property
    def payments(self) -> SortedEvents:
        """Paid installments sorted by (participant, paid_on), for 'paid by as_of' questions."""
        L = self.ledger
        rows = np.flatnonzero(L["paid"] < NEVER)
        ev = SortedEvents(L.entity[rows], L["paid"][rows], self.n,
                          months=L["months"][rows], late=L["lapse"][rows])
        ev.columns["months_prefix"] = prefix_sum(ev["months"])
        ev.columns["late_prefix"] = prefix_sum(ev["late"])
        # A payment event: a day on which the member paid (several installments paid on one
        # day, a make-up, count once), as a "transaction" of buy-'til-you-die models.
        new_day = ~(ev.prev_same_entity & (np.diff(ev.day, prepend=np.int64(-1)) == 0))
        ev.columns["event_prefix"] = prefix_sum(new_day)
        return ev

    def past_due_end(self, asof: AsOf) -> np.ndarray:
        """Per participant, ledger position after its last row with due_on < as_of."""
        return self.ledger.before(asof.day)

    def lapse_state(self, asof: AsOf) -> dict[str, np.ndarray]:
        """Per lapse row at as_of: prefix sums of 'paid late by as_of', days late, what is still owed."""
        def compute(a: AsOf):
            lr = self.lapse_rows
            late = lr["paid"] <= a.day
            days_late = np.minimum(lr["paid"], a.day) - lr["due"]
            return {
                "late_prefix": prefix_sum(late),
                "days_late": days_late,
                "days_late_prefix": prefix_sum(days_late),
                "paid_late_days_prefix": prefix_sum(np.where(late, days_late, 0)),
                "missed_months_prefix": prefix_sum(np.where(late, 0, lr["months"])),
                "missed_amount_prefix": prefix_sum(np.where(late, 0, lr["amount_due"])),
            }
        return self.cached("lapse_state", asof, compute)

    def missed_between(self, asof: AsOf, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per participant, rows in ledger range [lo, hi) past due and still unpaid as known at as_of."""
        lp = self.ledger["lapse_prefix"]
        late = self.lapse_state(asof)["late_prefix"]
        return (lp[hi] - lp[lo]) - (late[lp[hi]] - late[lp[lo]])

    def _step_while(self, pos: np.ndarray, condition) -> np.ndarray:
        """Advance each participant's ledger position while `condition(rows)` holds (and rows remain)."""
        L = self.ledger
        pos = pos.copy()
        active = np.flatnonzero(pos < L.end)
        while active.size:
            active = active[condition(pos[active])]
            pos[active] += 1
            active = active[pos[active] < L.end[active]]
        return pos

    def started_end(self, asof: AsOf) -> np.ndarray:
        """Per participant, ledger position after its last period started by as_of."""
        def compute(a: AsOf):
            ps = self.ledger["period_start"]
            # Rows due by as_of have started (period_start <= due_on); the current period may too.
            return self._step_while(self.ledger.before(a.day + 1), lambda rows: ps[rows] <= a.day)
        return self.cached("started_end", asof, compute)

    def last_started_row(self, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
        """Per participant, the ledger row of the latest period started by as_of, and whether one exists."""
        end = self.started_end(asof)
        return np.maximum(end - 1, 0), end > self.ledger.start

    def paid_months(self, asof: AsOf) -> np.ndarray:
        """Months of contributions paid by as_of (all installments with paid_on <= as_of)."""
        P = self.payments
        return range_sum(P["months_prefix"], P.start, P.before(asof.day + 1))

    # ------------------------------------------------------------ deadlines and the next installment

    def deadline_months(self, months_covered: np.ndarray) -> np.ndarray:
        """Deadline (months from the period's first month) for installments covering `months_covered`."""
        modes = self.rules.payment_modes
        months_covered = np.asarray(months_covered, dtype=np.int64)
        out = months_covered.copy()  # unknown spans: due at the period end
        out[out > 12] = modes["multi_year"].deadline_months
        for mode in modes.values():
            if mode.months_covered <= 12:
                out[months_covered == mode.months_covered] = mode.deadline_months
        return out

    @cached_property
    def registered_months(self) -> np.ndarray:
        modes = self.rules.payment_modes
        lookup = {name: m.months_covered for name, m in modes.items()}
        codes, names = pd.factorize(self.payment_mode)
        return np.append([lookup.get(m, 1) for m in names], 1).astype(np.int64)[codes]  # unknown: monthly

    def next_installment(self, asof: AsOf) -> NextInstallment:
        return self.cached("next_installment", asof, self._next_installment)

    def _next_installment(self, asof: AsOf) -> NextInstallment:
        L, t = self.ledger, asof.day
        paid = L["paid"]
        # First row due after as_of, skipping any already paid by as_of.
        candidate = self._step_while(L.before(t + 1), lambda rows: paid[rows] <= t)
        scheduled = candidate < L.end
        row = np.where(scheduled, candidate, -1)
        r = np.minimum(np.maximum(row, 0), max(len(L) - 1, 0))

        # Projection base: the last scheduled row, else the enrolment in the registered mode.
        has_rows = L.end > L.start
        last = np.minimum(np.maximum(L.end - 1, 0), max(len(L) - 1, 0))
        if len(L):
            months = np.where(has_rows, L["months"][last], self.registered_months)
            base_income = np.where(has_rows, L["income_base"][last], self.registered_income_base)
            base_amount = np.where(has_rows, L["amount_due"][last], 0)
            base_month = np.where(has_rows, month_index(L["period_start"][last]), month_index(self.enrolled))
        else:
            months, base_income = self.registered_months, self.registered_income_base
            base_amount = np.zeros(self.n, dtype=np.int64)
            base_month = month_index(self.enrolled)
        virtual_amount = np.rint(self.rules.contribution_rate * base_income * months).astype(np.int64)
        amount = np.where(has_rows, base_amount, virtual_amount)
        deadline = self.deadline_months(months)
        t_month = month_index(np.array([t]))[0]
        need = t_month if month_end(np.array([t_month]))[0] > t else t_month + 1
        k = np.maximum(np.where(has_rows, 1, 0), -((base_month + deadline - 1 - need) // months))  # ceil
        proj_month = base_month + k * months
        proj_start = proj_month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
        proj_due = month_end(proj_month + deadline - 1)

        def pick(col, projected):
            return np.where(scheduled, L[col][r], projected) if len(L) else projected

        return NextInstallment(
            period_start=pick("period_start", proj_start),
            due_on=np.where(scheduled, L.day[r], proj_due) if len(L) else proj_due,
            months_covered=pick("months", months),
            amount_due=pick("amount_due", amount),
            income_base=pick("income_base", base_income),
            scheduled=scheduled,
            row=row,
        )

    def due_within(self, asof: AsOf, horizon_days: int) -> np.ndarray:
        """Per participant: in the cohort (paying or in arrears) and with a scheduled
        installment due in (as_of, as_of + horizon_days]."""
        nxt = self.next_installment(asof)
        return self.cohort(asof) & nxt.scheduled & (nxt.due_on <= asof.day + horizon_days)

    def paid_within(self, asof: AsOf, horizon_days: int) -> np.ndarray:
        """Per participant: whether any payment (of any installment) has its paid_on in
        (as_of, as_of + horizon_days]. Known only once that day has passed."""
        P = self.payments
        return P.before(asof.day + horizon_days + 1) > P.before(asof.day + 1)


def check_horizon(horizon_days) -> int:
    """A positive whole number of days, or ValueError naming the value."""
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, np.integer)) or horizon_days <= 0:
        raise InputError(f"horizon_days must be a positive whole number of days, got {horizon_days!r}")
    return int(horizon_days)


def next_installments(schedule: Schedule, dates: list[pd.Timestamp], horizon_days: int) -> pd.DataFrame:
    """Per as-of date, the installment each member of the cohort (paying or in arrears)
    must pay next, if it falls due within the horizon (`Schedule.due_within`).

    Returns:
        NEXT_COLUMNS plus `_row` (the ledger row of the installment), one row per person
        and as-of date, in as-of then participant order.
    """
    parts = []
    for ts in dates:
        asof = AsOf.of(ts)
        nxt = schedule.next_installment(asof)
        rows = np.flatnonzero(schedule.due_within(asof, horizon_days))
        parts.append(pd.DataFrame({
            "participant_id": schedule.participant_id[rows],
            "as_of": np.full(len(rows), ts.to_datetime64(), dtype="datetime64[ns]"),
            "period_start": to_timestamps(nxt.period_start[rows]),
            "due_on": to_timestamps(nxt.due_on[rows]),
            "months_covered": nxt.months_covered[rows].astype(np.int64),
            "amount_due": nxt.amount_due[rows].astype(np.int64),
            "income_base": nxt.income_base[rows].astype(np.int64),
            "_row": nxt.row[rows],
        }))
        schedule.forget()
    return pd.concat(parts, ignore_index=True)


def next_installment(tables: Tables, as_of_dates, horizon_days: int = 90,
                     schedule: Schedule | None = None) -> pd.DataFrame:
    """The installment each member of the cohort must pay next, if it falls due within the horizon.

    Args:
        tables: validated raw tables.
        as_of_dates: one or several dates (none after tables.extracted_on).
        horizon_days: keep installments with as_of < due_on <= as_of + horizon_days.
        schedule: a `Schedule(tables)` shared with the caller's other work; default: a new one.

    Returns:
        NEXT_COLUMNS; one row per member of the cohort (paying or in arrears) with an
        installment due in the horizon.
    """
    horizon_days = check_horizon(horizon_days)
    dates = normalize_as_of_dates(as_of_dates, tables.extracted_on)
    schedule = schedule if schedule is not None else Schedule(tables)
    return next_installments(schedule, dates, horizon_days)[NEXT_COLUMNS]
