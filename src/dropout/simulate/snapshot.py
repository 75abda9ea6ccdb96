"""An office export as it would have looked on an earlier day: one simulation, many exports.

Monitoring needs a sequence of exports (scored at the end of each month, outcomes read
from the next ones). `export_at(tables, day)` cuts a simulation's tables at `day`
with the same rules the simulator applies at its own extraction day
(`simulate/tables.py`): nothing that happens after `day` is in the export.

- participants enrolled after `day` leave (with every row of theirs);
- installments: the schedule as the simulator writes it at its own extraction (periods
  starting within `SCHEDULE_MONTHS` months of `day`'s month); a payment made after
  `day` is not there yet (`paid_on`, `amount_paid` empty);
- poverty spells starting after `day` leave, a spell still open at `day` has no end;
- disasters, visits and withdrawals after `day` leave;
- the subsidy policies are the published table (known in advance, as in the simulator).
"""

from __future__ import annotations

import pandas as pd

from dropout.errors import InputError
from dropout.schema import Tables

#: Months of future schedule an export holds (the simulator's engine.FUTURE_MONTHS).
SCHEDULE_MONTHS = 12


def export_at(tables: Tables, day) -> Tables:
    """The tables as an export extracted on `day` (on or before `tables.extracted_on`)."""
    day = pd.Timestamp(day).normalize()
    if day > tables.extracted_on:
        raise InputError(f"export_at: {day.date()} is after the data's extraction day "
                         f"{tables.extracted_on.date()}; an export cannot show the future")
    people = tables.participants[tables.participants["enrolled_on"] <= day].reset_index(drop=True)
    keep = set(people["participant_id"].tolist())

    inst = tables.installments
    horizon = (day.to_period("M") + SCHEDULE_MONTHS).start_time
    inst = inst[inst["participant_id"].isin(keep) & (inst["period_start"] < horizon)].copy()
    late = inst["paid_on"].notna() & (inst["paid_on"] > day)
    inst.loc[late, "paid_on"] = pd.NaT
    if "amount_paid" in inst.columns:
        inst.loc[late, "amount_paid"] = pd.NA
    inst = inst.reset_index(drop=True)

    pov = tables.poverty[tables.poverty["valid_from"] <= day].copy()
    pov.loc[pov["valid_to"].notna() & (pov["valid_to"] >= day), "valid_to"] = pd.NaT
    households = set(people["household_id"].tolist())
    pov = pov[pov["household_id"].isin(households)].reset_index(drop=True)

    visits = tables.visits[tables.visits["visited_on"] <= day]
    if "participant_id" in visits.columns:
        visits = visits[visits["participant_id"].isna() | visits["participant_id"].isin(keep)]
    withdrawals = tables.withdrawals[(tables.withdrawals["claimed_on"] <= day)
                                     & tables.withdrawals["participant_id"].isin(keep)]
    disasters = tables.disasters[tables.disasters["started_on"] <= day]
    return tables.replace(
        participants=people, installments=inst, poverty=pov,
        disasters=disasters.reset_index(drop=True), visits=visits.reset_index(drop=True),
        withdrawals=withdrawals.reset_index(drop=True), extracted_on=day,
    )


def month_ends(first, last) -> list[pd.Timestamp]:
    """The last day of every month from `first`'s month to `last`'s, inclusive."""
    return list(pd.date_range(pd.Timestamp(first), pd.Timestamp(last) + pd.offsets.MonthEnd(0), freq="ME"))
