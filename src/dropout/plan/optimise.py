"""Choose what to do in each village so that the expected lapses averted are largest.

The problem, per pool of officer-hours (see `capacity`): for every village pick one
*option* — nothing, k home visits, or an evening session plus j home visits — so that
the options' officer-minutes fit the pool and their expected lapses averted add up to the
most. A trip leaves the district office, spends its time in one village and comes back
(travel_minutes each way) within one officer-day; a village needing more time than one
day gets several trips, each paying the travel again. This is a multiple-choice knapsack:

1. `village_options` lists every option of every village with its cost (minutes,
   travel both ways included) and value (sum of the people's gains), vectorised over all
   villages at once, and keeps only options worth more than every cheaper one.
2. `_upper_hull` keeps each village's options on the upper concave hull of
   (cost, value): the steps between them have falling value per minute, so the trip's
   fixed travel cost is amortised over the people it serves.
3. Greedy: all hull steps of a pool in order of value per minute, taken while they fit
   (the LP optimum, up to the one step that does not fit, which gives an upper bound).
4. Fill: spend what is left on the single change that gains most, until nothing fits;
   and keep the best single option instead when it alone beats the greedy plan.
5. Exact: where the greedy plan may be more than `gap_tolerance` below the LP bound and
   the pool is small enough, a dynamic programme over (village, minutes) finds the
   optimum; the better plan is kept.

Gains are inputs (columns gain_visit, gain_session, gain_both): `assumed_gains` turns the
model's risk into gains with the ASSUMED effects of `models/plan.yaml`; the evaluation
passes gains from the simulator's truth to build the oracle plan with the same code.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from dropout.maths import logit, sigmoid
from dropout.strict import Strict, read_config, validated
from dropout.errors import ConfigError, DropoutError
from dropout.paths import models_dir

NONE, VISITS, SESSION = -1, 0, 1  # option modes


class PlanInputError(DropoutError):
    """The scores or villages given to the planner are unusable (names column and rows)."""


# ---------------------------------------------------------------- config




class Effect(Strict):
    """An assumed effect of one contact: exactly one of the two forms."""

    relative_reduction: float | None = Field(default=None, ge=0, lt=1)
    log_odds_change: float | None = Field(default=None, le=0)

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.relative_reduction is None) == (self.log_odds_change is None):
            raise ValueError("give exactly one of relative_reduction or log_odds_change")
        return self

    def apply(self, p: np.ndarray) -> np.ndarray:
        """Lapse probability after this contact."""
        p = np.asarray(p, dtype=np.float64)
        if self.relative_reduction is not None:
            return p * (1.0 - self.relative_reduction)
        return sigmoid(logit(p) + self.log_odds_change)


class HomeVisit(Effect):
    minutes: int = Field(gt=0)


class EveningSession(Effect):
    minutes: int = Field(gt=0)
    max_people: int = Field(gt=0)
    count_unscored: bool


class OfficerDay(Strict):
    hours: float = Field(gt=0, le=24)


class OptimiserSettings(Strict):
    resolution_minutes: int = Field(gt=0)
    gap_tolerance: float = Field(ge=0)
    exact_max_cells: int = Field(ge=0)


class PlanConfig(Strict):
    """The planner's assumptions and settings: `models/plan.yaml`, every key required."""

    home_visit: HomeVisit
    evening_session: EveningSession
    officer_day: OfficerDay
    optimiser: OptimiserSettings

    @property
    def day_minutes(self) -> int:
        return int(round(self.officer_day.hours * 60))

    def with_visit_minutes(self, minutes: int | None) -> "PlanConfig":
        """The same config with another home-visit length (the CLI's --visit-minutes)."""
        if minutes is None:
            return self
        if int(minutes) != minutes or minutes <= 0:
            raise ConfigError(f"--visit-minutes must be a positive whole number of minutes, got {minutes!r}")
        visit = self.home_visit.model_copy(update={"minutes": int(minutes)})
        return self.model_copy(update={"home_visit": visit})


def load_plan_config(path: str | Path | None = None) -> PlanConfig:
    """Read and validate `models/plan.yaml` (or `path`); ConfigError names the bad key."""
    return read_config(path or models_dir() / "plan.yaml", PlanConfig, "plan config")


def plan_config_from_dict(raw: dict, source: str = "<dict>") -> PlanConfig:
    return validated(PlanConfig, raw, source, "plan config")


# ---------------------------------------------------------------- gains



def assumed_gains(risk: np.ndarray, config: PlanConfig) -> pd.DataFrame:
    """Expected lapses averted per person under the ASSUMED effects (never the truth).

    Returns columns gain_visit (home visit only), gain_session (session only) and
    gain_both (visited and invited: the two effects one after the other).
    """
    p = np.asarray(risk, dtype=np.float64)
    after_visit = config.home_visit.apply(p)
    after_session = config.evening_session.apply(p)
    after_both = config.evening_session.apply(after_visit)
    return pd.DataFrame({"gain_visit": p - after_visit, "gain_session": p - after_session, "gain_both": p - after_both})


# ---------------------------------------------------------------- options


def _within_group_rank(group_sorted: np.ndarray) -> np.ndarray:
    """1-based position of each row within its run of equal group values (input sorted)."""
    n = len(group_sorted)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    start = np.r_[True, group_sorted[1:] != group_sorted[:-1]]
    start_pos = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    return np.arange(n) - start_pos + 1


def _group_cumsum(group_sorted: np.ndarray, x: np.ndarray) -> np.ndarray:
    c = np.cumsum(x)
    rank = _within_group_rank(group_sorted)
    first = np.arange(len(x)) - rank + 1
    return c - (c[first] - x[first])


def rank_people(people: pd.DataFrame, config: PlanConfig) -> pd.DataFrame:
    """Add each person's order in their village for visits, session invitation and visits
    on top of a session: rank_visit, invited, rank_extra (all 1-based)."""
    v = people["v"].to_numpy()
    out = people.copy()
    gv, gs, gb = (people[c].to_numpy(np.float64) for c in ("gain_visit", "gain_session", "gain_both"))
    pid = people["participant_id"].to_numpy()
    order = np.lexsort((pid, -gv, v))
    rank = np.empty(len(v), dtype=np.int64)
    rank[order] = _within_group_rank(v[order])
    out["rank_visit"] = rank
    order = np.lexsort((pid, -gs, v))
    rank_s = np.empty(len(v), dtype=np.int64)
    rank_s[order] = _within_group_rank(v[order])
    invited = rank_s <= config.evening_session.max_people
    out["invited"] = invited
    extra = np.where(invited, gb - gs, gv)
    out["gain_extra"] = extra
    order = np.lexsort((pid, -extra, v))
    rank_e = np.empty(len(v), dtype=np.int64)
    rank_e[order] = _within_group_rank(v[order])
    out["rank_extra"] = rank_e
    return out


def trips_needed(mode: np.ndarray, k: np.ndarray, travel: np.ndarray, config: PlanConfig) -> np.ndarray:
    """Number of trips for `k` home visits (plus a session when mode == SESSION); 0 if impossible."""
    d, m, s = config.day_minutes, config.home_visit.minutes, config.evening_session.minutes
    q = np.floor((d - 2 * travel) / m).astype(np.int64)  # visits in one visiting trip
    q_s = np.floor((d - 2 * travel - s) / m).astype(np.int64)  # visits on the session's trip
    k = np.asarray(k, dtype=np.int64)
    session = mode == SESSION
    on_first = np.where(session, np.clip(q_s, 0, None), 0)
    rest = np.clip(k - on_first, 0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        extra = np.where(rest > 0, -(-rest // np.maximum(q, 1)), 0)
    n = extra + session.astype(np.int64)
    feasible = np.where(session, 2 * travel + s <= d, True) & ((rest == 0) | (q >= 1)) & (mode != NONE)
    return np.where(feasible, n, 0)


def option_cost(mode: np.ndarray, k: np.ndarray, travel: np.ndarray, config: PlanConfig) -> np.ndarray:
    """Officer-minutes of an option, travel both ways for every trip; inf if impossible."""
    n = trips_needed(mode, k, travel, config)
    cost = n * 2 * travel + config.home_visit.minutes * np.asarray(k) + (mode == SESSION) * config.evening_session.minutes
    ok = (n > 0) | (mode == NONE)
    return np.where(mode == NONE, 0.0, np.where(ok, cost, np.inf)).astype(np.float64)


def village_options(people: pd.DataFrame, travel: np.ndarray, budget: np.ndarray, config: PlanConfig,
                    session_extra: np.ndarray | None = None) -> pd.DataFrame:
    """Every useful option of every village: v, mode, k, cost (minutes), value.

    Args:
        people: ranked people (see `rank_people`) with village code `v`.
        travel: one-way travel minutes per village code.
        budget: minutes of the village's pool per village code (options above it are dropped).
        session_extra: value a session adds per village code beyond the people scored
            (`unscored_session_value`); none when omitted.
    """
    v = people["v"].to_numpy()
    # visits only: the k people with the largest gain_visit
    o = np.lexsort((people["rank_visit"].to_numpy(), v))
    va, ka = v[o], people["rank_visit"].to_numpy()[o]
    val_a = _group_cumsum(va, people["gain_visit"].to_numpy(np.float64)[o])
    # a session (everyone invited gains) plus j visits on top, best extra gain first
    inv = people["invited"].to_numpy()
    n_vill = len(travel)
    session_value = np.bincount(v[inv], weights=people["gain_session"].to_numpy(np.float64)[inv], minlength=n_vill)
    if session_extra is not None:
        session_value = session_value + session_extra
    has_people = np.bincount(v, minlength=n_vill) > 0
    o = np.lexsort((people["rank_extra"].to_numpy(), v))
    vb, kb = v[o], people["rank_extra"].to_numpy()[o]
    val_b = session_value[vb] + _group_cumsum(vb, people["gain_extra"].to_numpy(np.float64)[o])
    v0 = np.flatnonzero(has_people)

    opt = pd.DataFrame(
        {
            "v": np.concatenate([va, v0, vb]),
            "mode": np.concatenate([np.full(len(va), VISITS), np.full(len(v0) + len(vb), SESSION)]),
            "k": np.concatenate([ka, np.zeros(len(v0), dtype=np.int64), kb]),
            "value": np.concatenate([val_a, session_value[v0], val_b]),
        }
    )
    ov = opt["v"].to_numpy()
    opt["cost"] = option_cost(opt["mode"].to_numpy(), opt["k"].to_numpy(), travel[ov], config)
    opt = opt[np.isfinite(opt["cost"].to_numpy()) & (opt["cost"].to_numpy() <= budget[ov] + 1e-9)]
    return _pareto(opt)


def unscored_session_value(people: pd.DataFrame, enrolled: np.ndarray,
                           config: PlanConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per village code: (value, number) of enrolled villagers not scored (not due in the
    window, or suspended) a session reaches: as many as it still has room for, each
    assumed to gain the mean gain_session of the village's scored people."""
    v = people["v"].to_numpy()
    n = len(enrolled)
    scored = np.bincount(v, minlength=n)
    invited = np.bincount(v[people["invited"].to_numpy()], minlength=n)
    mean_gain = np.bincount(v, weights=people["gain_session"].to_numpy(np.float64), minlength=n) / np.maximum(scored, 1)
    extra = np.clip(np.minimum(enrolled - scored, config.evening_session.max_people - invited), 0, None)
    return extra * mean_gain, extra.astype(np.int64)


def _pareto(opt: pd.DataFrame) -> pd.DataFrame:
    """Keep, per village, only options worth strictly more than every cheaper one."""
    opt = opt.sort_values(["v", "cost", "value"], ascending=[True, True, False], kind="stable")
    v = opt["v"].to_numpy()
    value = opt["value"].to_numpy()
    best_before = opt.groupby("v", sort=False)["value"].cummax().groupby(v).shift(1).fillna(0.0).to_numpy()
    keep = value > best_before + 1e-12
    return opt[keep].reset_index(drop=True)


def _upper_hull(group: np.ndarray, cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Mask of points on each group's upper concave hull (rows sorted by group, cost;
    the first row of each group is its origin). Drops, pass after pass, every point on
    or below the chord of its living neighbours; such a point is never on the hull."""
    alive = np.ones(len(group), dtype=bool)
    while True:
        idx = np.flatnonzero(alive)
        g, c, val = group[idx], cost[idx], value[idx]
        same_prev = np.r_[False, g[1:] == g[:-1]]
        same_next = np.r_[g[:-1] == g[1:], False]
        inner = same_prev & same_next
        cp, vp = np.roll(c, 1), np.roll(val, 1)
        cn, vn = np.roll(c, -1), np.roll(val, -1)
        below = inner & ((val - vp) * (cn - cp) <= (vn - vp) * (c - cp))
        if not below.any():
            return alive
        alive[idx[below]] = False


# ---------------------------------------------------------------- choosing


def choose_options(
    opt: pd.DataFrame, village_pool: np.ndarray, pool_budget: np.ndarray, config: PlanConfig
) -> tuple[np.ndarray, pd.DataFrame]:
    """Pick at most one option per village, each pool within its budget of minutes.

    Args:
        opt: options from `village_options` (v, mode, k, cost, value).
        village_pool: pool code of each village code.
        pool_budget: minutes of each pool code.

    Returns:
        (row of `opt` chosen per village code, -1 for none; per pool: value, minutes,
        lp_bound, method).
    """
    n_pools = len(pool_budget)
    chosen, bound = _greedy(opt, village_pool, pool_budget)
    chosen = _fill(opt, chosen, village_pool, pool_budget)
    method = np.full(n_pools, "greedy", dtype=object)

    # Best single option per pool: the greedy can be fooled by one big trip worth more
    # than the small ones it filled the budget with (the classic 1/2 guarantee).
    value, _ = _pool_totals(opt, chosen, village_pool, n_pools)
    opool = village_pool[opt["v"].to_numpy()]
    ord_ = np.lexsort((-opt["value"].to_numpy(), opool))
    first = ord_[np.r_[True, opool[ord_][1:] != opool[ord_][:-1]]] if len(ord_) else ord_
    single = np.full(len(opt), False)
    single[first[opt["value"].to_numpy()[first] > value[opool[first]] + 1e-12]] = True
    if single.any():
        alt = np.full_like(chosen, -1)
        alt[opt["v"].to_numpy()[single]] = np.flatnonzero(single)
        alt = _fill(opt, alt, village_pool, pool_budget)
        _take_better(chosen, alt, opt, village_pool, n_pools, method, "single+fill")

    value, minutes = _pool_totals(opt, chosen, village_pool, n_pools)
    s = config.optimiser
    gap = np.where(bound > 0, (bound - value) / np.maximum(bound, 1e-300), 0.0)
    n_opt = np.bincount(opool, minlength=n_pools)
    for p in np.flatnonzero((gap > s.gap_tolerance) & (n_opt > 0)):
        rows = np.flatnonzero(opool == p)
        resolution = _resolution(opt["cost"].to_numpy()[rows], pool_budget[p], s)
        if resolution is None:
            continue
        alt = np.full_like(chosen, -1)
        picks = _exact(opt.iloc[rows], pool_budget[p], resolution)
        alt[opt["v"].to_numpy()[rows[picks]]] = rows[picks]
        in_pool = village_pool == p
        candidate = np.where(in_pool, alt, chosen)
        _take_better(chosen, candidate, opt, village_pool, n_pools, method, "exact", only=p)

    value, minutes = _pool_totals(opt, chosen, village_pool, n_pools)
    stats = pd.DataFrame({"value": value, "minutes": minutes, "lp_bound": np.maximum(bound, value), "method": method})
    return chosen, stats


def _pool_totals(opt, chosen, village_pool, n_pools):
    has = chosen >= 0
    rows = chosen[has]
    pools = village_pool[np.flatnonzero(has)]
    value = np.bincount(pools, weights=opt["value"].to_numpy()[rows], minlength=n_pools)
    minutes = np.bincount(pools, weights=opt["cost"].to_numpy()[rows], minlength=n_pools)
    return value, minutes


def _take_better(chosen, alt, opt, village_pool, n_pools, method, label, only=None):
    """Replace `chosen` by `alt` in every pool (or pool `only`) where `alt` is worth more."""
    old, _ = _pool_totals(opt, chosen, village_pool, n_pools)
    new, _ = _pool_totals(opt, alt, village_pool, n_pools)
    better = new > old + 1e-12
    if only is not None:
        better &= np.arange(n_pools) == only
    take = better[village_pool]
    chosen[take] = alt[take]
    method[better] = label


def _greedy(opt: pd.DataFrame, village_pool: np.ndarray, pool_budget: np.ndarray):
    """Hull steps by value per minute, taken while they fit; returns (chosen, LP bound)."""
    n_v, n_pools = len(village_pool), len(pool_budget)
    chosen = np.full(n_v, -1, dtype=np.int64)
    if opt.empty:
        return chosen, np.zeros(n_pools)
    ov = opt["v"].to_numpy()
    vs = np.unique(ov)
    g = np.concatenate([vs, ov])
    c = np.concatenate([np.zeros(len(vs)), opt["cost"].to_numpy()])
    val = np.concatenate([np.zeros(len(vs)), opt["value"].to_numpy()])
    ref = np.concatenate([np.full(len(vs), -1), np.arange(len(opt))])
    o = np.lexsort((c, g))
    g, c, val, ref = g[o], c[o], val[o], ref[o]
    alive = _upper_hull(g, c, val)
    g, c, val, ref = g[alive], c[alive], val[alive], ref[alive]
    step = np.r_[False, g[1:] == g[:-1]]
    sg, sref = g[step], ref[step]
    dc = c[step] - c[np.flatnonzero(step) - 1]
    dv = val[step] - val[np.flatnonzero(step) - 1]
    ratio = dv / dc
    sp = village_pool[sg]
    o = np.lexsort((-ratio, sp))
    sg, sref, dc, dv, ratio, sp = sg[o], sref[o], dc[o], dv[o], ratio[o], sp[o]
    cum = _group_cumsum(sp, dc)
    ok = cum <= pool_budget[sp] + 1e-9
    # accepted steps of a village form a prefix of its hull: the last one is its plan
    acc = np.flatnonzero(ok)
    last = acc[np.lexsort((opt["cost"].to_numpy()[sref[acc]], sg[acc]))]
    keep_last = np.r_[sg[last][1:] != sg[last][:-1], True] if len(last) else np.zeros(0, dtype=bool)
    chosen[sg[last[keep_last]]] = sref[last[keep_last]]
    used = np.bincount(sp[acc], weights=dc[acc], minlength=n_pools)
    gained = np.bincount(sp[acc], weights=dv[acc], minlength=n_pools)
    bound = gained.copy()
    rej = np.flatnonzero(~ok)
    if len(rej):
        first_rej = rej[np.r_[True, sp[rej][1:] != sp[rej][:-1]]]
        p = sp[first_rej]
        bound[p] += np.clip(pool_budget[p] - used[p], 0, None) * ratio[first_rej]
    return chosen, bound


def _fill(opt: pd.DataFrame, chosen: np.ndarray, village_pool: np.ndarray, pool_budget: np.ndarray) -> np.ndarray:
    """Spend each pool's leftover minutes on the change that gains most, until none fits."""
    chosen = chosen.copy()
    if opt.empty:
        return chosen
    ov = opt["v"].to_numpy()
    cost, value = opt["cost"].to_numpy(), opt["value"].to_numpy()
    opool = village_pool[ov]
    has = chosen >= 0
    cur_cost = np.where(has, cost[np.maximum(chosen, 0)], 0.0)
    cur_val = np.where(has, value[np.maximum(chosen, 0)], 0.0)
    left = pool_budget - np.bincount(village_pool, weights=cur_cost, minlength=len(pool_budget))
    while True:
        gain = value - cur_val[ov]
        dcost = cost - cur_cost[ov]
        cand = np.flatnonzero((gain > 1e-12) & (dcost <= left[opool] + 1e-9))
        if not len(cand):
            return chosen
        o = cand[np.lexsort((dcost[cand], -gain[cand], opool[cand]))]
        best = o[np.r_[True, opool[o][1:] != opool[o][:-1]]]
        v = ov[best]
        chosen[v] = best
        left -= np.bincount(opool[best], weights=dcost[best], minlength=len(left))
        cur_cost[v], cur_val[v] = cost[best], value[best]


def _resolution(costs: np.ndarray, budget: float, s: OptimiserSettings) -> float | None:
    """Minutes per DP cell: exact (the gcd of whole-minute costs) when small enough, else
    `resolution_minutes` (costs rounded up), else None (too big: keep the greedy plan)."""
    candidates = []
    if np.all(costs == np.round(costs)):
        candidates.append(float(np.gcd.reduce(costs.astype(np.int64))))
    candidates.append(float(max(s.resolution_minutes, candidates[0] if candidates else 0)))
    for res in candidates:
        if len(costs) * (np.floor(budget / res) + 1) <= s.exact_max_cells:
            return res
    return None


def _exact(opt: pd.DataFrame, budget: float, resolution: float) -> np.ndarray:
    """Optimal options of one pool by dynamic programming over (village, minutes).

    Costs are rounded up to `resolution` minutes, so the plan always fits. Returns the
    positions (in `opt`) of the chosen options.
    """
    n_cells = int(np.floor(budget / resolution + 1e-9)) + 1
    units = np.ceil(opt["cost"].to_numpy() / resolution - 1e-9).astype(np.int64)
    value = opt["value"].to_numpy()
    ov = opt["v"].to_numpy()
    starts = np.flatnonzero(np.r_[True, ov[1:] != ov[:-1]])
    ends = np.r_[starts[1:], len(ov)]
    dp = np.zeros(n_cells)
    choice = np.full((len(starts), n_cells), -1, dtype=np.int32)
    b = np.arange(n_cells)
    for j, (s, e) in enumerate(zip(starts, ends)):
        u = units[s:e]
        fits = u < n_cells
        if not fits.any():
            continue
        u, rows = u[fits], np.arange(s, e)[fits]
        src = b[None, :] - u[:, None]
        cand = np.where(src >= 0, dp[np.clip(src, 0, None)] + value[rows][:, None], -np.inf)
        arg = cand.argmax(axis=0)
        top = cand[arg, b]
        better = top > dp + 1e-12
        choice[j, better] = rows[arg[better]]
        dp = np.where(better, top, dp)
    picks, left = [], n_cells - 1
    for j in range(len(starts) - 1, -1, -1):
        r = choice[j, left]
        if r >= 0:
            picks.append(r)
            left -= units[r]
    return np.array(sorted(picks), dtype=np.int64)
