"""Learning by design: a share of the officers' hours goes to randomly chosen eligible people.

Planned visits go to the people the model and the effects favour, so recorded visits
keep telling us about those people only; effects learned from them lean on the
propensity correction. Visits drawn at random (and marked `explore` in the plan) are
unconfounded by construction: later estimates can rest on them.

`explore_picks` walks the scored people in a random order and keeps each one whose
home visit still fits the pool's exploration hours (`share` x its hours), with the
same trip rules as the planner (a visit joins an open trip to its village while that
trip has room, else opens a new one with travel both ways).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.errors import ConfigError


def check_share(share: float) -> float:
    if not (0.0 <= float(share) < 1.0):
        raise ConfigError(f"--explore must be a share of the capacity in [0, 1), got {share!r}")
    return float(share)


def explore_picks(people: pd.DataFrame, travel: np.ndarray, pool_minutes: np.ndarray, village_pool: np.ndarray,
                  share: float, visit_minutes: float, day_minutes: float, seed: int) -> np.ndarray:
    """Boolean mask over `people` (village code `v`): who the exploration visits.

    Args:
        travel: one-way minutes per village code; village_pool: pool code per village code.
        pool_minutes: minutes of each pool code (the exploration spends `share` of them).
    """
    picked = np.zeros(len(people), dtype=bool)
    if share <= 0 or len(people) == 0:
        return picked
    left = share * np.asarray(pool_minutes, dtype=np.float64)
    per_trip = np.floor((day_minutes - 2 * travel) / visit_minutes).astype(np.int64)
    slots = np.zeros(len(travel), dtype=np.int64)
    v = people["v"].to_numpy()
    cheapest = visit_minutes + 0.0
    for i in np.random.default_rng(seed).permutation(len(people)):  # stops as soon as the hours are spent
        if not (left > cheapest - 1e-9).any():
            break
        vi = v[i]
        p = village_pool[vi]
        if per_trip[vi] < 1:
            continue
        cost = visit_minutes if slots[vi] > 0 else 2 * travel[vi] + visit_minutes
        if cost > left[p] + 1e-9:
            continue
        left[p] -= cost
        slots[vi] = slots[vi] - 1 if slots[vi] > 0 else per_trip[vi] - 1
        picked[i] = True
    return picked
