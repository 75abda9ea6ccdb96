"""Outreach: home visits to the participant and evening sessions in their village.

A visit counts from its visited_on. An evening session reaches everyone in the village.
"In their own language" = the visit's language is the village's main language.
What came of a home visit (the visits table's optional `outcome`, recorded on the
officers' pages) counts from the visit's day too: refusals and doors found shut in the
last 12 months, and a promise to pay whose date has not passed yet.
"""

from __future__ import annotations

import numpy as np

from dropout.features.context import Context
from dropout.timeline import (NEVER, AsOf, SortedEvents, days_since, entity_index, prefix_sum, range_sum,
                              str_values, to_days)

FAMILY = "outreach"
WINDOW_DAYS = 365
HOME_VISIT = "home_visit"
EVENING_SESSION = "evening_session"


def _events(ctx: Context) -> tuple[SortedEvents, SortedEvents]:
    v = ctx.tables.visits
    kind = str_values(v["kind"])  # already text: no astype (it copies)
    day = to_days(v["visited_on"])
    village = entity_index(str_values(v["village_id"]), ctx.village_ids)
    own_language = np.zeros(len(v), dtype=bool)
    ok = village >= 0
    own_language[ok] = str_values(v["language"])[ok] == ctx.village_language[village[ok]]
    pid = v["participant_id"]
    has_pid = pid.notna().to_numpy()
    person = np.full(len(v), -1, dtype=np.int64)
    person[has_pid] = entity_index(pid[has_pid].to_numpy(np.int64), ctx.participant_id)
    home = (kind == HOME_VISIT) & (person >= 0)
    evening = (kind == EVENING_SESSION) & ok
    # Missing outcomes equal none of the outcomes compared below, as "" did.
    outcome = (str_values(v["outcome"]) if "outcome" in v.columns
               else np.full(len(v), "", dtype=object))
    promised = to_days(v["promised_on"]) if "promised_on" in v.columns else np.full(len(v), NEVER, dtype=np.int64)
    homes = SortedEvents(person[home], day[home], ctx.n, own=own_language[home],
                         refused=(outcome == "refused")[home], not_home=(outcome == "not_home")[home],
                         promised_on=np.where(outcome == "promised", promised, NEVER)[home])
    sessions = SortedEvents(village[evening], day[evening], ctx.n_villages, own=own_language[evening])
    for ev in (homes, sessions):
        ev.columns["own_prefix"] = prefix_sum(ev["own"].astype(np.int64))
    homes.columns["refused_prefix"] = prefix_sum(homes["refused"].astype(np.int64))
    homes.columns["not_home_prefix"] = prefix_sum(homes["not_home"].astype(np.int64))
    return homes, sessions


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    homes, sessions = ctx.once("visit_events", lambda: _events(ctx))
    t = asof.day
    out = {}

    pos, has = homes.last_on_or_before(t)
    out["days_since_home_visit"] = days_since(homes.day[pos] if len(homes) else pos, t, has).astype(np.float32)
    spos, shas = sessions.last_on_or_before(t)
    v = ctx.village_idx
    vi = np.maximum(v, 0)
    s_days = days_since(sessions.day[spos] if len(sessions) else spos, t, shas)
    out["days_since_evening_session"] = np.where(v >= 0, s_days[vi], np.nan).astype(np.float32)

    h_lo, h_hi = homes.through(t - WINDOW_DAYS), homes.through(t)
    s_lo, s_hi = sessions.through(t - WINDOW_DAYS), sessions.through(t)
    out["home_visits_12m"] = (h_hi - h_lo).astype(np.int16)
    out["evening_sessions_12m"] = np.where(v >= 0, (s_hi - s_lo)[vi], 0).astype(np.int16)
    own_home = range_sum(homes["own_prefix"], h_lo, h_hi)
    own_session = range_sum(sessions["own_prefix"], s_lo, s_hi)
    out["visits_own_language_12m"] = (own_home + np.where(v >= 0, own_session[vi], 0)).astype(np.int16)
    out["visit_refused_12m"] = range_sum(homes["refused_prefix"], h_lo, h_hi).astype(np.int16)
    out["visit_not_home_12m"] = range_sum(homes["not_home_prefix"], h_lo, h_hi).astype(np.int16)
    promise = homes["promised_on"][pos] if len(homes) else np.full(len(pos), NEVER)
    out["visit_promise_open"] = (has & (promise != NEVER) & (promise >= t)).astype(np.int8)
    return out
