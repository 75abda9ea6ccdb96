"""From the simulator's arrays to the eight contract tables (docs/data.md) and truth/.

The extraction date cuts everything: no payment, poverty decision, disaster, visit or
withdrawal after it reaches the raw tables; the installment schedule of the following
12 months is kept (unpaid). truth/installments has the same rows in the same order as
installments, with the oracle of every decided installment (NaN when undecided).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.io import Tables
from dropout.reference import ContributionRules
from dropout.simulate.engine import Calendar, RunOutput
from dropout.simulate.geography import Geography
from dropout.simulate.lapse import DECISIONS, DRIVERS
from dropout.simulate.payments import NULL_DAY
from dropout.simulate.population import Population


def _dates(days: np.ndarray) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")


def installments_and_truth(out: RunOutput, pop: Population, calendar: Calendar,
                           rules: ContributionRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Installments (paid_on cut at extraction) and truth/installments, by participant and period."""
    led = out.ledger
    n = led.n
    rank = np.empty(pop.n, dtype=np.int64)
    rank[np.argsort(pop.participant_id, kind="stable")] = np.arange(pop.n)
    order = np.argsort(rank[led.person[:n]], kind="stable")  # rows already in period order per person

    person = led.person[:n][order]
    period = led.period[:n][order].astype(np.int64)
    due_month = led.due_month[:n][order].astype(np.int64)
    months = led.months[:n][order].astype(np.int64)
    base = led.base[:n][order]
    pid = pop.participant_id[person]
    period_start = _dates(calendar.first_day[period])
    due_on = _dates(calendar.last_day[due_month])

    paid_day = led.paid_day[:n][order].astype(np.int64)
    seen = (paid_day != NULL_DAY) & (paid_day <= calendar.extracted_day)
    paid_on = _dates(np.where(seen, paid_day, 0))
    paid_on[~seen] = np.datetime64("NaT")
    amount_paid = pd.array(np.where(seen, led.amount_paid[:n][order], 0), dtype="Int64")
    amount_paid[~seen] = pd.NA

    installments = pd.DataFrame(
        {
            "participant_id": pid,
            "period_start": period_start,
            "due_on": due_on,
            "months_covered": months,
            "income_base": base,
            "amount_due": np.round(rules.contribution_rate * base * months).astype(np.int64),
            "paid_on": paid_on,
            "amount_paid": amount_paid,
        }
    )
    decision = led.decision[:n][order]
    lapsed = led.lapsed[:n][order]
    lapsed_col = pd.array(lapsed == 1, dtype="boolean")
    lapsed_col[lapsed < 0] = pd.NA
    truth = {
        "participant_id": pid,
        "period_start": period_start,
        "due_on": due_on,
        "p_lapse": led.p_lapse[:n][order],
        "decision": pd.Categorical.from_codes(
            np.where(decision > 0, decision - 1, -1), categories=[DECISIONS[k] for k in sorted(DECISIONS)]
        ),
    }
    for name in DRIVERS:
        truth[name] = led.drivers[name][:n][order]
    truth["lapsed"] = lapsed_col
    return installments, pd.DataFrame(truth)


def build_tables(out: RunOutput, geo: Geography, pop: Population, calendar: Calendar,
                 rules: ContributionRules, policies: pd.DataFrame) -> tuple[Tables, dict[str, pd.DataFrame]]:
    """The contract tables and the truth tables of one run."""
    extracted = pd.Timestamp(np.datetime64(calendar.extracted_day, "D"))
    installments, truth_installments = installments_and_truth(out, pop, calendar, rules)

    spells = out.economy.spells(pop.household_id)
    spells = spells[spells["valid_from"] <= extracted].reset_index(drop=True)
    spells.loc[spells["valid_to"] >= extracted, "valid_to"] = pd.NaT  # its successor is not known yet

    disasters = out.disasters.events(geo.commune_names)
    disasters = disasters[disasters["started_on"] <= extracted]
    disasters = disasters.sort_values(["started_on", "commune", "kind"], kind="stable").reset_index(drop=True)

    visits, truth_visits = out.outreach.visits(geo.villages["village_id"].to_numpy())

    claimed = out.state.claimed_day != NULL_DAY
    withdrawals = pd.DataFrame(
        {"participant_id": pop.participant_id[claimed], "claimed_on": _dates(out.state.claimed_day[claimed])}
    ).sort_values("participant_id", kind="stable").reset_index(drop=True)

    participants = pop.participants.sort_values("participant_id", kind="stable").reset_index(drop=True)
    tables = Tables(
        villages=geo.villages,
        participants=participants,
        installments=installments,
        poverty=spells,
        disasters=disasters,
        subsidy_policies=policies.reset_index(drop=True),
        visits=visits,
        withdrawals=withdrawals,
        extracted_on=extracted,
    )
    truth_participants = pd.DataFrame(
        {
            "participant_id": pop.participant_id,
            "household_id": pop.household_id[pop.household],
            "household_income": np.round(pop.household_income[pop.household]).astype(np.int64),
            "responsiveness": pop.responsiveness,
            "person_effect": pop.person_effect,
            "tardiness": pop.tardiness,
        }
    ).sort_values("participant_id", kind="stable").reset_index(drop=True)
    truth = {"installments": truth_installments, "visits": truth_visits, "participants": truth_participants}
    return tables, truth
