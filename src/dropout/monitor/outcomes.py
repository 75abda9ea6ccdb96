"""Outcomes of scored installments, read from a later export (point in time).

A score row names the installment a person was scored for (`participant_id`,
`due_on`: its deadline). Its outcome is known once the deadline has passed in an
export (`due_on < extracted_on`): *lapsed* when the export holds no payment of that
installment made by its deadline (unpaid, paid late, or the row gone with a
withdrawal), kept otherwise. Installments whose deadline has not passed in the export
have no outcome yet, whatever the export already shows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.schema import Tables

OUTCOME_COLUMNS = ["participant_id", "due_on", "lapsed", "paid_on"]


def outcomes_for(scored: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """The known outcomes of scored installments (`participant_id`, `due_on`) in `tables`.

    Returns:
        OUTCOME_COLUMNS for the rows whose deadline is before `tables.extracted_on`;
        `lapsed` is 1 when the installment was not paid by its deadline, `paid_on` the day
        it was paid (late payments included; empty when unpaid).
    """
    extracted = pd.Timestamp(tables.extracted_on).normalize()
    s = scored[["participant_id", "due_on"]].copy()
    s["participant_id"] = s["participant_id"].astype(np.int64)
    s["due_on"] = pd.to_datetime(s["due_on"]).astype("datetime64[ns]")
    s = s[s["due_on"] < extracted]
    inst = tables.installments[["participant_id", "due_on", "paid_on"]].copy()
    inst["participant_id"] = inst["participant_id"].astype(np.int64)
    inst["due_on"] = pd.to_datetime(inst["due_on"]).astype("datetime64[ns]")
    inst["paid_on"] = pd.to_datetime(inst["paid_on"]).astype("datetime64[ns]")
    # One row per installment: the earliest payment if an export lists it twice.
    inst = inst.sort_values("paid_on").drop_duplicates(["participant_id", "due_on"])
    out = s.merge(inst, on=["participant_id", "due_on"], how="left")
    paid_in_time = out["paid_on"].notna() & (out["paid_on"] <= out["due_on"])
    out["lapsed"] = (~paid_in_time).astype(np.int8)
    return out[OUTCOME_COLUMNS].reset_index(drop=True)
