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
    last_true,
    month_end,
    month_index,
    next_true,
    prefix_sum,
    range_max,
    range_sum,
    require_columns,
    to_days,
)
from dropout.io import Tables
from dropout.reference import contribution_rules

# Ordinal poverty rank: the higher, the more state support.
POVERTY_RANK = {"none": 0, "near_poor": 1, "poor": 2}
SUBSIDY_GROUPS = ("poor", "near_poor", "ethnic_minority", "village_worker", "other")
MAJORITY_ETHNICITY = "Kinh"  # every other group counts as an ethnic minority (subsidy group)
VILLAGE_WORKER = "village_worker"
CENTRAL = "*"

NEEDED_COLUMNS = {
    "villages": ["village_id", "commune", "province", "travel_minutes", "ethnic_language"],
    "participants": ["participant_id", "household_id", "village_id", "birth_year", "ethnicity",
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


@dataclass
class PovertyState:
    """Per participant, the household's poverty status as known at as_of."""

    rank: np.ndarray  # 0 none, 1 near-poor, 2 poor
    known: np.ndarray  # any status spell started by as_of
    status_since: np.ndarray  # day the current status began (NEVER if unknown)
    last_change_day: np.ndarray  # NEVER if never changed
    last_change_direction: np.ndarray  # +1 moved out of poverty (lost support), -1 into, 0 none
    left_list_12m: np.ndarray  # bool


class Context:
    """Sorted arrays of one `Tables` bundle, built once per `build_features` call."""

    def __init__(self, tables: Tables):
        for table, cols in NEEDED_COLUMNS.items():
            require_columns(getattr(tables, table), table, cols)
        self.tables = tables
        self.rules = contribution_rules()
        parts = tables.participants.sort_values("participant_id", kind="stable")
        self.participant_id = parts["participant_id"].to_numpy(np.int64)
        self.n = len(self.participant_id)
        self.enrolled = to_days(parts["enrolled_on"])
        self.birth_year = parts["birth_year"].to_numpy(np.int64)
        self.household_id = parts["household_id"].to_numpy(np.int64)
        self.ethnicity = parts["ethnicity"].astype("str").to_numpy()
        self.occupation = parts["occupation"].astype("str").to_numpy()
        self.payment_mode = parts["payment_mode"].astype("str").to_numpy()
        self.registered_income_base = parts["income_base"].to_numpy(np.int64)

        villages = tables.villages.sort_values("village_id", kind="stable")
        self.village_ids = villages["village_id"].astype("str").to_numpy()
        self.village_idx = entity_index(parts["village_id"].astype("str").to_numpy(), self.village_ids)
        self.n_villages = len(self.village_ids)
        self.village_travel_minutes = villages["travel_minutes"].to_numpy(np.float64)
        self.village_language = villages["ethnic_language"].astype("str").to_numpy()
        communes, self.village_commune_idx = np.unique(villages["commune"].astype("str").to_numpy(),
                                                       return_inverse=True)
        self.commune_names = communes
        provinces, self.village_province_idx = np.unique(villages["province"].astype("str").to_numpy(),
                                                         return_inverse=True)
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
        inst = self.tables.installments
        pidx = entity_index(inst["participant_id"].to_numpy(np.int64), self.participant_id)
        keep = pidx >= 0
        due = to_days(inst["due_on"])
        paid = to_days(inst["paid_on"])
        ledger = SortedEvents(
            pidx[keep], due[keep], self.n,
            period_start=to_days(inst["period_start"])[keep],
            paid=paid[keep],
            months=inst["months_covered"].to_numpy(np.int64)[keep],
            amount_due=inst["amount_due"].to_numpy(np.int64)[keep],
            income_base=inst["income_base"].to_numpy(np.int64)[keep],
        )
        # Not paid by the deadline: known at as_of for every row with due_on < as_of.
        ledger.columns["lapse"] = ledger["paid"] > ledger.day
        return ledger

    @cached_property
    def lapse_prefix(self) -> np.ndarray:
        return prefix_sum(self.ledger["lapse"].astype(np.int64))

    def past_due_end(self, asof: AsOf) -> np.ndarray:
        """Per participant, ledger position after its last row with due_on < as_of."""
        return self._cached("past_due_end", asof, lambda a: self.ledger.before(a.day))

    def last_started_row(self, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
        """Per participant, the ledger row of the latest period started by as_of, and whether one exists."""
        def compute(a: AsOf):
            L = self.ledger
            idx = np.where(L["period_start"] <= a.day, np.arange(len(L), dtype=np.int64), -1)
            row = range_max(idx, L.start, L.end, -1)
            return np.maximum(row, 0), row >= 0
        return self._cached("last_started_row", asof, compute)

    def paid_months(self, asof: AsOf) -> np.ndarray:
        """Months of contributions paid by as_of (all installments with paid_on <= as_of)."""
        def compute(a: AsOf):
            L = self.ledger
            months = np.where(L["paid"] <= a.day, L["months"], 0)
            return range_sum(prefix_sum(months), L.start, L.end)
        return self._cached("paid_months", asof, compute)

    def deadline_months(self, months_covered: np.ndarray) -> np.ndarray:
        """Deadline (months from the period's first month) for installments covering `months_covered`."""
        modes = self.rules.payment_modes
        out = np.asarray(months_covered, dtype=np.int64).copy()  # unknown spans: due at the period end
        out[out > 12] = modes["multi_year"].deadline_months
        for mode in modes.values():
            if mode.months_covered <= 12:
                out[np.asarray(months_covered) == mode.months_covered] = mode.deadline_months
        return out

    def next_installment(self, asof: AsOf) -> NextInstallment:
        return self._cached("next_installment", asof, self._next_installment)

    def _next_installment(self, asof: AsOf) -> NextInstallment:
        L, t = self.ledger, asof.day
        first_after = L.through(t)  # first row with due_on > as_of
        candidate = next_true(L["paid"] > t)[first_after]
        scheduled = candidate < L.end
        row = np.where(scheduled, candidate, -1)
        r = np.maximum(row, 0) if len(L) else np.zeros(self.n, dtype=np.int64)

        def pick(col, fallback):
            if not len(L):
                return fallback.copy()
            return np.where(scheduled, L[col][r], fallback)

        # Projection base: the last scheduled row, else the enrolment in the registered mode.
        has_rows = L.end > L.start
        last = np.maximum(L.end - 1, 0)
        modes = self.rules.payment_modes
        reg_months = np.array([modes[m].months_covered if m in modes else 1 for m in self.payment_mode],
                              dtype=np.int64) if self.n else np.zeros(0, dtype=np.int64)
        if len(L):
            months = np.where(has_rows, L["months"][last], reg_months)
            base_amount = np.where(has_rows, L["amount_due"][last], 0)
            base_income = np.where(has_rows, L["income_base"][last], self.registered_income_base)
            base_month = np.where(has_rows, month_index(L["period_start"][last]), month_index(self.enrolled))
        else:
            months, base_income = reg_months, self.registered_income_base
            base_amount = np.zeros(self.n, dtype=np.int64)
            base_month = month_index(self.enrolled)
        virtual_amount = np.rint(self.rules.contribution_rate * base_income * months).astype(np.int64)
        amount = np.where(has_rows, base_amount, virtual_amount)
        deadline = self.deadline_months(months)
        t_month = month_index(np.array([t]))[0]
        need = t_month if month_end(np.array([t_month]))[0] > t else t_month + 1
        k_min = np.where(has_rows, 1, 0)
        k = np.maximum(k_min, -((base_month + deadline - 1 - need) // months))  # ceil division
        proj_month = base_month + k * months

        return NextInstallment(
            period_start=pick("period_start", proj_month.astype("datetime64[M]").astype("datetime64[D]")
                              .astype(np.int64)),
            due_on=np.where(scheduled, L.day[r], month_end(proj_month + deadline - 1)) if len(L)
            else month_end(proj_month + deadline - 1),
            months_covered=pick("months", months),
            amount_due=pick("amount_due", amount),
            income_base=pick("income_base", base_income),
            scheduled=scheduled,
            row=row,
        )

    # ------------------------------------------------------------ poverty

    @cached_property
    def poverty_events(self) -> tuple[SortedEvents, np.ndarray]:
        """Status changes as dated events per household, and each participant's household index.

        Each spell starts an event at valid_from; a spell that ends (valid_to) with no
        spell starting the next day adds a 'none' event at valid_to + 1.
        """
        pov = self.tables.poverty
        households = np.unique(pov["household_id"].to_numpy(np.int64))
        hh = entity_index(pov["household_id"].to_numpy(np.int64), households)
        rank = pov["status"].astype("str").map(POVERTY_RANK).fillna(0).to_numpy(np.int64)
        start = to_days(pov["valid_from"])
        end = to_days(pov["valid_to"])
        ended = end < NEVER
        starts = pd.MultiIndex.from_arrays([hh, start])
        gap = ~pd.MultiIndex.from_arrays([hh[ended], end[ended] + 1]).isin(starts)
        ev_hh = np.concatenate([hh, hh[ended][gap]])
        ev_day = np.concatenate([start, end[ended][gap] + 1])
        ev_rank = np.concatenate([rank, np.zeros(int(gap.sum()), dtype=np.int64)])
        events = SortedEvents(ev_hh, ev_day, len(households), rank=ev_rank)
        r = events["rank"]
        prev = np.where(events.prev_same_entity, np.roll(r, 1), 0)
        events.columns["change"] = r != prev
        events.columns["direction"] = np.sign(prev - r)
        events.columns["loss_prefix"] = prefix_sum((r < prev).astype(np.int64))
        events.columns["last_change"] = last_true(events["change"])
        return events, entity_index(self.household_id, households)

    def poverty_state(self, asof: AsOf) -> PovertyState:
        return self._cached("poverty_state", asof, self._poverty_state)

    def _poverty_state(self, asof: AsOf) -> PovertyState:
        events, hh = self.poverty_events
        n = self.n
        rank = np.zeros(n, dtype=np.int64)
        known = np.zeros(n, dtype=bool)
        since = np.full(n, NEVER, dtype=np.int64)
        change_day = np.full(n, NEVER, dtype=np.int64)
        direction = np.zeros(n, dtype=np.int64)
        left = np.zeros(n, dtype=bool)
        if len(events):
            pos, has = events.last_on_or_before(asof.day)
            lc = events["last_change"][pos]
            has_change = has & (lc >= events.start)
            lc = np.maximum(lc, 0)
            losses = range_sum(events["loss_prefix"], events.through(asof.months_back(12)), events.through(asof.day))
            h_rank = np.where(has, events["rank"][pos], 0)
            h_since = np.where(has_change, events.day[lc], np.where(has, events.day[np.minimum(events.start, len(events) - 1)], NEVER))
            h_change_day = np.where(has_change, events.day[lc], NEVER)
            h_dir = np.where(has_change, events["direction"][lc], 0)
            found = hh >= 0
            i = hh[found]
            rank[found], known[found] = h_rank[i], has[i]
            since[found], change_day[found] = h_since[i], h_change_day[i]
            direction[found], left[found] = h_dir[i], losses[i] > 0
        return PovertyState(rank, known, since, change_day, direction, left)

    # ------------------------------------------------------------ subsidy rates

    def subsidy_rates(self, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
        """Per participant, (central rate, provincial top-up) in force at as_of."""
        return self._cached("subsidy_rates", asof, self._subsidy_rates)

    def _subsidy_rates(self, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
        pol = self.tables.subsidy_policies
        valid_from, valid_to = to_days(pol["valid_from"]), to_days(pol["valid_to"])
        in_force = pol[(valid_from <= asof.day) & (valid_to >= asof.day)]
        group_pos = {g: i for i, g in enumerate(SUBSIDY_GROUPS)}
        n_prov = len(self.province_names)
        table = np.zeros((n_prov + 1, len(SUBSIDY_GROUPS)))  # last row: central
        prov_pos = {p: i for i, p in enumerate(self.province_names)}
        for prov, group, rate in zip(in_force["province"].astype("str"), in_force["group"].astype("str"),
                                     in_force["rate"].to_numpy(np.float64)):
            row = n_prov if prov == CENTRAL else prov_pos.get(prov)
            if row is not None and group in group_pos:
                table[row, group_pos[group]] = max(table[row, group_pos[group]], rate)
        member = self.subsidy_groups(asof)
        central = (member * table[n_prov]).max(axis=1)
        prov_rows = np.where(self.participant_province >= 0, self.participant_province, n_prov)
        provincial = np.where(self.participant_province >= 0, (member * table[prov_rows]).max(axis=1), 0.0)
        return central, provincial

    def subsidy_groups(self, asof: AsOf) -> np.ndarray:
        """(n, 5) 0/1 membership in SUBSIDY_GROUPS at as_of."""
        rank = self.poverty_state(asof).rank
        return np.column_stack([
            rank == POVERTY_RANK["poor"],
            rank == POVERTY_RANK["near_poor"],
            self.ethnicity != MAJORITY_ETHNICITY,
            self.occupation == VILLAGE_WORKER,
            np.ones(self.n, dtype=bool),
        ]).astype(np.float64)

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

