"""Poverty status of the participant's household as known at as_of.

A status counts from its spell's valid_from; a spell that ended (valid_to < as_of) with
no spell after it leaves the household at 'none'. Status order for direction:
poor (most support) > near-poor > none.

The household's status is also what the subsidy family needs (the poor and near-poor
groups): `poverty_state(ctx, asof)` is computed once per as-of date and shared.

Status events: each spell starts an event at valid_from; a spell that ends (valid_to)
with no spell starting the next day adds a 'none' event at valid_to + 1. A status change
is an event whose status differs from the household's previous one (before the first:
'none').
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dropout.features.context import Context
from dropout.timeline import (
    NEVER, AsOf, SortedEvents, entity_day_key, entity_index, last_true, months_since, prefix_sum, range_sum,
    str_values, to_days,
)

FAMILY = "poverty_status"

# Ordinal poverty rank: the higher, the more state support.
POVERTY_RANK = {"none": 0, "near_poor": 1, "poor": 2}


@dataclass
class PovertyState:
    """Per participant, the household's poverty status as known at as_of."""

    rank: np.ndarray  # 0 none, 1 near-poor, 2 poor
    known: np.ndarray  # any status spell started by as_of
    status_since: np.ndarray  # day the current status began (NEVER if unknown)
    last_change_day: np.ndarray  # NEVER if never changed
    last_change_direction: np.ndarray  # +1 moved out of poverty (lost support), -1 into, 0 none
    left_list_12m: np.ndarray  # bool: moved to less support within the last 12 months


def poverty_events(ctx: Context) -> tuple[SortedEvents, np.ndarray]:
    """Status events per household, and each participant's household index (-1 if unlisted)."""
    pov = ctx.tables.poverty
    households = np.unique(pov["household_id"].to_numpy(np.int64))
    hh = entity_index(pov["household_id"].to_numpy(np.int64), households)
    codes, statuses = pd.factorize(str_values(pov["status"]))
    rank = np.append([POVERTY_RANK.get(s, 0) for s in statuses], 0).astype(np.int64)[codes]  # unknown/missing: 0
    start = to_days(pov["valid_from"])
    end = to_days(pov["valid_to"])
    ended = end < NEVER
    gap = ~np.isin(entity_day_key(hh[ended], end[ended] + 1), entity_day_key(hh, start))
    events = SortedEvents(
        np.concatenate([hh, hh[ended][gap]]),
        np.concatenate([start, end[ended][gap] + 1]),
        len(households),
        rank=np.concatenate([rank, np.zeros(int(gap.sum()), dtype=np.int64)]),
    )
    r = events["rank"]
    prev = np.where(events.prev_same_entity, np.roll(r, 1), 0)
    events.columns["change"] = r != prev
    events.columns["direction"] = np.sign(prev - r)
    events.columns["loss_prefix"] = prefix_sum(r < prev)
    events.columns["last_change"] = last_true(events["change"])
    return events, entity_index(ctx.household_id, households)


def _poverty_state(ctx: Context, asof: AsOf) -> PovertyState:
    events, hh = ctx.once("poverty_events", lambda: poverty_events(ctx))
    n = ctx.n
    rank = np.zeros(n, dtype=np.int64)
    known = np.zeros(n, dtype=bool)
    since = np.full(n, NEVER, dtype=np.int64)
    change_day = np.full(n, NEVER, dtype=np.int64)
    direction = np.zeros(n, dtype=np.int64)
    left = np.zeros(n, dtype=bool)
    if len(events):
        pos, has = events.last_on_or_before(asof.day)
        lc = events["last_change"][pos]
        has_change = has & (lc >= events.start)
        lc = np.maximum(lc, 0)
        losses = range_sum(events["loss_prefix"], events.through(asof.months_back(12)), events.through(asof.day))
        first = events.day[np.minimum(events.start, len(events) - 1)]
        h_rank = np.where(has, events["rank"][pos], 0)
        # No change yet: the status (none) has held since the first recorded spell.
        h_since = np.where(has_change, events.day[lc], np.where(has, first, NEVER))
        h_change_day = np.where(has_change, events.day[lc], NEVER)
        h_dir = np.where(has_change, events["direction"][lc], 0)
        found = hh >= 0
        i = hh[found]
        rank[found], known[found] = h_rank[i], has[i]
        since[found], change_day[found] = h_since[i], h_change_day[i]
        direction[found], left[found] = h_dir[i], losses[i] > 0
    return PovertyState(rank, known, since, change_day, direction, left)


def poverty_state(ctx: Context, asof: AsOf) -> PovertyState:
    """Per participant, the household's poverty status known at as_of (cached per date)."""
    return ctx.cached("poverty_state", asof, lambda a: _poverty_state(ctx, a))


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    st = poverty_state(ctx, asof)
    return {
        "is_poor": (st.rank == POVERTY_RANK["poor"]).astype(np.int8),
        "is_near_poor": (st.rank == POVERTY_RANK["near_poor"]).astype(np.int8),
        "months_in_poverty_status": months_since(st.status_since, asof.day, st.status_since < NEVER).astype(np.float32),
        "months_since_poverty_change": months_since(st.last_change_day, asof.day,
                                                    st.last_change_day < NEVER).astype(np.float32),
        "poverty_last_change_direction": st.last_change_direction.astype(np.int8),
        "left_poverty_list_12m": st.left_list_12m.astype(np.int8),
    }
