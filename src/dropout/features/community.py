"""Community: what the participant's neighbours are doing, and how far the village is.

A neighbour's lapse becomes known the day after its deadline (due_on + 1) when the
installment was not paid by due_on; "lapsed in the last 6 months" = such an
installment with due_on in [as_of - 6 months, as_of). The share is among the other
participants of the village in the cohort at as_of (the participant excluded).

The village counts add up person by person (`person_flags` -> `village_counts`), so a
caller whose tables hold only some of a village's people (the service, which gets one
person's records and keeps the neighbours prepared at start-up) passes the counts of the
others as `Context.outside(asof, village_ids) -> (counted, lapsed)`: the features are then
those of the whole village.
"""

from __future__ import annotations

import numpy as np

from dropout.features.context import Context
from dropout.timeline import AsOf, range_sum

FAMILY = "community"
LAPSE_WINDOW_MONTHS = 6


def person_flags(ctx: Context, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
    """Per participant: counted in their village at as_of (in the cohort, village known),
    and lapsed in the last 6 months (0/1)."""
    L = ctx.schedule.ledger
    hi = ctx.schedule.past_due_end(asof)
    lo = L.before(asof.months_back(LAPSE_WINDOW_MONTHS))
    lapsed = (range_sum(L["lapse_prefix"], lo, hi) > 0).astype(np.int64)
    counted = ctx.cohort(asof) & (ctx.village_idx >= 0)
    return counted, lapsed


def village_counts(ctx: Context, asof: AsOf, flags=None) -> tuple[np.ndarray, np.ndarray]:
    """Per village of `ctx.village_ids`: people counted, and of them lapsed in the last 6 months."""
    counted, lapsed = flags if flags is not None else person_flags(ctx, asof)
    v = ctx.village_idx
    size = np.bincount(v[counted], minlength=ctx.n_villages)
    n_lapsed = np.bincount(v[counted], weights=lapsed[counted], minlength=ctx.n_villages)
    return size, n_lapsed


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    counted, lapsed = flags = person_flags(ctx, asof)
    size, n_lapsed = village_counts(ctx, asof, flags)
    if ctx.outside is not None:  # the village's people these tables do not hold
        more_size, more_lapsed = ctx.outside(asof, ctx.village_ids)
        size, n_lapsed = size + more_size, n_lapsed + more_lapsed
    v = ctx.village_idx
    vi = np.maximum(v, 0)
    own = np.where(counted, lapsed, 0)
    others = size[vi] - counted.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (n_lapsed[vi] - own) / others
    has_village = v >= 0
    return {
        "village_lapse_share_6m": np.where(has_village & (others > 0), share, np.nan),
        "village_participants": np.where(has_village, size[vi], 0).astype(np.int32),
        "travel_minutes": np.where(has_village, ctx.village_travel_minutes[vi], np.nan).astype(np.float32),
    }
