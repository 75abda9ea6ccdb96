"""Community: what the participant's neighbours are doing, and how far the village is.

A neighbour's lapse becomes known the day after its deadline (due_on + 1) when the
installment was not paid by due_on; "lapsed in the last 6 months" = such an
installment with due_on in [as_of - 6 months, as_of). The share is among the other
participants of the village in the cohort at as_of (the participant excluded).
"""

from __future__ import annotations

import numpy as np

from dropout.features.context import Context
from dropout.timeline import AsOf, range_sum

FAMILY = "community"
LAPSE_WINDOW_MONTHS = 6


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    L = ctx.schedule.ledger
    hi = ctx.schedule.past_due_end(asof)
    lo = L.before(asof.months_back(LAPSE_WINDOW_MONTHS))
    lapsed = (range_sum(L["lapse_prefix"], lo, hi) > 0).astype(np.int64)
    cohort = ctx.cohort(asof) & (ctx.village_idx >= 0)
    v = ctx.village_idx
    size = np.bincount(v[cohort], minlength=ctx.n_villages)
    n_lapsed = np.bincount(v[cohort], weights=lapsed[cohort], minlength=ctx.n_villages)
    vi = np.maximum(v, 0)
    own = np.where(cohort, lapsed, 0)
    others = size[vi] - cohort.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (n_lapsed[vi] - own) / others
    has_village = v >= 0
    return {
        "village_lapse_share_6m": np.where(has_village & (others > 0), share, np.nan),
        "village_participants": np.where(has_village, size[vi], 0).astype(np.int32),
        "travel_minutes": np.where(has_village, ctx.village_travel_minutes[vi], np.nan).astype(np.float32),
    }
