"""A fair comparison of ways to plan visits on the simulator (issue 15).

Every contender uses the same planner (`plan_visits`): the same capacity, officer-days,
trips by village, travel both ways, evening sessions in the village language and home
visits. They differ only in what they believe a contact is worth:

- risk_rank: the risk alone (a contact averts a fixed share of the person's risk: the
  riskiest first, travel and sessions permitting);
- random: a random worth per person (random people, same trips and sessions);
- plan_assumed: the risk and the ASSUMED effects of models/plan.yaml (today's plan);
- plan_effect: the risk and the effects LEARNED from recorded visits (`dropout.effects`);
- oracle: the simulator's true effect of each contact on each person, with the same risk
  as the others (the "oracle-effect plan": what perfect effect estimates would give):
  the true change in the log-odds of the installment going unpaid,
  logit(p0 - true gain) - logit(p0) with p0 the true probability without a visit,
  applied to the person's risk like any learned effect;
- oracle_truth: the true gains themselves, true risk included (for reference: the
  ceiling of this planner when the risk, too, is known).

Accounting (`true_reach`): the true expected lapses averted at each person's next
installment decision, an evening session counted only for the villagers who come: each
with the simulator's turnout (truth/participants.session_turnout, by distance and
language, when the scenario draws one; everyone when the preset credits everyone). The
main figure counts the people due in the window (those scored and listed); every
enrolled villager a session reaches is the second column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.maths import logit, sigmoid
from dropout.plan import plan_visits
from dropout.plan.capacity import Capacity, parse_capacity
from dropout.plan.evaluate import GAINS, averted, outcome_of_plan
from dropout.plan.optimise import PlanConfig

#: a contact's worth as a share of the risk for risk_rank and random (about the assumed
#: log-odds changes of plan.yaml at small risks: 1 - exp(-0.6), 1 - exp(-0.2))
RISK_SHARE = {"visit": 0.45, "session": 0.18}
CONTENDERS = ("risk_rank", "random", "plan_assumed", "plan_effect", "oracle", "oracle_truth")


def true_reach(reach: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """`reach_from_truth` with sessions counted for those who come (truth/participants.session_turnout)."""
    tp = truth["participants"]
    out = reach.copy()
    if "session_turnout" not in tp.columns:
        out["turnout"] = 1.0
        return out
    t = tp.set_index("participant_id")["session_turnout"].reindex(out.index).fillna(1.0).to_numpy()
    out["turnout"] = t
    out["gain_both"] = t * out["gain_both"] + (1 - t) * out["gain_visit"]
    out["gain_session"] = t * out["gain_session"]
    return out


def share_gains(worth: np.ndarray) -> pd.DataFrame:
    v, s = RISK_SHARE["visit"], RISK_SHARE["session"]
    w = np.asarray(worth, dtype=np.float64)
    return pd.DataFrame({"gain_visit": v * w, "gain_session": s * w, "gain_both": (1 - (1 - v) * (1 - s)) * w})


def oracle_effect_gains(risk: np.ndarray, truth: pd.DataFrame) -> pd.DataFrame:
    """The true effects (as log-odds changes of not paying) applied to `risk`."""
    eps = 1e-6
    p0 = np.clip(truth["p_base"].to_numpy(np.float64), eps, 1 - eps)
    x = logit(np.clip(risk, eps, 1 - eps))
    out = {}
    for c in GAINS:
        shift = logit(np.clip(p0 - truth[c].to_numpy(np.float64), eps, 1 - eps)) - logit(p0)
        out[c] = np.clip(risk, eps, 1 - eps) - sigmoid(x + shift)
    return pd.DataFrame(out)


def contender_gains(scores: pd.DataFrame, reach: pd.DataFrame, learned: pd.DataFrame | None,
                    seed: int) -> dict[str, pd.DataFrame | None]:
    """The gains each contender plans with (None: the assumed effects of the config)."""
    risk = scores["risk"].to_numpy(np.float64)
    rng = np.random.default_rng(seed)
    truth = reach.loc[scores["participant_id"].to_numpy(), ["p_base", *GAINS]].reset_index(drop=True)
    out = {"risk_rank": share_gains(risk), "random": share_gains(rng.random(len(risk)) * risk.mean() * 2),
           "plan_assumed": None, "plan_effect": learned, "oracle": oracle_effect_gains(risk, truth),
           "oracle_truth": truth[list(GAINS)]}
    return {k: v for k, v in out.items() if not (k == "plan_effect" and v is None)}


def compare_fair(scores: pd.DataFrame, villages: pd.DataFrame, capacity: Capacity | str, config: PlanConfig,
                 reach: pd.DataFrame, learned: pd.DataFrame | None = None, seed: int = 0,
                 more: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """One row per contender at the same capacity.

    Args:
        scores: participant_id, village_id, risk (the people due in the window).
        reach: `true_reach(reach_from_truth(...))`: true gains of everyone a contact could reach.
        learned: gains from learned effects aligned with `scores` (plan_effect), if any.
        more: other contenders' gains by name, aligned with `scores` (e.g. effects learned earlier).

    Returns:
        strategy, officer_hours, home_visits, sessions, averted_due (true lapses averted
        among the people due), averted_all (every villager reached), due_per_hour,
        vs_risk_rank (averted_due per officer-hour), of_oracle (averted_due).
    """
    if isinstance(capacity, str):
        capacity = parse_capacity(capacity)
    known = scores["participant_id"].isin(reach.index[reach[list(GAINS)].notna().all(axis=1)]).to_numpy()
    scores = scores[known].reset_index(drop=True)
    learned = learned[known].reset_index(drop=True) if learned is not None else None
    due = scores["participant_id"].to_numpy()
    contenders = contender_gains(scores, reach, learned, seed)
    contenders.update({k: v[known].reset_index(drop=True) for k, v in (more or {}).items()})
    rows = []
    for name, gains in contenders.items():
        o = outcome_of_plan(plan_visits(scores, villages, capacity, config, gains=gains), name)
        a_due, _ = averted(o, reach, among=due)
        a_all, reached = averted(o, reach)
        rows.append({"strategy": name, "officer_hours": o.hours, "home_visits": len(o.visited),
                     "sessions": o.sessions, "people_reached": reached, "averted_due": a_due, "averted_all": a_all})
    t = pd.DataFrame(rows).set_index("strategy")
    t["due_per_hour"] = t["averted_due"] / t["officer_hours"].where(t["officer_hours"] > 0)
    t["vs_risk_rank"] = t["due_per_hour"] / t.loc["risk_rank", "due_per_hour"]
    t["of_oracle"] = t["averted_due"] / t.loc["oracle", "averted_due"]
    return t.reset_index()
