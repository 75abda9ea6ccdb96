"""A straightforward per-participant reference of the payment-history family.

Written for clarity, not speed: `groupby("participant_id").apply` with plain pandas on
each participant's installments. Tests check the vectorised family against it on random
tables; benchmarks/features.py times both. Not used in production.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.schema import Tables

WINDOWS_MONTHS = (3, 6, 12)


def _months_between(start: pd.Timestamp, end: pd.Timestamp) -> int:
    return (end.year - start.year) * 12 + (end.month - start.month) - (end.day < start.day)


def _one(inst: pd.DataFrame, as_of: pd.Timestamp, person: pd.Series, rules) -> pd.Series:
    inst = inst.sort_values("due_on")
    paid_by = inst["paid_on"].notna() & (inst["paid_on"] <= as_of)
    on_time = inst["paid_on"].notna() & (inst["paid_on"] <= inst["due_on"])
    past = inst[inst["due_on"] < as_of]
    past_on_time = on_time[past.index]
    past_paid = paid_by[past.index]
    out = {
        "tenure_months": _months_between(person["enrolled_on"], as_of),
        "age_years": as_of.year - person["birth_year"],
    }
    for w in WINDOWS_MONTHS:
        win = past[past["due_on"] >= as_of - pd.DateOffset(months=w)]
        ot = on_time[win.index]
        pb = paid_by[win.index]
        out[f"installments_due_{w}m"] = len(win)
        out[f"paid_on_time_{w}m"] = int(ot.sum())
        out[f"paid_late_{w}m"] = int((~ot & pb).sum())
        out[f"missed_{w}m"] = int((~pb).sum())
        if w == 12:
            late = [
                0 if o else ((p if (pd.notna(p) and p <= as_of) else as_of) - d).days
                for o, p, d in zip(ot, win["paid_on"], win["due_on"])
            ]
            out["mean_days_late_12m"] = float(np.mean(late)) if late else np.nan
            out["max_days_late_12m"] = float(np.max(late)) if late else np.nan
    out["lapses_last_4"] = int((~past_on_time.iloc[-4:]).sum())
    arrears = past[~past_paid]
    out["arrears_installments"] = len(arrears)
    out["arrears_months"] = int(arrears["months_covered"].sum())
    out["arrears_vnd"] = int(arrears["amount_due"].sum())
    streak = 0
    for ok in reversed(past_on_time.tolist()):
        if not ok:
            break
        streak += 1
    out["on_time_streak"] = streak
    paid_dates = inst.loc[paid_by, "paid_on"]
    out["months_since_last_payment"] = (
        _months_between(paid_dates.max(), as_of) if len(paid_dates) else np.nan
    )
    started = inst[inst["period_start"] <= as_of]
    months = started["months_covered"].iloc[-1] if len(started) else np.nan
    for name, mode in rules.payment_modes.items():
        out[f"mode_{name}"] = int(months > 12) if name == "multi_year" else int(months == mode.months_covered)
    out["income_base_vnd"] = started["income_base"].iloc[-1] if len(started) else np.nan
    bases = inst["income_base"].tolist()
    out["income_base_downgrades"] = sum(
        1 for i in range(1, len(inst)) if bases[i] < bases[i - 1] and inst["period_start"].iloc[i] <= as_of
    )
    late_paid = inst[paid_by & ~on_time]
    out["makeup_payments_12m"] = int((late_paid["paid_on"] > as_of - pd.DateOffset(months=12)).sum())
    lapses = (~past_on_time).tolist()
    out["suspensions_total"] = sum(1 for i, x in enumerate(lapses) if x and (i == 0 or not lapses[i - 1]))
    out["paid_months_total"] = int(inst.loc[paid_by, "months_covered"].sum())
    pension_age = rules.pension_age["F" if person["sex"] == "F" else "M"]
    out["years_to_pension"] = round(max(pension_age - out["age_years"],
                                        rules.pension_years_required - out["paid_months_total"] / 12, 0.0), 1)
    return pd.Series(out)


def payment_history_reference(tables: Tables, as_of: pd.Timestamp) -> pd.DataFrame:
    """Payment-history features at one as-of date, one participant at a time.

    Only participants with at least one installment are covered (a reference for the
    ledger logic, not for the cohort rules).
    """
    from dropout.reference import contribution_rules

    rules = contribution_rules()
    as_of = pd.Timestamp(as_of)
    people = tables.participants.set_index("participant_id")
    cohort = people[(people["enrolled_on"] <= as_of)].index
    withdrawn = tables.withdrawals.loc[tables.withdrawals["claimed_on"] <= as_of, "participant_id"]
    cohort = cohort.difference(pd.Index(withdrawn))
    inst = tables.installments[tables.installments["participant_id"].isin(cohort)]
    out = inst.groupby("participant_id").apply(
        lambda g: _one(g, as_of, people.loc[g.name], rules), include_groups=False
    )
    return out.reset_index()
