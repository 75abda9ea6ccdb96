"""The monthly loop: every mechanism steps once a month, vectorised over people.

Order within a month: enrolment; disasters; household income; poverty reviews;
scenarios' own state; withdrawals and retirements; payment-mode switches; new
installment periods; officers' visits; then every installment whose deadline falls in
this month is decided (paid or not). Scenarios (scenarios/base.py lists their hooks)
are called only when some are switched on: with none, the run is exactly the preset's.

The loop runs 12 months past the extraction date so that the schedule of the next year
exists and its decisions are in truth/ (the oracle of what happens next). In those
months nobody enrols, withdraws, retires or is visited: `p_lapse` of an installment due
after the extraction date is the risk if nobody is visited from now on. Events of those
months never reach the raw tables (tables.py cuts them at the extraction date).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from dropout.reference import ContributionRules
from dropout.simulate.config import SimConfig
from dropout.simulate.disasters import DisasterModel
from dropout.simulate.geography import Geography
from dropout.simulate.lapse import DRIVERS, PAY, RESUME, drivers, lapse_logit, p_unpaid
from dropout.simulate.outreach import Outreach
from dropout.simulate.payments import (
    ACTIVE,
    SUSPENDED,
    Ledger,
    PaymentState,
    Schedule,
    apply_makeups,
    open_rows,
    paid_days,
    retire,
    withdraw,
)
from dropout.simulate.population import Population
from dropout.simulate.poverty import NEAR_POOR, POOR, HouseholdEconomy
from dropout.simulate.scenarios.base import Batch, ScenarioSet, World
from dropout.simulate.subsidy import SubsidyRates

FUTURE_MONTHS = 12


@dataclass
class Calendar:
    """Months of the run as indices from the window start; days as days since 1970-01-01."""

    start: np.datetime64  # first month, datetime64[M]
    n_observed: int
    n_total: int

    def __post_init__(self):
        # a year of slack: an installment opened in the last month may fall due months later
        months = np.arange(self.start, self.start + self.n_total + 13, dtype="datetime64[M]")
        self.first_day = months.astype("datetime64[D]").astype(np.int64)
        self.last_day = self.first_day[1:] - 1
        self.m0 = int(self.start.astype(np.int64))

    def cal(self, m: int) -> int:
        return (self.m0 + m) % 12

    def year(self, m: int) -> int:
        return (self.m0 + m) // 12 + 1970

    def month_of(self, month: str) -> int:
        return int(np.datetime64(month, "M").astype(np.int64)) - self.m0

    @property
    def extracted_day(self) -> int:
        return int(self.last_day[self.n_observed - 1])


@dataclass
class RunOutput:
    ledger: Ledger
    state: PaymentState
    schedule: Schedule
    economy: HouseholdEconomy
    disasters: DisasterModel
    outreach: Outreach


def run(cfg: SimConfig, rules: ContributionRules, subsidy: SubsidyRates, geo: Geography, pop: Population,
        calendar: Calendar, rngs: dict[str, np.random.Generator],
        progress: Callable[[int, int], None] | None = None, scenarios: ScenarioSet | None = None) -> RunOutput:
    """Step every mechanism month by month and return the filled ledger and models."""
    scen = scenarios if scenarios is not None else ScenarioSet([])
    lp = cfg.lapse
    mode_specs = [rules.payment_modes[name] for name in pop.modes]
    months_covered = np.array([s.months_covered for s in mode_specs])[pop.mode]
    deadline = np.array([s.deadline_months for s in mode_specs])[pop.mode]
    exposure = np.array([lp.exposure_months[name] for name in pop.modes])[pop.mode]
    pension_age = np.where(pop.female, rules.pension_age["F"], rules.pension_age["M"]).astype(float)
    months_required = 12 * rules.pension_years_required
    travel = geo.village_travel[pop.village].astype(float)
    reform_month = calendar.month_of(rules.withdrawal_enrolled_before.strftime("%Y-%m"))
    subsidy_start = calendar.month_of(subsidy.policies["valid_from"].min().strftime("%Y-%m"))
    # months already subsidised before the window: paid VSI months since support began (2018)
    since = np.maximum(pop.enrol_month, subsidy_start)
    subsidised = np.rint(np.maximum(-since, 0) * cfg.population.stock_paid_share).astype(np.int64)

    ledger = Ledger(pop.enrol_month, months_covered, calendar.n_total, scen.truth_columns)
    st = PaymentState.new(pop.income_base, pop.prior_paid_months, subsidised)
    schedule = Schedule(mode=pop.mode, months_covered=months_covered, deadline=deadline, exposure=exposure,
                        anchor=pop.enrol_month)
    economy = HouseholdEconomy(cfg, pop.household_income, geo.village_commune[pop.household_village],
                               geo.n_communes, calendar.start, calendar.n_total, rngs["economy"])
    disasters = DisasterModel(cfg.disasters, geo, rngs["disasters"])
    outreach = Outreach(cfg.outreach, pop, geo, rngs["outreach"])
    village_dec = np.zeros((calendar.n_total, geo.n_villages), dtype=np.int32)
    village_lapse = np.zeros((calendar.n_total, geo.n_villages), dtype=np.int32)
    episodes: list[tuple] = []
    rng = rngs["payments"]
    if scen:
        schedule = Schedule(**{k: v.copy() for k, v in vars(schedule).items()})  # scenarios may switch modes
        exposure_of_months = np.zeros(max(s.months_covered for s in mode_specs) + 1)
        for spec in mode_specs:
            exposure_of_months[spec.months_covered] = lp.exposure_months[spec.name]
        occupation = pop.participants["occupation"].to_numpy(dtype=object)
        scen.start(World(cfg=cfg, rules=rules, geo=geo, pop=pop, calendar=calendar, st=st, schedule=schedule,
                         economy=economy, policies=subsidy.policies, occupation=occupation,
                         outreach=outreach))

    for m in range(calendar.n_total):
        cal, year = calendar.cal(m), calendar.year(m)
        first_day = int(calendar.first_day[m])
        n_days = int(calendar.last_day[m] - first_day + 1)
        observed = m < calendar.n_observed
        st.status[(pop.enrol_month <= m) if m == 0 else (pop.enrol_month == m)] = ACTIVE

        shock = disasters.step(m, cal, first_day, n_days)
        if scen:
            scen.month(m, cal, observed)
        economy.step_income(m, cal, shock, scen.income_factor() if scen else None)
        economy.review(year, cal, first_day, disasters.severe)
        age = year + (cal + 0.5) / 12.0 - pop.birth_year - 0.5
        if observed:
            hazard = lp.withdrawal_monthly_hazard
            factor = scen.withdrawal_factor() if scen else None
            withdraw(st, m, pop.enrol_month, reform_month, rules.withdrawal_after_months_out,
                     12 * rules.withdrawal_max_years_paid, hazard if factor is None else hazard * factor,
                     first_day, n_days, rng)
            retire(st, age, pension_age, months_required)
        shock_person = shock[pop.commune]
        if scen:
            scen.switch_modes(m, cal, observed)
            extra = scen.downgrade_shock()
            shock_person = shock_person if extra is None else shock_person + extra
        open_rows(ledger, st, m, pop.enrol_month, schedule, shock_person,
                  rules.min_income_base, lp.downgrade_prob, lp.downgrade_per_shock, rng)

        lo = max(0, m - lp.neighbour_months)
        dec = village_dec[lo:m].sum(axis=0)
        lap = village_lapse[lo:m].sum(axis=0)
        village_rate = (lap + lp.neighbour_prior_rate * lp.neighbour_prior_weight) / (dec + lp.neighbour_prior_weight)
        if observed:
            since = outreach.n_blocks
            outreach.step(m, st, first_day, n_days, village_rate)
            if scen:
                scen.after_outreach(outreach, since)

        idx = np.flatnonzero(st.cur_due == m)
        if len(idx):
            rows = st.cur_row[idx]
            suspended = st.status[idx] == SUSPENDED
            status = economy.status[pop.household[idx]]
            rate = subsidy.person_rate(
                np.datetime64(int(calendar.last_day[m]), "D"), pop.province[idx],
                status == POOR, status == NEAR_POOR, pop.minority[idx], pop.village_worker[idx],
            )
            mc = ledger.months[rows].astype(np.int64)
            sub_months = np.clip(rules.subsidy_max_months - st.subsidised_months[idx], 0, mc)
            amount_due = np.round(rules.contribution_rate * ledger.base[rows] * mc)
            support = np.round(rate * rules.contribution_rate * rules.poverty_line_vnd * sub_months)
            net = np.maximum(amount_due - support, 0)

            # a lower support rate than at the last decision is a loss that fades out
            new_loss = np.where(st.last_rate[idx] >= 0, np.maximum(st.last_rate[idx] - rate, 0.0), 0.0)
            lost = idx[new_loss > 1e-9]
            st.loss_size[lost] = new_loss[new_loss > 1e-9]
            st.loss_month[lost] = m
            st.last_rate[idx] = rate
            faded = np.clip(1.0 - (m - st.loss_month[idx]) / lp.subsidy_loss_months, 0.0, 1.0)

            years_to_pension = np.maximum(pension_age[idx] - age[idx], (months_required - st.paid_months[idx]) / 12.0)
            d = drivers(
                lp,
                net_cost_share=net / mc / economy.income[pop.household[idx]],
                disaster_shock=shock[pop.commune[idx]],
                subsidy_loss=st.loss_size[idx] * faded,
                habit=st.habit[idx],
                tenure_months=(m - pop.enrol_month[idx]).astype(float),
                age=age[idx],
                travel_minutes=travel[idx],
                village_lapse_rate=village_rate[pop.village[idx]],
                years_to_pension=np.maximum(years_to_pension, 0.0),
                visit_effect=st.pending_visit[idx],
                person_effect=pop.person_effect[idx],
            )
            st.pending_visit[idx] = 0.0
            makeup_share = lp.makeup_share
            if scen:
                row_exposure = exposure_of_months[mc]  # the mode of this installment (modes may switch)
                extra_logit, blocked, share, extra_truth = scen.decide(
                    Batch(m=m, cal=cal, idx=idx, suspended=suspended, rate=rate, exposure=row_exposure))
                p_logit = p_unpaid(lp, lapse_logit(lp, d) + extra_logit, row_exposure, suspended)
                p = 1.0 - (1.0 - blocked) * (1.0 - p_logit)
                makeup_share = makeup_share if share is None else share
                for name, values in extra_truth.items():
                    ledger.extra[name][rows] = values
            else:
                p = p_unpaid(lp, lapse_logit(lp, d), exposure[idx], suspended)
            lapsed = rng.random(len(idx)) < p
            day = paid_days(calendar.first_day[ledger.period[rows]], int(calendar.last_day[m]), pop.tardiness[idx], rng)

            ledger.p_lapse[rows] = p
            ledger.decision[rows] = np.where(suspended, RESUME, PAY)
            ledger.lapsed[rows] = lapsed
            for name in DRIVERS:
                ledger.drivers[name][rows] = d[name]
            paid = ~lapsed
            ledger.paid_day[rows[paid]] = day[paid]
            ledger.amount_paid[rows[paid]] = net[paid]

            # state after the deadline
            active = ~suspended
            newly = active & lapsed
            st.status[idx[newly]] = SUSPENDED
            st.susp_since[idx[newly]] = ledger.period[rows[newly]]
            st.paid_months[idx[paid]] += mc[paid]
            st.subsidised_months[idx[paid]] += sub_months[paid]
            resumed = suspended & paid
            makeup = resumed & (rng.random(len(idx)) < makeup_share)
            if makeup.any():
                who = idx[makeup]
                stop = ledger.period[rows[makeup]].astype(np.int64)
                start = st.susp_since[who].astype(np.int64)
                episodes.append((who, start, stop, day[makeup], np.full(len(who), m), rate[makeup]))
                st.paid_months[who] += stop - start
            st.status[idx[resumed]] = ACTIVE
            st.lapsed_last[idx[active]] = lapsed[active]
            st.lapsed_last[idx[resumed]] = False
            st.habit[idx[active]] = (1 - lp.habit_memory) * st.habit[idx[active]] + lp.habit_memory * lapsed[active]
            st.cur_due[idx] = -1
            village_dec[m] = np.bincount(pop.village[idx[active]], minlength=geo.n_villages)
            village_lapse[m] = np.bincount(pop.village[idx[newly]], minlength=geo.n_villages)
        if progress is not None:
            progress(m + 1, calendar.n_total)

    apply_makeups(ledger, episodes, rules.contribution_rate, rules.poverty_line_vnd,
                  rules.makeup_interest_rate_yearly)
    return RunOutput(ledger=ledger, state=st, schedule=schedule, economy=economy, disasters=disasters,
                     outreach=outreach)
