"""Subsidy and net cost: what the next installment costs the participant after support.

Support per month = (central rate + provincial top-up) x contribution rate x rural
poverty line, for at most `subsidy_max_months` months in a lifetime (counted here as
months already paid). The central rate is the highest among the groups the person
belongs to at as_of (poor / near-poor from the household's status known at as_of,
ethnic minority, village worker, everyone), and the provincial top-up likewise; rates
are those in force at as_of (features/subsidy_policies.csv or the data's own table).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.features._context import Context
from dropout.features._time import AsOf

FAMILY = "subsidy"
CHANGE_MONTHS = 12


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    now = ctx.net_cost(asof)
    before_asof = AsOf.of(asof.ts - pd.DateOffset(months=CHANGE_MONTHS))
    before = ctx.net_cost(before_asof)
    enrolled_before = ctx.enrolled <= before_asof.day
    line = ctx.rules.poverty_line_vnd
    return {
        "ethnic_minority": ctx.ethnic_minority.astype(np.int8),
        "subsidy_rate_central": now["central"],
        "subsidy_rate_provincial": now["provincial"],
        "subsidy_months_left": now["months_left"].astype(np.int16),
        "next_net_amount_vnd": now["net_amount"],
        "net_monthly_cost_vnd": now["net_monthly"],
        "net_cost_share_poverty_line": now["net_monthly"] / line,
        "net_monthly_cost_change_12m_vnd": np.where(enrolled_before, now["net_monthly"] - before["net_monthly"], np.nan),
        "subsidy_rate_change_12m": np.where(
            enrolled_before,
            (now["central"] + now["provincial"]) - (before["central"] + before["provincial"]),
            np.nan,
        ),
    }


def build(tables, as_of_dates) -> pd.DataFrame:
    """This family alone: one row per (participant_id, as_of) of the cohort."""
    from dropout.features import build_features

    return build_features(tables, as_of_dates, families=[FAMILY])
