"""The oracle of a lump-sum withdrawal within 12 months, from the simulator's truth.

A lapse's oracle is written by the simulator itself (`truth/installments.p_lapse`). A
withdrawal within a year of as-of depends on a chain of later decisions, so its oracle
is computed here from the same truth, month by month as the engine steps
(engine.py: the withdrawal draw at the start of a month, the installment decisions at
its end; payments.py: `withdraw`):

    S = 1 for a member suspended at as-of (the last installment decided before as-of
        lapsed); for m in the 12 months from as-of's month:
        P(withdraw) += S x h x eligible(m);  S *= 1 - h x eligible(m)
        S *= P(the installment decided in m stays unpaid)     (if one is decided in m)

with h the preset's monthly hazard and eligible(m) = 12 months since the suspension
began, enrolled before 2025-07-01 (features/contribution_rules.yaml). It is exact while
the member stays suspended; after a resume the truth holds no "stay suspended"
probability for later installments, and the last one known is carried forward. Members
paying at as-of get 0: a suspension that begins inside the year cannot reach 12 months
before it ends. The 20-years-paid limit is not applied (it binds for almost nobody).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WINDOW_MONTHS = 12


def _months(values) -> np.ndarray:
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[M]").astype(np.int64)


def withdraw_oracle(sim) -> pd.DataFrame:
    """participant_id, as_of (every month start of the simulation), oracle_p."""
    from dropout.reference import contribution_rules

    rules = contribution_rules()
    hazard = float(sim.config.lapse.withdrawal_monthly_hazard)
    months_out = int(rules.withdrawal_after_months_out)
    reform = int(np.datetime64(rules.withdrawal_enrolled_before, "M").astype(np.int64))
    truth = sim.truth["installments"]
    parts = sim.tables.participants
    first, last = int(np.datetime64(sim.start, "M").astype(np.int64)), int(np.datetime64(sim.end, "M").astype(np.int64))

    t = truth[["participant_id", "period_start", "due_on", "p_lapse", "lapsed", "decision"]]
    t = t[t["lapsed"].notna() & (t["lapsed"].astype("float") >= 0)].sort_values(["participant_id", "due_on"])
    pid = t["participant_id"].to_numpy(np.int64)
    due_m = _months(t["due_on"])
    period_m = _months(t["period_start"])
    lapsed = t["lapsed"].to_numpy().astype(bool)
    stay = t["p_lapse"].to_numpy(np.float64)
    resume = (t["decision"].astype(str) == "resume").to_numpy()
    # The period where the current run of lapses began (the simulator's susp_since).
    new_person = np.r_[True, pid[1:] != pid[:-1]]
    starts_run = lapsed & (new_person | ~np.r_[False, lapsed[:-1]])
    run_id = np.cumsum(starts_run)
    run_start = np.where(lapsed, pd.Series(period_m).groupby(run_id).transform("first").to_numpy(), -1)
    # The "stay suspended" probability known so far, carried forward within a person.
    known = pd.Series(np.where(resume, stay, np.nan)).groupby(pid).ffill().to_numpy()

    enrolled = pd.Series(_months(parts["enrolled_on"]), index=parts["participant_id"].to_numpy(np.int64))
    out = []
    key_due = pd.MultiIndex.from_arrays([pid, due_m])
    stay_by_month = pd.Series(np.where(resume, stay, known), index=key_due)
    stay_by_month = stay_by_month[~stay_by_month.index.duplicated(keep="last")]
    for m0 in range(first, last + 1):
        before = due_m < m0
        # the last decided installment before as-of, per person
        idx = pd.Series(np.flatnonzero(before)).groupby(pid[before]).last()
        if idx.empty:
            continue
        rows = idx.to_numpy()
        who = pid[rows]
        suspended = lapsed[rows]
        since = run_start[rows]
        carried = known[rows]
        eligible_base = enrolled.reindex(who).to_numpy() < reform
        p = np.zeros(len(rows))
        s = np.where(suspended, 1.0, 0.0)
        last_stay = np.where(np.isnan(carried), 0.8, carried)  # no resume decision seen yet: a typical one
        for k in range(WINDOW_MONTHS):
            m = m0 + k
            e = eligible_base & (m - since >= months_out) & suspended
            p += s * hazard * e
            s = s * (1.0 - hazard * e)
            q = stay_by_month.reindex(pd.MultiIndex.from_arrays([who, np.full(len(who), m)])).to_numpy()
            decided = ~np.isnan(q)
            last_stay = np.where(decided, q, last_stay)
            s = np.where(decided, s * q, s)
        as_of = np.datetime64(m0, "M").astype("datetime64[ns]")
        out.append(pd.DataFrame({"participant_id": who, "as_of": np.full(len(who), as_of), "oracle_p": p}))
    return pd.concat(out, ignore_index=True)
