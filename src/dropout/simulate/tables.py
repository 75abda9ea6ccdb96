"""From the simulator's arrays to the eight contract tables (docs/data.md) and truth/.

The extraction date cuts everything: no payment, poverty decision, disaster, visit or
withdrawal after it reaches the raw tables; the installment schedule of the following
12 months is kept (unpaid). truth/installments has the same rows in the same order as
installments, with the oracle of every decided installment (NaN when undecided). Scenarios add their drivers to truth/installments
(after `lapsed`) and may change what the export holds (scenarios/base.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.schema import Tables
from dropout.reference import ContributionRules
from dropout.simulate.engine import Calendar, RunOutput
from dropout.simulate.geography import Geography
from dropout.simulate.lapse import DECISIONS, DRIVERS
from dropout.simulate.payments import NULL_DAY
from dropout.simulate.population import Population


_NS_PER_DAY = 86_400_000_000_000


def _dates(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as datetime64[ns] (multiplying is much faster than astype)."""
    return (np.asarray(days, dtype=np.int64) * _NS_PER_DAY).view("datetime64[ns]")


def installments_and_truth(out: RunOutput, pop: Population, calendar: Calendar,
                           rules: ContributionRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Installments (paid_on cut at extraction) and truth/installments, by participant and period."""
    led = out.ledger
    used = led.output_rows()  # slots are grouped by person (participant_id order) and in period order

    def take(name: str) -> np.ndarray:
        """The used rows of a ledger column; the full column is released at once (memory)."""
        values = getattr(led, name)[used]
        setattr(led, name, None)
        return values

    pid = pop.participant_id[take("person")]
    months = take("months").astype(np.int64)
    base = take("base")
    period_start = _dates(calendar.first_day[take("period").astype(np.int64)])
    due_on = _dates(calendar.last_day[take("due_month").astype(np.int64)])

    paid_day = take("paid_day").astype(np.int64)
    seen = (paid_day != NULL_DAY) & (paid_day <= calendar.extracted_day)
    paid_on = _dates(np.where(seen, paid_day, 0))
    paid_on[~seen] = np.datetime64("NaT")
    del paid_day
    amount_paid = pd.arrays.IntegerArray(np.where(seen, take("amount_paid"), 0), ~seen)

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
        },
        copy=False,
    )
    decision = take("decision")
    lapsed = take("lapsed")
    undecided = decision == 0
    truth = {
        "participant_id": pid,  # the same arrays as in installments (no copy)
        "period_start": period_start,
        "due_on": due_on,
        "p_lapse": take("p_lapse"),
        "decision": pd.Categorical.from_codes(
            np.where(undecided, -1, decision - 1), categories=[DECISIONS[k] for k in sorted(DECISIONS)]
        ),
    }
    for name in DRIVERS:
        values = led.drivers.pop(name)[used]
        values[undecided] = np.nan
        truth[name] = values
    truth["lapsed"] = pd.arrays.BooleanArray(lapsed == 1, undecided)
    for name in list(led.extra):
        values = led.extra.pop(name)[used]
        values[undecided] = np.nan
        truth[name] = values
    led.used = None
    return installments, pd.DataFrame(truth, copy=False)


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
