"""Poverty status of the participant's household as known at as_of.

A status counts from its spell's valid_from; a spell that ended (valid_to < as_of) with
no spell after it leaves the household at 'none'. Status order for direction:
poor (most support) > near-poor > none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.features._context import POVERTY_RANK, Context
from dropout.features._time import NEVER, AsOf, months_since

FAMILY = "poverty_status"


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    st = ctx.poverty_state(asof)
    return {
        "is_poor": (st.rank == POVERTY_RANK["poor"]).astype(np.int8),
        "is_near_poor": (st.rank == POVERTY_RANK["near_poor"]).astype(np.int8),
        "months_in_poverty_status": months_since(st.status_since, asof.day, st.status_since < NEVER).astype(np.float32),
        "months_since_poverty_change": months_since(st.last_change_day, asof.day,
                                                    st.last_change_day < NEVER).astype(np.float32),
        "poverty_last_change_direction": st.last_change_direction.astype(np.int8),
        "left_poverty_list_12m": st.left_list_12m.astype(np.int8),
    }


def build(tables, as_of_dates) -> pd.DataFrame:
    """This family alone: one row per (participant_id, as_of) of the cohort."""
    from dropout.features import build_features

    return build_features(tables, as_of_dates, families=[FAMILY])
