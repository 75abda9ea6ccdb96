"""The plan's tables (who, which trip, which officer-day) and the files written from them.

A chosen option of a village becomes trips: a visiting trip carries as many home visits
as fit in a day after travel both ways; a session trip holds the evening session and the
visits that fit before it. Trips are packed into officer-days of `officer_day.hours`
(first fit, longest trip first), and days are numbered so that the most urgent deadline
comes first. Files: `plan.parquet` / `plan.csv` (one row per contact),
`trips.csv`, `pools.csv`, and `plan.xlsx` with one sheet per officer-day.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dropout.excel import write_workbook
from dropout.io import write_csv, write_parquet
from dropout.plan.capacity import Capacity
from dropout.plan.optimise import SESSION, VISITS, PlanConfig
from dropout.score.output import band_label_bilingual

HOME_VISIT, EVENING_SESSION, BOTH = "home_visit", "evening_session", "home_visit+evening_session"
ACTION_LABELS = {
    HOME_VISIT: "Thăm hộ gia đình / Home visit",
    EVENING_SESSION: "Mời họp thôn buổi tối / Invite to evening session",
    BOTH: "Thăm hộ + mời họp tối / Home visit + evening session",
}
#: Columns of the plan table (one row per contact), before any score columns carried over.
PLAN_COLUMNS = [
    "pool", "officer_day", "day", "trip", "visit_order", "village_id", "commune", "district",
    "travel_minutes", "language", "action", "participant_id", "due_on", "amount_due", "risk",
    "risk_band", "expected_averted",
]
#: Columns shown to officers on each officer-day sheet (those present).
SHEET_COLUMNS = [
    "trip", "visit_order", "village_id", "commune", "travel_minutes", "language", "action",
    "participant_id", "due_on", "amount_due", "risk", "risk_band", "expected_averted",
    "reason_1_vi", "reason_2_vi", "visit_line_vi", "explore",
]
SESSION_ROW = "Họp thôn buổi tối, cả thôn ({n} người khác) / Evening session, whole village ({n} more people)"


@dataclass
class Plan:
    """A visit plan.

    Attributes:
        visits: one row per contact (a person invited to a session and visited on another
            trip has two rows): PLAN_COLUMNS, then the score columns kept.
        trips: one row per trip: pool, day, trip, village, minutes (travel both ways
            included), home_visits, session, people_reached, expected_averted.
        days: one row per officer-day: pool, day, officer_day, trips, minutes.
        pools: one row per pool of capacity: hours, hours_used, expected_averted,
            lp_bound (no plan can avert more under the same assumptions), method.
            Trips and pools count the enrolled villagers a session reaches beyond the
            list (villagers_not_scored); `visits` lists only the people scored.
        unreachable: villages with people to see that no trip reaches within one day.
    """

    visits: pd.DataFrame
    trips: pd.DataFrame
    days: pd.DataFrame
    pools: pd.DataFrame
    unreachable: pd.DataFrame
    config: PlanConfig
    capacity: Capacity
    notes: list[str] = field(default_factory=list)

    @property
    def expected_averted(self) -> float:
        return float(self.trips["expected_averted"].sum()) if len(self.trips) else 0.0

    @property
    def officer_hours(self) -> float:
        return float(self.trips["minutes"].sum()) / 60.0 if len(self.trips) else 0.0


def expand_choice(people: pd.DataFrame, mode: np.ndarray, k: np.ndarray, travel: np.ndarray,
                  config: PlanConfig) -> pd.DataFrame:
    """One row per contact: who is reached, how, and on which trip of their village.

    A person invited to the session and visited at home on the session's trip has one
    row (both); visited on a later trip, they have two (the invitation on trip 1, the
    visit on theirs), and the gains split so that they add up to gain_both.

    Args:
        people: ranked people (rank_visit, invited, rank_extra, gains, v).
        mode, k: the chosen option per village code (mode -1 = nothing).
        travel: one-way minutes per village code.
    """
    v = people["v"].to_numpy()
    m, d, s = config.home_visit.minutes, config.day_minutes, config.evening_session.minutes
    q = np.maximum(np.floor((d - 2 * travel) / m).astype(np.int64), 1)[v]
    q_s = np.maximum(np.floor((d - 2 * travel - s) / m).astype(np.int64), 0)[v]
    pm, pk = mode[v], k[v]
    visits_only, session = pm == VISITS, pm == SESSION
    rank_visit, rank_extra = people["rank_visit"].to_numpy(), people["rank_extra"].to_numpy()
    visited = (visits_only & (rank_visit <= pk)) | (session & (rank_extra <= pk))
    invited = session & people["invited"].to_numpy()
    trip_visit = np.where(
        visits_only, (rank_visit - 1) // q + 1, np.where(rank_extra <= q_s, 1, 2 + (rank_extra - q_s - 1) // q)
    )
    both_here = visited & invited & (trip_visit == 1)
    gv, gs, gb = (people[c].to_numpy(np.float64) for c in ("gain_visit", "gain_session", "gain_both"))

    home = people.loc[visited].copy()
    home["trip_no"] = trip_visit[visited]
    home["order_in_trip"] = np.where(visits_only, rank_visit, rank_extra)[visited]
    home["home_visit"] = True
    home["action"] = np.where(both_here, BOTH, HOME_VISIT)[visited]
    home["expected_averted"] = np.where(both_here, gb, np.where(invited, gb - gs, gv))[visited]
    only_invited = invited & ~both_here
    sess = people.loc[only_invited].copy()
    sess["trip_no"] = 1
    sess["order_in_trip"] = rank_extra[only_invited]
    sess["home_visit"] = False
    sess["action"] = EVENING_SESSION
    sess["expected_averted"] = gs[only_invited]
    return pd.concat([home, sess], ignore_index=True)


def trips_table(reached: pd.DataFrame, mode: np.ndarray, travel: np.ndarray, config: PlanConfig) -> pd.DataFrame:
    """One row per (village, trip_no) with its minutes and what it does."""
    if reached.empty:
        return pd.DataFrame(columns=["v", "trip_no", "home_visits", "session", "people_reached",
                                     "expected_averted", "first_due_on", "minutes"])
    g = reached.groupby(["v", "trip_no"], sort=True)
    trips = g.agg(
        home_visits=("home_visit", "sum"),
        people_reached=("participant_id", "nunique"),
        expected_averted=("expected_averted", "sum"),
        first_due_on=("due_on", "min"),
    ).reset_index()
    tv = trips["v"].to_numpy()
    trips["session"] = (mode[tv] == SESSION) & (trips["trip_no"].to_numpy() == 1)
    trips["minutes"] = (
        2 * travel[tv] + config.home_visit.minutes * trips["home_visits"].to_numpy()
        + config.evening_session.minutes * trips["session"].to_numpy()
    ).astype(np.int64)
    return trips


def pack_days(trips: pd.DataFrame, day_minutes: int) -> np.ndarray:
    """Officer-day number (from 1) of each trip, packed per pool: first fit, longest first;
    then days renumbered by their earliest deadline (urgent first), then by value."""
    n = len(trips)
    pool = pd.factorize(trips["pool"])[0]
    minutes = trips["minutes"].to_numpy(np.int64)
    day = np.zeros(n, dtype=np.int64)
    order = np.lexsort((-minutes, pool))
    bounds = np.flatnonzero(np.r_[True, pool[order][1:] != pool[order][:-1], True])
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        room: list[int] = []  # minutes left in each open day of this pool
        for i in order[lo:hi]:  # one pool's trips: tens, rarely hundreds
            need = minutes[i]
            for d, left in enumerate(room):
                if left >= need:
                    day[i], room[d] = d, left - need
                    break
            else:
                day[i] = len(room)
                room.append(day_minutes - need)
    days = pd.DataFrame({"pool": pool, "day": day, "due": trips["first_due_on"].to_numpy(),
                         "value": trips["expected_averted"].to_numpy()})
    per_day = days.groupby(["pool", "day"], as_index=False).agg(due=("due", "min"), value=("value", "sum"))
    per_day = per_day.sort_values(["pool", "due", "value"], ascending=[True, True, False], na_position="last")
    per_day["new"] = per_day.groupby("pool").cumcount() + 1
    key = pd.MultiIndex.from_frame(per_day[["pool", "day"]])
    return per_day["new"].to_numpy()[key.get_indexer(pd.MultiIndex.from_arrays([pool, day]))]


def day_label(pool_name: str, day: int) -> str:
    """Officer-day name, also the sheet title: '<commune or district> - Ngày <n>' (<= 31 chars)."""
    tail = f" - Ngày {day}"
    return pool_name.split("/")[-1][: 31 - len(tail)] + tail


# ---------------------------------------------------------------- files


def workbook_sheets(plan: Plan) -> dict[str, pd.DataFrame]:
    """One DataFrame per officer-day, rows in visiting order, officer-readable labels.

    Each session trip gets a row of its own after the trip's home visits (sessions are in
    the evening), naming how many enrolled villagers beyond the list it reaches.
    """
    sheets: dict[str, pd.DataFrame] = {}
    if plan.visits.empty:
        return sheets
    cols = [c for c in SHEET_COLUMNS if c in plan.visits.columns]
    v = plan.visits.copy()
    v["action"] = v["action"].map(ACTION_LABELS)
    v["expected_averted"] = v["expected_averted"].round(3)
    if "risk_band" in v.columns:
        v["risk_band"] = v["risk_band"].map(band_label_bilingual)
    sessions = plan.trips[plan.trips["session"].astype(bool)]
    session_rows = pd.DataFrame({
        "pool": sessions["pool"], "day": sessions["day"], "officer_day": sessions["officer_day"],
        "trip": sessions["trip"], "visit_order": 0, "village_id": sessions["village_id"],
        "commune": sessions["commune"], "travel_minutes": sessions["travel_minutes"], "language": sessions["language"],
        "action": [SESSION_ROW.format(n=int(n)) for n in sessions["villagers_not_scored"]],
        "_after_visits": True,
    })
    v["_after_visits"] = v["action"] == ACTION_LABELS[EVENING_SESSION]
    rows = pd.concat([v, session_rows], ignore_index=True)
    rows["_session_row"] = rows["participant_id"].isna()
    rows = rows.sort_values(["pool", "day", "trip", "_after_visits", "_session_row", "visit_order"],
                            ascending=[True, True, True, True, False, True], kind="stable")
    for c in cols:
        rows[c] = _blank_missing(rows[c])
    for _, day_rows in rows.groupby(["pool", "day"], sort=False):
        sheet = day_rows[cols].reset_index(drop=True)
        sheet["visit_order"] = day_rows.groupby("trip").cumcount().to_numpy() + 1
        sheets[day_rows["officer_day"].iat[0]] = sheet
    return sheets


def _blank_missing(s: pd.Series) -> pd.Series:
    """A column with missing cells as objects with "" there (dates as dates), so that the
    cells stay blank in Excel; columns without missing cells keep their type."""
    if not s.isna().any():
        return s
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series([d.date() if pd.notna(d) else "" for d in s], index=s.index, dtype=object)
    values = s.astype(object)
    if pd.api.types.is_integer_dtype(s) or (pd.api.types.is_float_dtype(s) and (s.dropna() % 1 == 0).all()
                                            and s.name in ("participant_id", "amount_due")):
        values = pd.Series([int(v) if pd.notna(v) else "" for v in s], index=s.index, dtype=object)
    return values.where(s.notna(), "")


def write_plan(plan: Plan, out: str | os.PathLike) -> dict[str, Path]:
    """Write plan.parquet, plan.csv, trips.csv, pools.csv and plan.xlsx into `out`."""
    out = Path(out)
    paths = {
        "plan_parquet": write_parquet(plan.visits, out / "plan.parquet"),
        "plan_csv": write_csv(plan.visits, out / "plan.csv"),
        "trips_csv": write_csv(plan.trips.drop(columns=["v"], errors="ignore"), out / "trips.csv"),
        "pools_csv": write_csv(plan.pools, out / "pools.csv"),
    }
    if len(plan.unreachable):
        paths["unreachable_csv"] = write_csv(plan.unreachable, out / "unreachable.csv")
    sheets = workbook_sheets(plan)
    if sheets:
        paths["plan_xlsx"] = write_workbook(sheets, out / "plan.xlsx")
    return paths
