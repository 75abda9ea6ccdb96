"""The visit panel: one row per (person, installment) with the features before it, whether a
home visit or an evening session came before its deadline, and whether it went unpaid.

A visit's effect (in the data as in the simulator) lasts until the person's next
deadline, so a row is *treated* by a home visit recorded for the person in
(previous deadline, this deadline], and by an evening session held in their village in
that span. The features are those of the snapshot at the month start before the
deadline (`dropout.labels`: point in time), without the outreach family: it counts the
very visits that are the treatment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.errors import InputError
from dropout.schema import Tables

KINDS = ("home_visit", "evening_session")
TREATMENT = {"home_visit": "t_home", "evening_session": "t_session"}
#: visits spoken in Vietnamese to an ethnic-minority member (recorded language)
WRONG_LANGUAGE = {"home_visit": "home_not_own_language", "evening_session": "session_not_own_language"}
LOOKBACK_DAYS = 400  # a first installment: visits this long before its deadline count


def feature_families() -> list[str]:
    from dropout.features import FAMILIES

    return [f for f in FAMILIES if f != "outreach"]


def panel_dates(tables: Tables, until, min_history_months: int, horizon_days: int) -> list[pd.Timestamp]:
    """Month starts from `min_history_months` after the first enrolment or visit to the last one
    whose horizon ends by `until` (the plan's as-of: nothing after it is used)."""
    first = min(pd.to_datetime(tables.participants["enrolled_on"]).min(),
                pd.to_datetime(tables.visits["visited_on"]).min() if len(tables.visits) else pd.Timestamp.max)
    start = (first + pd.DateOffset(months=min_history_months)).to_period("M").start_time
    last = pd.Timestamp(until) - pd.Timedelta(days=horizon_days)
    return list(pd.date_range(start, last, freq="MS"))


def visit_panel(tables: Tables, until, horizon_days: int = 31, min_history_months: int = 6) -> pd.DataFrame:
    """The panel up to `until`: participant_id, as_of, features, label, label_due_on,
    village_id, t_home, t_session, home_not_own_language, session_not_own_language."""
    from dropout.labels import build_training_frame

    dates = panel_dates(tables, until, min_history_months, horizon_days)
    if not dates:
        raise InputError(f"visits: no month between the data's start and {pd.Timestamp(until).date()} to learn from")
    frame = build_training_frame(tables, dates, "lapse", horizon_days, families=feature_families())
    frame = frame[frame["label_due_on"] <= pd.Timestamp(until)].reset_index(drop=True)
    return add_treatments(frame, tables)


def add_treatments(frame: pd.DataFrame, tables: Tables) -> pd.DataFrame:
    """`frame` (participant_id, label_due_on) with the treatments of its installment."""
    parts = tables.participants[["participant_id", "village_id", "ethnicity"]].copy()
    parts["village_id"] = parts["village_id"].astype(str)
    out = frame.merge(parts, on="participant_id", how="left")
    out["label_due_on"] = pd.to_datetime(out["label_due_on"]).astype("datetime64[ns]")
    out["_row"] = np.arange(len(out))
    inst = tables.installments[["participant_id", "due_on"]].dropna()
    inst = inst.assign(due_on=inst["due_on"].astype("datetime64[ns]")).sort_values("due_on")
    inst = inst.rename(columns={"due_on": "prev_due_on"}).drop_duplicates()
    key = out[["_row", "participant_id", "label_due_on"]].sort_values("label_due_on")
    prev = pd.merge_asof(key, inst, left_on="label_due_on", right_on="prev_due_on", by="participant_id",
                         allow_exact_matches=False, direction="backward").set_index("_row")["prev_due_on"]
    floor = out["label_due_on"] - pd.Timedelta(days=LOOKBACK_DAYS)
    out["_since"] = prev.reindex(out["_row"]).to_numpy()
    out["_since"] = out["_since"].where(out["_since"].notna(), floor)
    minority = out["ethnicity"].notna() & ~out["ethnicity"].astype(str).str.lower().isin(["kinh", "vietnamese"])
    v = tables.visits
    for kind, by in (("home_visit", "participant_id"), ("evening_session", "village_id")):
        t, wrong = TREATMENT[kind], WRONG_LANGUAGE[kind]
        rec = v.loc[v["kind"].astype(str) == kind, [by, "visited_on", "language"]].dropna(subset=[by, "visited_on"])
        rec = rec.assign(**{by: rec[by].astype(np.int64 if by == "participant_id" else str)})
        rec = rec.rename(columns={"visited_on": "_visited_on", "language": "_language"})
        rec = rec.assign(_visited_on=rec["_visited_on"].astype("datetime64[ns]")).sort_values("_visited_on")
        k = out[["_row", by, "label_due_on"]].sort_values("label_due_on")
        k[by] = k[by].astype(np.int64 if by == "participant_id" else str)
        last = pd.merge_asof(k, rec, left_on="label_due_on", right_on="_visited_on", by=by,
                             direction="backward").set_index("_row").reindex(out["_row"])
        treated = (last["_visited_on"].to_numpy() > out["_since"].to_numpy()) & last["_visited_on"].notna().to_numpy()
        out[t] = treated.astype(np.int8)
        spoken = last["_language"].astype(str).str.lower().to_numpy()
        own = out["ethnicity"].astype(str).str.lower().to_numpy()
        out[wrong] = (treated & minority.to_numpy() & (spoken != own)).astype(np.int8)
    return out.drop(columns=["_row", "_since", "ethnicity"])
