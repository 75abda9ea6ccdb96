"""Seasonality and the next deadline: when the next installment falls due and how much it is.

The next installment is the first one with due_on after as_of not already paid by
as_of (the schedule is known in advance; see `Context.next_installment`).
"""

from __future__ import annotations

import numpy as np

from dropout.features.context import Context
from dropout.timeline import AsOf, calendar_month

FAMILY = "seasonality"


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    nxt = ctx.schedule.next_installment(asof)
    return {
        "days_to_next_deadline": (nxt.due_on - asof.day).astype(np.int32),
        "next_deadline_month": calendar_month(nxt.due_on).astype(np.int8),
        "next_amount_due_vnd": nxt.amount_due.astype(np.int64),
        "next_months_covered": nxt.months_covered.astype(np.int16),
    }
