"""Disaster exposure of the participant's commune, counted from each event's started_on."""

from __future__ import annotations

import numpy as np

from dropout.features.context import Context
from dropout.timeline import (
    AsOf,
    SortedEvents,
    days_since,
    entity_index,
    prefix_sum,
    range_max,
    range_sum,
    str_values,
    to_days,
)

FAMILY = "disasters"
WINDOWS_DAYS = (30, 90, 365)
SEVERE = 3
# A disaster's hold on household income fades: its impact halves in about six weeks and
# is gone after a year (lost harvest, repairs, borrowing; the simulator's default draws
# the same fading, A Luoi preset `shock_decay` 0.6 a month).
IMPACT_HALF_LIFE_DAYS = 45
IMPACT_HORIZON_DAYS = 365


def _events(ctx: Context) -> SortedEvents:
    d = ctx.tables.disasters
    commune = entity_index(str_values(d["commune"]), ctx.commune_names)
    keep = commune >= 0
    return SortedEvents(commune[keep], to_days(d["started_on"])[keep], len(ctx.commune_names),
                        severity=d["severity"].to_numpy(np.int64)[keep])


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    ev = ctx.once("disaster_events", lambda: _events(ctx))
    t = asof.day
    per_commune: dict[str, np.ndarray] = {}
    hi = ev.through(t)
    for w in WINDOWS_DAYS:
        per_commune[f"disasters_{w}d"] = hi - ev.through(t - w)
    lo365 = ev.through(t - 365)
    severe = ctx.once("severe_disaster_prefix", lambda: prefix_sum((ev["severity"] >= SEVERE).astype(np.int64)))
    per_commune["severe_disasters_365d"] = range_sum(severe, lo365, hi)
    per_commune["disaster_max_severity_90d"] = range_max(ev["severity"], ev.through(t - 90), hi, 0)
    per_commune["disaster_max_severity_365d"] = range_max(ev["severity"], lo365, hi, 0)
    recent = (ev.day <= t) & (ev.day > t - IMPACT_HORIZON_DAYS)
    weight = ev["severity"][recent] * np.exp2(-(t - ev.day[recent]) / IMPACT_HALF_LIFE_DAYS)
    per_commune["disaster_impact"] = np.bincount(ev.entity[recent], weights=weight, minlength=ev.n_entities)
    pos, has = ev.last_on_or_before(t)
    per_commune["days_since_disaster"] = days_since(ev.day[pos] if len(ev) else pos, t, has)

    commune = ctx.participant_commune
    found = commune >= 0
    out = {}
    for name, values in per_commune.items():
        if name == "days_since_disaster":
            col = np.full(ctx.n, np.nan, dtype=np.float32)
        elif name == "disaster_impact":
            col = np.zeros(ctx.n, dtype=np.float32)
        else:
            col = np.zeros(ctx.n, dtype=np.int16)
        col[found] = values[commune[found]]
        out[name] = col
    return out
