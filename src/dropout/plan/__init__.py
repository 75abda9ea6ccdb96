"""Visit plans: whom to visit, in which village, on which officer-day, within capacity.

`plan_visits(scores, villages, capacity, config)` is the whole planner as a pure
function. It uses the model's risk and the ASSUMED visit effects of `models/plan.yaml`
only; `dropout.plan.evaluate` judges plans against the simulator's truth.

Modules: `capacity` (the --capacity grammar), `optimise` (options per village and the
knapsack search), `output` (trips, officer-days, files), `evaluate` (targeting on the
simulator).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.plan.capacity import Capacity, CapacityError, parse_capacity, resolve_pools
from dropout.plan.explore import check_share, explore_picks
from dropout.plan.optimise import (
    PlanConfig,
    PlanInputError,
    assumed_gains,
    choose_options,
    load_plan_config,
    rank_people,
    trips_needed,
    unscored_session_value,
    village_options,
)
from dropout.plan.output import PLAN_COLUMNS, Plan, day_label, expand_choice, pack_days, trips_table, write_plan

__all__ = [
    "enrolled_per_village",
    "villages_with_enrolled",
    "Capacity",
    "CapacityError",
    "Plan",
    "PlanConfig",
    "PlanInputError",
    "assumed_gains",
    "load_plan_config",
    "parse_capacity",
    "plan_visits",
    "write_plan",
]

GAIN_COLUMNS = ("gain_visit", "gain_session", "gain_both")
EXPLORE_PRIORITY = 100.0  # expected lapses a person can avert are <= 1: this puts explored visits first


def plan_visits(
    scores: pd.DataFrame,
    villages: pd.DataFrame,
    capacity: Capacity | str,
    config: PlanConfig,
    *,
    gains: pd.DataFrame | None = None,
    explore: float = 0.0,
    seed: int = 0,
) -> Plan:
    """A visit plan that fits the capacity and averts the most expected lapses.

    Args:
        scores: one row per participant: participant_id, village_id, risk (calibrated
            probability of lapse); due_on, amount_due, risk_band and reason columns are
            carried into the plan when present.
        villages: village_id, commune, district, travel_minutes (one way); when present,
            ethnic_language (the language of the session) and enrolled (participants
            enrolled, for the villagers a session reaches beyond those scored).
        capacity: parsed capacity, or its text (see `dropout.plan.capacity`).
        config: assumed effects and officer time (`load_plan_config()`).
        gains: per-row gain_visit, gain_session, gain_both aligned with `scores`,
            replacing the assumed gains: learned effects (`dropout.effects`), or the
            true ones of the simulator for the oracle plan in evaluation.
        explore: share of each pool's hours given to home visits of randomly chosen
            scored people (`dropout.plan.explore`), marked `explore` in the plan's visits.
        seed: the random draw of the exploration.

    Returns:
        A Plan; every pool's trips (travel both ways included) fit its officer-hours.
    """
    if isinstance(capacity, str):
        capacity = parse_capacity(capacity)
    people, vill = _validated(scores, villages, gains)
    pool_of_village, pools = resolve_pools(capacity, vill)

    g = gains.reset_index(drop=True) if gains is not None else assumed_gains(people["risk"].to_numpy(), config)
    for c in GAIN_COLUMNS:
        people[c] = g[c].to_numpy(np.float64)
    people["pool"] = people["village_id"].map(pool_of_village)
    unplanned = int(people["pool"].isna().sum())
    people = people[people["pool"].notna()].reset_index(drop=True)

    village_ids = np.unique(people["village_id"].to_numpy().astype(str))
    vinfo = vill.set_index("village_id").loc[village_ids].reset_index()
    people["v"] = np.searchsorted(village_ids, people["village_id"].to_numpy().astype(str))
    travel = vinfo["travel_minutes"].to_numpy(np.float64)
    pool_names = pools["pool"].to_numpy()
    village_pool = pd.Index(pool_names).get_indexer(pool_of_village.loc[village_ids].to_numpy())
    budget = pools["hours"].to_numpy(np.float64) * 60.0

    explored = np.zeros(len(people), dtype=bool)
    if explore:
        explored = explore_picks(people, travel, budget, village_pool, check_share(explore),
                                 config.home_visit.minutes, config.day_minutes, seed)
        real_gains = people[list(GAIN_COLUMNS)].copy()
        # worth more than anything else: the optimiser takes them first (they fit by construction)
        people.loc[explored, ["gain_visit", "gain_both"]] += EXPLORE_PRIORITY
    people["explore"] = explored
    people = rank_people(people, config)
    extra_value, extra_people = np.zeros(len(village_ids)), np.zeros(len(village_ids), dtype=np.int64)
    if config.evening_session.count_unscored and "enrolled" in vinfo.columns:
        enrolled = pd.to_numeric(vinfo["enrolled"], errors="coerce").fillna(0).to_numpy()
        extra_value, extra_people = unscored_session_value(people, enrolled, config)
    opt = village_options(people, travel, budget[village_pool], config, extra_value)
    chosen, stats = choose_options(opt, village_pool, budget, config)
    if explore:
        people[list(GAIN_COLUMNS)] = real_gains.to_numpy()
    mode, k = np.full(len(chosen), -1, dtype=np.int64), np.zeros(len(chosen), dtype=np.int64)
    has = chosen >= 0
    mode[has], k[has] = opt["mode"].to_numpy()[chosen[has]], opt["k"].to_numpy()[chosen[has]]

    reached = expand_choice(people, mode, k, travel, config)
    trips = trips_table(reached, mode, travel, config)
    trips["pool"] = pool_names[village_pool[trips["v"].to_numpy()]] if len(trips) else []
    trips["day"] = pack_days(trips, config.day_minutes) if len(trips) else []
    if len(trips):
        trips["villagers_not_scored"] = np.where(trips["session"], extra_people[trips["v"].to_numpy()], 0)
        trips["expected_averted"] += np.where(trips["session"], extra_value[trips["v"].to_numpy()], 0.0)
    trips = _number_trips(trips, vinfo)
    visits = _visits_table(reached, trips, vinfo, list(scores.columns) + (["explore"] if explore else []))
    days = _days_table(trips)
    if explore:  # report the real expected gains, not the exploration's priority
        value = trips.groupby("pool")["expected_averted"].sum() if len(trips) else pd.Series(dtype=float)
        true_value = pd.Series(pool_names).map(value).fillna(0.0).to_numpy()
        stats = stats.assign(lp_bound=np.maximum(stats["lp_bound"] - (stats["value"] - true_value), true_value),
                             value=true_value)
    pools_out = _pools_table(pools, stats, trips, days, visits)
    unreachable = _unreachable(people, vinfo, travel, config)
    notes = [f"{unplanned} scored people live in communes no capacity entry covers"] if unplanned else []
    if explore:
        n_explore = int(visits["explore"].astype(bool).sum()) if len(visits) else 0
        notes.append(f"exploration: {n_explore} home visits to randomly chosen people ({explore:.0%} of the hours), "
                     "marked explore / thăm ngẫu nhiên để đo hiệu quả")
    return Plan(visits, trips, days, pools_out, unreachable, config, capacity, notes)


def _validated(scores: pd.DataFrame, villages: pd.DataFrame, gains) -> tuple[pd.DataFrame, pd.DataFrame]:
    for name, df, cols in (
        ("scores", scores, ("participant_id", "village_id", "risk")),
        ("villages", villages, ("village_id", "commune", "district", "travel_minutes")),
    ):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise PlanInputError(f"{name}: missing column(s) {missing}; have {list(df.columns)}")
    risk = pd.to_numeric(scores["risk"], errors="coerce")
    bad = scores.index[~risk.between(0, 1)].tolist()
    if bad:
        raise PlanInputError(f"scores.risk: must be a probability in [0, 1]; first offending rows: "
                             f"{[(i, scores['risk'].iloc[i]) for i in bad[:5]]}")
    dup = scores["participant_id"].duplicated()
    if dup.any():
        raise PlanInputError(f"scores.participant_id: duplicated: {scores.loc[dup, 'participant_id'].head(5).tolist()}")
    travel = pd.to_numeric(villages["travel_minutes"], errors="coerce")
    bad = villages.index[~(travel >= 0)].tolist()
    if bad:
        raise PlanInputError(f"villages.travel_minutes: must be minutes >= 0; first offending rows: "
                             f"{villages.loc[bad[:5], ['village_id', 'travel_minutes']].values.tolist()}")
    vill = villages.copy()
    vill["village_id"] = vill["village_id"].astype(str)
    vill["travel_minutes"] = travel.to_numpy(np.float64)
    if "ethnic_language" not in vill.columns:
        vill["ethnic_language"] = None
    if vill["village_id"].duplicated().any():
        raise PlanInputError(f"villages.village_id: duplicated: {vill.loc[vill.village_id.duplicated(), 'village_id'].head(5).tolist()}")
    people = scores.reset_index(drop=True).copy()
    people["village_id"] = people["village_id"].astype(str)
    people["risk"] = risk.to_numpy(np.float64)
    orphan = ~people["village_id"].isin(set(vill["village_id"]))
    if orphan.any():
        raise PlanInputError(f"scores.village_id: not in villages; first offending rows: "
                             f"{people.loc[orphan, ['participant_id', 'village_id']].head(5).values.tolist()}")
    if gains is not None:
        missing = [c for c in GAIN_COLUMNS if c not in gains.columns]
        if missing or len(gains) != len(scores):
            raise PlanInputError(f"gains: need {list(GAIN_COLUMNS)} for each of the {len(scores)} score rows")
    for c in ("due_on", "amount_due", "risk_band"):
        if c not in people.columns:
            people[c] = pd.NaT if c == "due_on" else None
    people = people.drop(columns=[c for c in ("commune", "district") if c in people.columns])
    return people, vill


def _number_trips(trips: pd.DataFrame, vinfo: pd.DataFrame) -> pd.DataFrame:
    """Trip number within its officer-day (farthest first: leave early), labels, village facts."""
    if trips.empty:
        return pd.DataFrame(columns=["pool", "officer_day", "day", "trip", "village_id", "commune", "district",
                                     "travel_minutes", "language", "session", "home_visits", "people_reached",
                                     "villagers_not_scored", "minutes", "expected_averted", "averted_per_hour",
                                     "first_due_on", "v", "trip_no"])
    t = trips.copy()
    for c in ("village_id", "commune", "district", "travel_minutes", "ethnic_language"):
        t[c] = vinfo[c].to_numpy()[t["v"].to_numpy()]
    t = t.sort_values(["pool", "day", "travel_minutes", "v", "trip_no"], ascending=[True, True, False, True, True])
    t["trip"] = t.groupby(["pool", "day"]).cumcount() + 1
    t["officer_day"] = [day_label(p, d) for p, d in zip(t["pool"], t["day"])]
    t["averted_per_hour"] = t["expected_averted"] / (t["minutes"] / 60.0)
    cols = ["pool", "officer_day", "day", "trip", "village_id", "commune", "district", "travel_minutes",
            "ethnic_language", "session", "home_visits", "people_reached", "villagers_not_scored", "minutes",
            "expected_averted",
            "averted_per_hour", "first_due_on", "v", "trip_no"]
    return t[cols].rename(columns={"ethnic_language": "language"}).reset_index(drop=True)


def _visits_table(reached: pd.DataFrame, trips: pd.DataFrame, vinfo: pd.DataFrame, score_columns) -> pd.DataFrame:
    extra = [c for c in score_columns if c not in PLAN_COLUMNS and c not in ("commune", "district")]
    if reached.empty:
        return pd.DataFrame(columns=PLAN_COLUMNS + extra)
    r = reached.merge(trips[["v", "trip_no", "pool", "officer_day", "day", "trip", "commune", "district",
                             "travel_minutes", "language"]], on=["v", "trip_no"], how="left",
                      suffixes=("_person", ""))
    # home visits first, in order of gain; people only invited to the session after them
    r["_key"] = np.where(r["home_visit"], r["order_in_trip"], 10**9 + r["order_in_trip"])
    r = r.sort_values(["pool", "day", "trip", "_key"], kind="stable")
    r["visit_order"] = r.groupby(["pool", "day", "trip"]).cumcount() + 1
    return r[PLAN_COLUMNS + extra].reset_index(drop=True)


def _days_table(trips: pd.DataFrame) -> pd.DataFrame:
    if trips.empty:
        return pd.DataFrame(columns=["pool", "day", "officer_day", "trips", "minutes", "expected_averted"])
    return (trips.groupby(["pool", "day", "officer_day"], as_index=False)
            .agg(trips=("trip", "size"), minutes=("minutes", "sum"), expected_averted=("expected_averted", "sum")))


def _pools_table(pools, stats, trips, days, visits) -> pd.DataFrame:
    out = pools.rename(columns={"hours": "capacity_hours"}).reset_index(drop=True)
    used = trips.groupby("pool")["minutes"].sum() / 60.0 if len(trips) else pd.Series(dtype=float)
    out["hours_used"] = out["pool"].map(used).fillna(0.0)
    out["officer_days"] = out["pool"].map(days.groupby("pool").size() if len(days) else {}).fillna(0).astype(int)
    agg = (trips.groupby("pool").agg(trips=("trip", "size"), home_visits=("home_visits", "sum"),
                                     sessions=("session", "sum"), villagers_not_scored=("villagers_not_scored", "sum"))
           if len(trips) else pd.DataFrame())
    for c in ("trips", "home_visits", "sessions", "villagers_not_scored"):
        out[c] = out["pool"].map(agg[c]).fillna(0).astype(int) if len(agg) else 0
    reached = visits.groupby("pool")["participant_id"].nunique() if len(visits) else {}
    out["people_reached"] = out["pool"].map(reached).fillna(0).astype(int)
    out["expected_averted"] = stats["value"].to_numpy()
    hours = out["hours_used"].to_numpy()
    out["averted_per_hour"] = np.divide(out["expected_averted"].to_numpy(), hours, out=np.zeros(len(out)), where=hours > 0)
    out["lp_bound"] = stats["lp_bound"].to_numpy()
    out["method"] = stats["method"].to_numpy()
    return out


def _unreachable(people, vinfo, travel, config) -> pd.DataFrame:
    """Villages with people where neither a visit nor a session fits in one officer-day."""
    n = len(travel)
    codes = np.arange(n)
    ok = (trips_needed(np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64), travel, config) > 0) | (
        trips_needed(np.ones(n, dtype=np.int64), np.zeros(n, dtype=np.int64), travel, config) > 0)
    far = codes[~ok]
    counts = np.bincount(people["v"].to_numpy(), minlength=n)
    risk = np.bincount(people["v"].to_numpy(), weights=people["risk"].to_numpy(), minlength=n)
    return pd.DataFrame({
        "village_id": vinfo["village_id"].to_numpy()[far],
        "commune": vinfo["commune"].to_numpy()[far],
        "district": vinfo["district"].to_numpy()[far],
        "travel_minutes": travel[far],
        "people": counts[far],
        "expected_lapses": risk[far],
    })


def enrolled_per_village(participants: pd.DataFrame, withdrawals: pd.DataFrame, as_of) -> pd.Series:
    """Participants enrolled on `as_of` (enrolled by then, no lump-sum claim yet) per village_id."""
    as_of = pd.Timestamp(as_of)
    gone = withdrawals.loc[pd.to_datetime(withdrawals["claimed_on"]) <= as_of, "participant_id"]
    p = participants[(pd.to_datetime(participants["enrolled_on"]) <= as_of) & ~participants["participant_id"].isin(gone)]
    return p.groupby(p["village_id"].astype(str)).size().rename("enrolled")


def villages_with_enrolled(tables, as_of) -> pd.DataFrame:
    """`tables.villages` with `enrolled` (enrolled_per_village, 0 where none): what
    `plan_visits` counts an evening session's unscored villagers from."""
    enrolled = enrolled_per_village(tables.participants, tables.withdrawals, as_of)
    return tables.villages.assign(enrolled=tables.villages["village_id"].astype(str).map(enrolled).fillna(0))
