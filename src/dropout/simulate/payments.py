"""Installments month by month: schedule, payments, lapses, make-ups, withdrawals, retirement.

Rules (contribution_rules.yaml, Law on SI 2014/2024):
- A participant's schedule runs from enrolment in steps of the mode's `months_covered`;
  each installment must be paid by the end of its `deadline_months`-th month. The
  schedule goes on while the participant is suspended and stops at a lump-sum
  withdrawal (or at retirement with a pension). A change of mode (only under the
  mode-switch scenario) starts a new schedule at the start of a period (`Schedule`).
- Each installment is decided once, in its deadline month, from the oracle of lapse.py:
  a paying participant lapses (is suspended from the installment's first month); a
  suspended one resumes. Payers pay somewhere in the window, the tardy ones near the
  deadline (latent `tardiness`).
- A resuming participant makes up the missed installments with probability
  `lapse.makeup_share`, on the same day, with simple interest on the net amount at
  `makeup_interest_rate_yearly` per month late; the others leave the gap unpaid.
- Support = rate in force in the deadline month x 22 % x poverty line x months covered,
  within the 120 subsidised months (make-ups: simplification, the rate of the day they
  are paid and no cap). amount_paid = amount_due - support (+ interest).
- Lump-sum withdrawal: after `withdrawal_after_months_out` months suspended, for people
  enrolled before 2025-07-01 with under 20 years paid, with `lapse.withdrawal_monthly_hazard`.
- Declared income base: a participant above the minimum may lower it at the start of a
  period (`lapse.downgrade_prob`, more after a disaster).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout.simulate.lapse import DRIVERS

PENDING, ACTIVE, SUSPENDED, WITHDRAWN, RETIRED = 0, 1, 2, 3, 4
NULL_DAY = np.iinfo(np.int32).min


class Ledger:
    """Installment rows in preallocated slots: person i's rows start at offset[i], one after another.

    Every person's schedule under their enrolment mode is known in advance (it can only
    stop early), so rows land grouped by person and in period order: no sort is needed
    at the end, only dropping the slots never used (after a withdrawal or retirement).
    A schedule that changes (a payment-mode switch, scenarios/mode_switch.py) may need
    more slots than reserved: that person's later rows move to a new segment at the end
    (`relocated`), and `output_rows` then sorts the used rows by person and period.
    """

    def __init__(self, enrol_month: np.ndarray, months_covered: np.ndarray, n_months: int,
                 extra_columns: tuple[str, ...] = ()):
        first = np.maximum(enrol_month, 0)
        steps = -((enrol_month - first) // months_covered)  # ceil((first - enrol) / mc)
        self.first_period = enrol_month + steps * months_covered
        slots = np.maximum(0, -((self.first_period - n_months) // months_covered))
        self.offset = np.concatenate([[0], np.cumsum(slots)[:-1]]).astype(np.int64)
        self.next_row = self.offset.copy()
        self.end_row = self.offset + slots
        self.n_months = n_months
        capacity = int(slots.sum())
        self.size = capacity  # slots handed out so far (the arrays may be longer)
        self.relocated = False
        self.used = np.zeros(capacity, dtype=bool)
        self.period = np.empty(capacity, dtype=np.int16)
        self.months = np.empty(capacity, dtype=np.int16)
        self.base = np.empty(capacity, dtype=np.int64)
        self.due_month = np.empty(capacity, dtype=np.int16)
        self.paid_day = np.full(capacity, NULL_DAY, dtype=np.int32)
        self.amount_paid = np.zeros(capacity, dtype=np.int64)
        self.p_lapse = np.full(capacity, np.nan)
        self.decision = np.zeros(capacity, dtype=np.int8)
        self.lapsed = np.full(capacity, -1, dtype=np.int8)
        # filled where decided; undecided rows are set to NaN when the tables are built
        self.drivers = {name: np.empty(capacity, dtype=np.float32) for name in DRIVERS}
        self.extra = {name: np.empty(capacity, dtype=np.float32) for name in extra_columns}  # scenarios' truth
        self.person = np.repeat(np.arange(len(slots), dtype=np.int32), slots)

    def add(self, person: np.ndarray, period: int, months: np.ndarray, base: np.ndarray,
            due_month: np.ndarray) -> np.ndarray:
        """Rows for the periods of `person` starting in month `period`, covering `months` each."""
        rows = self.next_row[person]
        full = rows >= self.end_row[person]
        if full.any():
            rows[full] = self._relocate(person[full], period, months[full])
        self.next_row[person] = rows + 1
        self.used[rows] = True
        self.period[rows] = period
        self.months[rows] = months
        self.base[rows] = base
        self.due_month[rows] = due_month
        return rows

    def _relocate(self, person: np.ndarray, period: int, months: np.ndarray) -> np.ndarray:
        """New segments at the end for people whose reserved slots ran out; their first rows."""
        need = -((period - self.n_months) // months)  # periods left from `period` on
        start = self.size + np.concatenate([[0], np.cumsum(need)[:-1]]).astype(np.int64)
        end = self.size + int(need.sum())
        if end > len(self.used):
            self._grow(max(end, len(self.used) + len(self.used) // 2))  # few, large steps: each copies every column
        self.person[self.size:end] = np.repeat(person, need)
        self.end_row[person] = start + need
        self.size = end
        self.relocated = True
        return start

    def _grow(self, capacity: int) -> None:
        def grown(a: np.ndarray, fill) -> np.ndarray:
            out = np.empty(capacity, dtype=a.dtype)
            out[: len(a)] = a
            out[len(a):] = fill
            return out

        self.used = grown(self.used, False)
        for name in ("period", "months", "due_month"):
            setattr(self, name, grown(getattr(self, name), 0))
        self.base = grown(self.base, 0)
        self.paid_day = grown(self.paid_day, NULL_DAY)
        self.amount_paid = grown(self.amount_paid, 0)
        self.p_lapse = grown(self.p_lapse, np.nan)
        self.decision = grown(self.decision, 0)
        self.lapsed = grown(self.lapsed, -1)
        self.drivers = {k: grown(v, np.nan) for k, v in self.drivers.items()}
        self.extra = {k: grown(v, np.nan) for k, v in self.extra.items()}
        self.person = grown(self.person, -1)

    def output_rows(self) -> np.ndarray:
        """The used rows in output order (by person, then period): a mask, or positions once relocated."""
        if not self.relocated:
            return self.used
        rows = np.flatnonzero(self.used)
        return rows[np.lexsort((self.period[rows], self.person[rows]))]


@dataclass
class Schedule:
    """Each participant's payment mode now (index into the modes), what it implies, and its anchor.

    Periods start at `anchor` + k x months_covered: the enrolment month, or the month of
    the latest payment-mode switch (the arrays change only under scenarios/mode_switch.py).
    """

    mode: np.ndarray
    months_covered: np.ndarray
    deadline: np.ndarray
    exposure: np.ndarray
    anchor: np.ndarray


@dataclass
class PaymentState:
    """What the scheme knows about each participant now (arrays indexed by participant)."""

    status: np.ndarray
    cur_row: np.ndarray
    cur_due: np.ndarray
    base: np.ndarray
    paid_months: np.ndarray
    subsidised_months: np.ndarray
    susp_since: np.ndarray
    habit: np.ndarray
    pending_visit: np.ndarray
    loss_size: np.ndarray
    loss_month: np.ndarray
    last_rate: np.ndarray
    lapsed_last: np.ndarray
    claimed_day: np.ndarray

    @classmethod
    def new(cls, income_base: np.ndarray, prior_paid_months: np.ndarray, subsidised: np.ndarray) -> "PaymentState":
        n = len(income_base)
        return cls(
            status=np.full(n, PENDING, dtype=np.int8),
            cur_row=np.full(n, -1, dtype=np.int64),
            cur_due=np.full(n, -1, dtype=np.int32),
            base=income_base.copy(),
            paid_months=prior_paid_months.astype(np.int64),
            subsidised_months=subsidised.astype(np.int64),
            susp_since=np.full(n, -1, dtype=np.int32),
            habit=np.zeros(n),
            pending_visit=np.zeros(n),
            loss_size=np.zeros(n),
            loss_month=np.full(n, -10_000, dtype=np.int32),
            last_rate=np.full(n, -1.0),
            lapsed_last=np.zeros(n, dtype=bool),
            claimed_day=np.full(n, NULL_DAY, dtype=np.int64),
        )


def open_rows(ledger: Ledger, st: PaymentState, m: int, enrol_month, schedule: Schedule,
              shock_person, min_base: int, downgrade_prob: float, downgrade_per_shock: float, rng) -> None:
    """Add the installments whose period starts in month `m` (with any downgrade of the base)."""
    live = (st.status == ACTIVE) | (st.status == SUSPENDED)
    months_covered = schedule.months_covered
    idx = np.flatnonzero(live & (enrol_month <= m) & ((m - schedule.anchor) % months_covered == 0))
    if len(idx) == 0:
        return
    above = st.base[idx] > min_base
    p = downgrade_prob * (1.0 + downgrade_per_shock * shock_person[idx])
    down = idx[above & (rng.random(len(idx)) < p)]
    if len(down):
        lowered = np.round(st.base[down] * rng.uniform(0.4, 0.9, len(down)) / 100_000) * 100_000
        st.base[down] = np.maximum(min_base, lowered).astype(np.int64)
    due = m + schedule.deadline[idx] - 1
    st.cur_row[idx] = ledger.add(idx, m, months_covered[idx], st.base[idx], due)
    st.cur_due[idx] = due


def withdraw(st: PaymentState, m: int, enrol_month, enrolled_before_month: int, months_out: int,
             max_months_paid: int, hazard, first_day: int, n_days: int, rng) -> None:
    """Lump-sum withdrawals of this month: the record ends, the schedule stops.

    `hazard` is one monthly probability, or one per participant (scenarios/rumour.py).
    """
    eligible = (
        (st.status == SUSPENDED)
        & (m - st.susp_since >= months_out)
        & (enrol_month < enrolled_before_month)
        & (st.paid_months < max_months_paid)
    )
    idx = np.flatnonzero(eligible)
    who = idx[rng.random(len(idx)) < (hazard if np.isscalar(hazard) else hazard[idx])]
    st.status[who] = WITHDRAWN
    st.cur_due[who] = -1
    st.claimed_day[who] = first_day + rng.integers(0, n_days, len(who))


def retire(st: PaymentState, age: np.ndarray, pension_age: np.ndarray, months_required: int) -> None:
    """People who reach pension age with enough years paid leave the voluntary scheme."""
    live = (st.status == ACTIVE) | (st.status == SUSPENDED)
    who = np.flatnonzero(live & (age >= pension_age) & (st.paid_months >= months_required))
    st.status[who] = RETIRED
    st.cur_due[who] = -1


def paid_days(period_first_day, due_day: int, tardiness, rng) -> np.ndarray:
    """Payment day inside the window; the tardy pay close to the deadline."""
    window = due_day - period_first_day
    before_due = np.floor(window * rng.random(len(tardiness)) ** (1.0 + 6.0 * tardiness))
    return (due_day - before_due).astype(np.int64)


def apply_makeups(ledger: Ledger, episodes: list[tuple], contribution_rate: float, poverty_line: int, interest_yearly: float) -> None:
    """Pay the missed rows of each make-up episode (person, from, to, day, month, rate)."""
    if not episodes:
        return
    person, start, stop, day, month, rate = (np.concatenate([e[k] for e in episodes]) for k in range(6))
    order = np.lexsort((start, person))
    person, start, stop, day, month, rate = (a[order] for a in (person, start, stop, day, month, rate))
    unpaid = np.flatnonzero(ledger.used & (ledger.paid_day == NULL_DAY))
    big = np.int64(1 << 20)
    key_ep = person.astype(np.int64) * big + start
    key_row = ledger.person[unpaid].astype(np.int64) * big + ledger.period[unpaid]
    pos = np.searchsorted(key_ep, key_row, side="right") - 1
    ok = pos >= 0
    pos = np.where(ok, pos, 0)
    ok &= (person[pos] == ledger.person[unpaid]) & (ledger.period[unpaid] < stop[pos])
    rows, pos = unpaid[ok], pos[ok]
    months = ledger.months[rows].astype(np.int64)
    due = np.round(contribution_rate * ledger.base[rows] * months)
    support = np.round(rate[pos] * contribution_rate * poverty_line * months)
    late = np.maximum(month[pos] - ledger.due_month[rows], 0)
    ledger.paid_day[rows] = day[pos]
    ledger.amount_paid[rows] = np.round(np.maximum(due - support, 0) * (1.0 + interest_yearly * late / 12.0))
