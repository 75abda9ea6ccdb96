"""The validated raw tables turned into sorted arrays once, shared by every family.

`Context` holds per-participant arrays (sorted by participant_id), the installment
ledger sorted by (participant, due_on), and per-as-of facts several families need
(the next installment, the household's poverty status, months already paid), cached
for the as-of date being built.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from dropout.features._time import (
    NEVER,
    AsOf,
    SortedEvents,
    entity_index,
    month_end,
    month_index,
    prefix_sum,
    range_sum,
    require_columns,
    str_values,
    to_days,
)
from dropout.features._poverty import POVERTY_RANK, PovertyState, poverty_events, poverty_state
from dropout.schema import Tables
from dropout.reference import contribution_rules

SUBSIDY_GROUPS = ("poor", "near_poor", "ethnic_minority", "village_worker", "other")
MAJORITY_ETHNICITY = "Kinh"  # every other group counts as an ethnic minority (subsidy group)
VILLAGE_WORKER = "village_worker"
CENTRAL = "*"

NEEDED_COLUMNS = {
    "villages": ["village_id", "commune", "province", "travel_minutes", "ethnic_language"],
    "participants": ["participant_id", "household_id", "village_id", "birth_year", "sex", "ethnicity",
                     "occupation", "enrolled_on", "payment_mode", "income_base"],
    "installments": ["participant_id", "period_start", "due_on", "months_covered", "income_base",
                     "amount_due", "paid_on"],
    "poverty": ["household_id", "status", "valid_from", "valid_to"],
    "disasters": ["commune", "started_on", "severity"],
    "subsidy_policies": ["province", "group", "valid_from", "valid_to", "rate"],
    "visits": ["participant_id", "village_id", "visited_on", "kind", "language"],
    "withdrawals": ["participant_id", "claimed_on"],
}


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


class Context:
    """Sorted arrays of one `Tables` bundle, built once per `build_features` call."""

    def __init__(self, tables: Tables):
        for table, cols in NEEDED_COLUMNS.items():
            require_columns(getattr(tables, table), table, cols)
        self.tables = tables
        self.rules = contribution_rules()
        # Participants sorted by participant_id (a stable sort, as sort_values would), taken
        # column by column from numpy arrays: cheaper than sorting the frame when it is small.
        parts = tables.participants
        pid = parts["participant_id"].to_numpy(np.int64)
        order = np.argsort(pid, kind="stable") if len(pid) > 1 and (pid[1:] < pid[:-1]).any() else None

        def sort(values: np.ndarray) -> np.ndarray:
            return values if order is None else values[order]

        self.participant_id = sort(pid)
        self.n = len(self.participant_id)
        self.enrolled = sort(to_days(parts["enrolled_on"]))
        self.birth_year = sort(parts["birth_year"].to_numpy(np.int64))
        self.female = sort(str_values(parts["sex"])) == "F"
        self.household_id = sort(parts["household_id"].to_numpy(np.int64))
        self.ethnicity = sort(str_values(parts["ethnicity"]))
        self.occupation = sort(str_values(parts["occupation"]))
        self.payment_mode = sort(str_values(parts["payment_mode"]))
        self.registered_income_base = sort(parts["income_base"].to_numpy(np.int64))

        villages = tables.villages
        if not villages["village_id"].is_monotonic_increasing:
            villages = villages.sort_values("village_id", kind="stable")
        self.village_ids = str_values(villages["village_id"])
        self.village_idx = entity_index(sort(str_values(parts["village_id"])), self.village_ids)
        self.n_villages = len(self.village_ids)
        self.village_travel_minutes = villages["travel_minutes"].to_numpy(np.float64)
        self.village_language = str_values(villages["ethnic_language"])
        communes, self.village_commune_idx = np.unique(str_values(villages["commune"]), return_inverse=True)
        self.commune_names = communes
        provinces, self.village_province_idx = np.unique(str_values(villages["province"]), return_inverse=True)
        self.province_names = provinces

        w = tables.withdrawals
        self.withdrawn_on = np.full(self.n, NEVER, dtype=np.int64)
        if len(w):
            pos = entity_index(w["participant_id"].to_numpy(np.int64), self.participant_id)
            ok = pos >= 0
            np.minimum.at(self.withdrawn_on, pos[ok], to_days(w["claimed_on"])[ok])
        self._cache: dict = {}
        self._static: dict = {}

    # ------------------------------------------------------------ participants

    def cohort(self, asof: AsOf) -> np.ndarray:
        """Enrolled on or before as_of and not withdrawn by as_of."""
        return (self.enrolled <= asof.day) & (self.withdrawn_on > asof.day)

    @cached_property
    def participant_commune(self) -> np.ndarray:
        return np.where(self.village_idx >= 0, self.village_commune_idx[np.maximum(self.village_idx, 0)], -1)

    @cached_property
    def participant_province(self) -> np.ndarray:
        return np.where(self.village_idx >= 0, self.village_province_idx[np.maximum(self.village_idx, 0)], -1)

    def once(self, name: str, factory):
        """An as-of-independent value computed on first use and kept for this Context."""
        if name not in self._static:
            self._static[name] = factory()
        return self._static[name]

    def forget(self) -> None:
        """Drop the per-as-of cache (called when moving to the next as-of date)."""
        self._cache.clear()

    def _cached(self, name: str, asof: AsOf, compute):
        key = (name, int(asof.day))
        if key not in self._cache:
            self._cache[key] = compute(asof)
        return self._cache[key]

    # ------------------------------------------------------------ installment ledger

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
                "missed_months_prefix": prefix_sum(np.where(late, 0, lr["months"])),
                "missed_amount_prefix": prefix_sum(np.where(late, 0, lr["amount_due"])),
            }
        return self._cached("lapse_state", asof, compute)

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
        return self._cached("started_end", asof, compute)

    def last_started_row(self, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
        """Per participant, the ledger row of the latest period started by as_of, and whether one exists."""
        end = self.started_end(asof)
        return np.maximum(end - 1, 0), end > self.ledger.start

    def paid_months(self, asof: AsOf) -> np.ndarray:
        """Months of contributions paid by as_of (all installments with paid_on <= as_of)."""
        P = self.payments
        return range_sum(P["months_prefix"], P.start, P.before(asof.day + 1))

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
        return self._cached("next_installment", asof, self._next_installment)

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

    # ------------------------------------------------------------ poverty

    @cached_property
    def poverty_events(self) -> tuple[SortedEvents, np.ndarray]:
        return poverty_events(self)

    def poverty_state(self, asof: AsOf) -> PovertyState:
        return self._cached("poverty_state", asof, lambda a: poverty_state(self, a))

    # ------------------------------------------------------------ subsidy rates

    def subsidy_rates(self, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
        """Per participant, (central rate, provincial top-up) in force at as_of."""
        return self._cached("subsidy_rates", asof, self._subsidy_rates)

    def _subsidy_rates(self, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
        pol = self.once("subsidy_policies", self._policy_arrays)
        in_force = np.flatnonzero((pol["valid_from"] <= asof.day) & (pol["valid_to"] >= asof.day))
        group_pos = {g: i for i, g in enumerate(SUBSIDY_GROUPS)}
        n_prov = len(self.province_names)
        table = np.zeros((n_prov + 1, len(SUBSIDY_GROUPS)))  # last row: central
        prov_pos = {p: i for i, p in enumerate(self.province_names)}
        for prov, group, rate in zip(pol["province"][in_force], pol["group"][in_force], pol["rate"][in_force]):
            row = n_prov if prov == CENTRAL else prov_pos.get(prov)
            if row is not None and group in group_pos:
                table[row, group_pos[group]] = max(table[row, group_pos[group]], rate)
        member = self.subsidy_groups(asof)
        prov = self.participant_province
        has_prov = prov >= 0
        prov_i = np.maximum(prov, 0)
        central = np.zeros(self.n)
        provincial = np.zeros(self.n)
        for g, is_member in enumerate(member):
            if table[n_prov, g] > 0:
                central = np.maximum(central, np.where(is_member, table[n_prov, g], 0.0))
            if n_prov and table[:n_prov, g].any():
                rate = np.where(has_prov, table[:n_prov, g][prov_i], 0.0)
                provincial = np.maximum(provincial, np.where(is_member, rate, 0.0))
        return central, provincial

    def _policy_arrays(self) -> dict[str, np.ndarray]:
        pol = self.tables.subsidy_policies
        return {"valid_from": to_days(pol["valid_from"]), "valid_to": to_days(pol["valid_to"]),
                "province": str_values(pol["province"]), "group": str_values(pol["group"]),
                "rate": pol["rate"].to_numpy(np.float64)}

    @cached_property
    def ethnic_minority(self) -> np.ndarray:
        return self.ethnicity != MAJORITY_ETHNICITY

    @cached_property
    def village_worker(self) -> np.ndarray:
        return self.occupation == VILLAGE_WORKER

    def subsidy_groups(self, asof: AsOf) -> list[np.ndarray]:
        """Membership in each of SUBSIDY_GROUPS at as_of (boolean arrays, in that order)."""
        rank = self.poverty_state(asof).rank
        return [
            rank == POVERTY_RANK["poor"],
            rank == POVERTY_RANK["near_poor"],
            self.ethnic_minority,
            self.village_worker,
            np.ones(self.n, dtype=bool),
        ]

    def net_cost(self, asof: AsOf) -> dict[str, np.ndarray]:
        """The next installment's cost to the participant after state and provincial support."""
        return self._cached("net_cost", asof, self._net_cost)

    def _net_cost(self, asof: AsOf) -> dict[str, np.ndarray]:
        rules = self.rules
        central, provincial = self.subsidy_rates(asof)
        nxt = self.next_installment(asof)
        months_left = np.maximum(0, rules.subsidy_max_months - self.paid_months(asof))
        subsidised = np.minimum(nxt.months_covered, months_left)
        support = (central + provincial) * rules.contribution_rate * rules.poverty_line_vnd * subsidised
        net = np.maximum(0.0, nxt.amount_due - support)
        return {
            "central": central,
            "provincial": provincial,
            "months_left": months_left,
            "net_amount": net,
            "net_monthly": net / np.maximum(nxt.months_covered, 1),
        }

