"""Headline numbers of a simulated (or real) data folder, computed from the raw tables only.

Suspension follows the rules of the contract: a participant is paying at an installment
if the previous installment was paid by its deadline (or it is the first in the data);
an installment not paid by its deadline while paying is a lapse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.schema import Tables

TENURE_BANDS = ((0, 1, "1st year"), (1, 2, "2nd year"), (2, 3, "3rd year"), (3, 5, "4th-5th year"),
                (5, 100, "6th year on"))


def paying_decisions(tables: Tables) -> pd.DataFrame:
    """Installments due by the extraction date at which the participant was paying, with `lapsed`."""
    inst = tables.installments
    inst = inst[inst["due_on"] <= tables.extracted_on].sort_values(["participant_id", "period_start"])
    on_time = inst["paid_on"].notna().to_numpy() & (inst["paid_on"] <= inst["due_on"]).fillna(False).to_numpy()
    pid = inst["participant_id"].to_numpy()
    first = np.concatenate([[True], pid[1:] != pid[:-1]])
    prev_on_time = np.concatenate([[True], on_time[:-1]])
    paying = first | prev_on_time
    out = inst.loc[paying, ["participant_id", "period_start", "due_on", "income_base"]].copy()
    out["lapsed"] = ~on_time[paying]
    return out


def yearly_lapse_by_tenure(tables: Tables) -> pd.DataFrame:
    """Share of participants with at least one lapse in their k-th year of membership.

    Only membership years fully before the extraction date count. Rows: tenure band;
    columns: person_years, lapse_rate, and the same for those at the minimum income base.
    """
    dec = paying_decisions(tables)
    enrolled = tables.participants.set_index("participant_id")["enrolled_on"]
    enrol = enrolled.reindex(dec["participant_id"]).to_numpy()
    months = _months(dec["period_start"].to_numpy()) - _months(enrol)
    dec["member_year"] = months // 12
    end_of_year = _months(enrol) + 12 * (dec["member_year"].to_numpy() + 1)
    dec = dec[end_of_year <= _months(np.array([tables.extracted_on.to_datetime64()]))[0] + 1]
    dec = dec.assign(at_min=dec["income_base"] <= tables.installments["income_base"].min())
    per_year = dec.groupby(["participant_id", "member_year"]).agg(
        lapsed=("lapsed", "max"), low_income=("at_min", "min")
    ).reset_index()
    rows = []
    for lo, hi, label in TENURE_BANDS:
        sel = per_year[(per_year["member_year"] >= lo) & (per_year["member_year"] < hi)]
        low = sel[sel["low_income"]]
        rows.append({
            "tenure": label,
            "person_years": len(sel),
            "lapse_rate": float(sel["lapsed"].mean()) if len(sel) else np.nan,
            "lapse_rate_min_base": float(low["lapsed"].mean()) if len(low) else np.nan,
        })
    return pd.DataFrame(rows)


def _months(dates: np.ndarray) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[M]").astype(np.int64)


def summarize(tables: Tables, truth: dict[str, pd.DataFrame] | None = None) -> dict:
    """Row counts, people paying at the extraction date, withdrawals and lapse rates."""
    dec = paying_decisions(tables)
    last = tables.installments[tables.installments["due_on"] <= tables.extracted_on]
    last = last.sort_values(["participant_id", "period_start"]).groupby("participant_id").tail(1)
    paying_now = int((last["paid_on"].notna() & (last["paid_on"] <= last["due_on"])).sum())
    out = {
        "rows": tables.counts(),
        "extracted_on": tables.extracted_on.date().isoformat(),
        "paying_at_extraction": paying_now,
        "withdrawals": len(tables.withdrawals),
        "lapse_per_installment": float(dec["lapsed"].mean()) if len(dec) else float("nan"),
        "yearly_lapse_by_tenure": yearly_lapse_by_tenure(tables),
    }
    if truth is not None:
        p = truth["installments"]["p_lapse"]
        out["mean_p_lapse"] = float(p.mean())
    return out
