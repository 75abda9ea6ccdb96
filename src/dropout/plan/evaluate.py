"""Judge targeting on the simulator: expected lapses truly averted, at equal officer-hours.

The planner never sees the simulator's visit effects; this module does, to score plans.
In the simulator (simulate/outreach.py, simulate/lapse.py) a home visit adds
-home_effect x responsiveness to the log-odds of the monthly lapse hazard behind the
person's next installment, an evening session -session_effect x responsiveness, and both
add up. The installment is missed with p_unpaid(logit, exposure, suspended). So the true
expected lapses a contact averts are

    p_unpaid(logit0) - p_unpaid(logit0 + true_effect)

with logit0 the installment's hazard logit without any visit (the truth's drivers minus
its visit_effect). Where only a probability is known, `gain_from_shift` uses the plain
form p - sigmoid(logit(p) + true_effect).

Strategies compared, each within the same capacity and officer-day rules:
- plan: `plan_visits` with the model's risk and the ASSUMED effects;
- risk_rank: officers go down the risk list, ignoring travel (home visits; people of
  the same village share a trip when they come up while it still has room);
- random: the same, in random order;
- oracle: `plan_visits` with the true gains: home visits among the same people, each
  session valued over every villager it reaches (the ceiling of this planner).
Accounting follows the simulator: a home visit reaches the person visited, a session
every enrolled villager (paying or suspended), each at their next installment decision
after as-of, whenever it falls (the simulator keeps a visit's effect until then). The
planner only sees the people scored (due in the window), so `due_only_per_hour` also
reports what the strategies avert among them alone. Every strategy is assumed to speak
the participant's language.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dropout.plan import plan_visits
from dropout.plan.capacity import Capacity, parse_capacity, resolve_pools
from dropout.maths import logit, sigmoid
from dropout.plan.optimise import PlanConfig
from dropout.plan.output import BOTH, HOME_VISIT, Plan

GAINS = ("gain_visit", "gain_session", "gain_both")


def gain_from_shift(p: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """p - sigmoid(logit(p) + shift): lapses averted by a log-odds change `shift` (< 0)."""
    return np.asarray(p, dtype=np.float64) - sigmoid(logit(p) + np.asarray(shift, dtype=np.float64))


def true_gains(base_logit, exposure, suspended, responsiveness, lapse_cfg, home_effect: float,
               session_effect: float) -> pd.DataFrame:
    """True expected lapses averted per person by a home visit, a session, or both.

    Args:
        base_logit: hazard logit of the installment without any visit.
        exposure, suspended: as in simulate.lapse.p_unpaid.
        responsiveness: latent visit responsiveness (truth/participants).
        lapse_cfg: the simulator's LapseConfig; home_effect, session_effect: its outreach effects.

    Returns:
        p_base, gain_visit, gain_session, gain_both.
    """
    from dropout.simulate.lapse import p_unpaid

    x = np.asarray(base_logit, dtype=np.float64)
    r = np.asarray(responsiveness, dtype=np.float64)

    def p(shift):
        return p_unpaid(lapse_cfg, x + shift, exposure, suspended)

    p0 = p(0.0)
    return pd.DataFrame({
        "p_base": p0,
        "gain_visit": p0 - p(-home_effect * r),
        "gain_session": p0 - p(-session_effect * r),
        "gain_both": p0 - p(-(home_effect + session_effect) * r),
    })


def truth_for_due(due: pd.DataFrame, truth: dict, participants: pd.DataFrame, sim_config) -> pd.DataFrame:
    """True gains of each person due (aligned with `due`), from a simulation's truth/.

    Joins truth/installments on (participant_id, due_on), recomputes the hazard logit
    from its drivers without the visit effect, and adds p_lapse (as simulated). Rows the
    simulator never decided (after a withdrawal) get NaN.
    """
    from dropout.simulate.lapse import DRIVERS, lapse_logit

    ti = truth["installments"]
    key = due[["participant_id", "due_on"]].assign(_row=np.arange(len(due)))
    ti = ti.drop_duplicates(["participant_id", "due_on"], keep="first")
    m = key.merge(ti, on=["participant_id", "due_on"], how="left").sort_values("_row")
    drivers = {c: m[c].to_numpy(np.float64) for c in DRIVERS}
    base = lapse_logit(sim_config.lapse, drivers) - drivers["visit_effect"]
    mode = due[["participant_id"]].merge(participants[["participant_id", "payment_mode"]], on="participant_id", how="left")
    exposure = mode["payment_mode"].map(sim_config.lapse.exposure_months).to_numpy(np.float64)
    suspended = (m["decision"].astype(object) == "resume").to_numpy()
    resp = due[["participant_id"]].merge(truth["participants"][["participant_id", "responsiveness"]],
                                         on="participant_id", how="left")["responsiveness"].to_numpy(np.float64)
    out = true_gains(base, exposure, suspended, resp, sim_config.lapse, sim_config.outreach.home_effect,
                     sim_config.outreach.session_effect)
    out["p_lapse"] = m["p_lapse"].to_numpy(np.float64)
    undecided = m["decision"].isna().to_numpy() | np.isnan(out["p_base"].to_numpy())
    out.loc[undecided, ["p_base", *GAINS]] = np.nan
    return out.reset_index(drop=True)


def reach_from_truth(truth: dict, participants: pd.DataFrame, sim_config, as_of) -> pd.DataFrame:
    """Everyone a contact could reach after `as_of`, with the true gains of their next decision.

    One row per participant with an installment decided after as_of (the enrolled:
    paying or suspended), indexed by participant_id: village_id, due_on (of that next
    installment), p_base, gain_visit, gain_session, gain_both, p_lapse.
    """
    ti = truth["installments"]
    nxt = ti.loc[(ti["due_on"] > pd.Timestamp(as_of)) & ti["decision"].notna(), ["participant_id", "due_on"]]
    nxt = nxt.sort_values(["participant_id", "due_on"], kind="stable").drop_duplicates("participant_id")
    nxt = nxt.merge(participants[["participant_id", "village_id"]], on="participant_id", how="left").reset_index(drop=True)
    gains = truth_for_due(nxt, truth, participants, sim_config)
    out = pd.concat([nxt[["village_id", "due_on"]], gains], axis=1)
    out.index = nxt["participant_id"].to_numpy()
    out.index.name = "participant_id"
    return out


# ---------------------------------------------------------------- strategies


@dataclass
class Outcome:
    """What a strategy did: who was visited at home, where sessions were held, the hours it took."""

    strategy: str
    visited: np.ndarray  # participant ids
    session_villages: np.ndarray  # village ids
    hours: float

    @property
    def sessions(self) -> int:
        return len(self.session_villages)


def outcome_of_plan(plan: Plan, strategy: str = "plan") -> Outcome:
    v = plan.visits
    visited = np.unique(v.loc[v["action"].isin([HOME_VISIT, BOTH]), "participant_id"].to_numpy())
    sessions = plan.trips.loc[plan.trips["session"].astype(bool), "village_id"].to_numpy() if len(plan.trips) else []
    return Outcome(strategy, visited, np.unique(np.asarray(sessions, dtype=object)), plan.officer_hours)


def visits_in_order(order: pd.DataFrame, villages: pd.DataFrame, capacity: Capacity | str, config: PlanConfig,
                    strategy: str) -> Outcome:
    """Home visits taken down a list (rows of `order`: participant_id, village_id) while they fit.

    Each pool spends its hours in list order; a person is skipped when their visit does
    not fit what is left. A visit joins an open trip to the same village while it has
    room (a day's visits after travel both ways), else opens a new trip (travel both ways).
    """
    if isinstance(capacity, str):
        capacity = parse_capacity(capacity)
    pool_of_village, pools = resolve_pools(capacity, villages)
    left = dict(zip(pools["pool"], pools["hours"].to_numpy(np.float64) * 60.0))
    travel = dict(zip(villages["village_id"].astype(str), pd.to_numeric(villages["travel_minutes"]).to_numpy(np.float64)))
    m, d = config.home_visit.minutes, config.day_minutes
    slots: dict[str, int] = {}
    taken, minutes = [], 0.0
    vids = order["village_id"].astype(str).to_numpy()
    pools_of = pool_of_village.reindex(vids).to_numpy()
    for pid, vid, pool in zip(order["participant_id"].to_numpy(), vids, pools_of):  # evaluation only
        if not isinstance(pool, str):
            continue
        t = travel[vid]
        per_trip = int((d - 2 * t) // m)
        if per_trip < 1:
            continue
        cost = m if slots.get(vid, 0) > 0 else 2 * t + m
        if cost > left[pool] + 1e-9:
            continue
        left[pool] -= cost
        minutes += cost
        slots[vid] = slots.get(vid, 0) - 1 if slots.get(vid, 0) > 0 else per_trip - 1
        taken.append(pid)
    return Outcome(strategy, np.array(taken, dtype=np.int64), np.array([], dtype=object), minutes / 60.0)


def oracle_outcome(scores: pd.DataFrame, villages: pd.DataFrame, capacity: Capacity, config: PlanConfig,
                   reach: pd.DataFrame) -> Outcome:
    """The planner given the truth: the same candidates for home visits (the people scored),
    the true gains of each, and sessions valued over every enrolled villager they reach."""
    everyone = reach[reach[list(GAINS)].notna().all(axis=1)]
    due = everyone.index.isin(scores["participant_id"].to_numpy())
    rows = pd.DataFrame({"participant_id": everyone.index.to_numpy(), "village_id": everyone["village_id"].to_numpy(),
                         "risk": everyone["p_base"].to_numpy(), "due_on": everyone["due_on"].to_numpy()})
    gains = pd.DataFrame({
        "gain_visit": np.where(due, everyone["gain_visit"], 0.0),
        "gain_session": everyone["gain_session"].to_numpy(),
        "gain_both": np.where(due, everyone["gain_both"], everyone["gain_session"]),
    })
    whole_village = config.evening_session.model_copy(update={"max_people": max(len(rows), 1)})
    plan = plan_visits(rows, villages, capacity, config.model_copy(update={"evening_session": whole_village}),
                       gains=gains)
    return outcome_of_plan(plan, "oracle")


def averted(outcome: Outcome, reach: pd.DataFrame, among: np.ndarray | None = None) -> tuple[float, int]:
    """True expected lapses averted and people reached by an outcome.

    Args:
        reach: true gains indexed by participant_id, with village_id (`reach_from_truth`).
        among: count only these participant ids (e.g. the people due in the window).
    """
    r = reach if among is None else reach[reach.index.isin(among)]
    visited = r.index.isin(outcome.visited)
    session = r["village_id"].isin(outcome.session_villages).to_numpy()
    g = np.where(visited & session, r["gain_both"],
                 np.where(visited, r["gain_visit"], np.where(session, r["gain_session"], 0.0)))
    return float(np.nansum(g)), int((visited | session).sum())


def compare_targeting(scores: pd.DataFrame, villages: pd.DataFrame, capacity: Capacity | str, config: PlanConfig,
                      reach: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """One row per strategy (plan, risk_rank, random, oracle) at the same capacity.

    Columns: officer_hours, home_visits, sessions, people_reached, lapses_averted (true,
    everyone reached: a session reaches every enrolled villager), per_100_reached,
    per_officer_hour, vs_risk_rank (per officer-hour), of_oracle (lapses averted), and
    due_only_per_hour (counting only the people scored, as the planner sees them).

    Args:
        scores: participant_id, village_id, risk: the people due, as scored.
        reach: true gains of everyone reachable (`reach_from_truth`); the scored people
            must be in it (those missing are dropped from every strategy alike).
    """
    if isinstance(capacity, str):
        capacity = parse_capacity(capacity)
    known = scores["participant_id"].isin(reach.index[reach[list(GAINS)].notna().all(axis=1)])
    scores = scores[known.to_numpy()].reset_index(drop=True)

    rng = np.random.default_rng(seed)
    by_risk = scores.sort_values(["risk", "participant_id"], ascending=[False, True], kind="stable")
    outcomes = [
        outcome_of_plan(plan_visits(scores, villages, capacity, config), "plan"),
        visits_in_order(by_risk, villages, capacity, config, "risk_rank"),
        visits_in_order(scores.iloc[rng.permutation(len(scores))], villages, capacity, config, "random"),
        oracle_outcome(scores, villages, capacity, config, reach),
    ]
    due = scores["participant_id"].to_numpy()
    rows = []
    for o in outcomes:
        a, reached = averted(o, reach)
        a_due, _ = averted(o, reach, among=due)
        rows.append({
            "strategy": o.strategy,
            "officer_hours": o.hours,
            "home_visits": len(o.visited),
            "sessions": o.sessions,
            "people_reached": reached,
            "lapses_averted": a,
            "per_100_reached": 100.0 * a / reached if reached else 0.0,
            "per_officer_hour": a / o.hours if o.hours else 0.0,
            "due_only_per_hour": a_due / o.hours if o.hours else 0.0,
        })
    table = pd.DataFrame(rows).set_index("strategy")
    table.insert(len(table.columns) - 1, "vs_risk_rank",
                 table["per_officer_hour"] / table.loc["risk_rank", "per_officer_hour"])
    table.insert(len(table.columns) - 1, "of_oracle", table["lapses_averted"] / table.loc["oracle", "lapses_averted"])
    return table.reset_index()


def to_markdown(table: pd.DataFrame) -> str:
    """A GitHub-markdown table of `compare_targeting`'s result."""
    fmt = {"officer_hours": "{:.1f}", "lapses_averted": "{:.2f}", "per_100_reached": "{:.2f}",
           "per_officer_hour": "{:.3f}", "vs_risk_rank": "{:.2f}x", "of_oracle": "{:.0%}",
           "due_only_per_hour": "{:.3f}"}
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" if c == "strategy" else "---:" for c in cols) + "|"]
    for r in table.itertuples(index=False):
        cells = [fmt[c].format(v) if c in fmt else str(v) for c, v in zip(cols, r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
