"""Subsidy and net cost: what the next installment costs the participant after support.

Support per month = (central rate + provincial top-up) x contribution rate x rural
poverty line, for at most `subsidy_max_months` months in a lifetime (counted here as
months already paid). The central rate is the highest among the groups the person
belongs to at as_of (poor / near-poor from the household's status known at as_of,
ethnic minority, village worker, everyone), and the provincial top-up likewise; rates
are those in force at as_of (features/subsidy_policies.csv or the data's own table).
"""

from __future__ import annotations

import weakref

import numpy as np
import pandas as pd

from dropout.features.context import Context
from dropout.features.poverty_status import POVERTY_RANK, poverty_state
from dropout.timeline import AsOf, str_values, to_days

FAMILY = "subsidy"
CHANGE_MONTHS = 12
SUBSIDY_GROUPS = ("poor", "near_poor", "ethnic_minority", "village_worker", "other")
MAJORITY_ETHNICITY = "Kinh"  # every other group counts as an ethnic minority (subsidy group)
VILLAGE_WORKER = "village_worker"
CENTRAL = "*"


def compute(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    now = net_cost(ctx, asof)
    before_asof = AsOf.of(asof.ts - pd.DateOffset(months=CHANGE_MONTHS))
    before = net_cost(ctx, before_asof)
    enrolled_before = ctx.enrolled <= before_asof.day
    line = ctx.rules.poverty_line_vnd
    return {
        "ethnic_minority": ethnic_minority(ctx).astype(np.int8),
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


def subsidy_rates(ctx: Context, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
    """Per participant, (central rate, provincial top-up) in force at as_of."""
    return ctx.cached("subsidy_rates", asof, lambda a: _subsidy_rates(ctx, a))


def _subsidy_rates(ctx: Context, asof: AsOf) -> tuple[np.ndarray, np.ndarray]:
    pol = ctx.once("subsidy_policies", lambda: _policy_arrays(ctx))
    in_force = np.flatnonzero((pol["valid_from"] <= asof.day) & (pol["valid_to"] >= asof.day))
    group_pos = {g: i for i, g in enumerate(SUBSIDY_GROUPS)}
    n_prov = len(ctx.province_names)
    table = np.zeros((n_prov + 1, len(SUBSIDY_GROUPS)))  # last row: central
    prov_pos = {p: i for i, p in enumerate(ctx.province_names)}
    for prov, group, rate in zip(pol["province"][in_force], pol["group"][in_force], pol["rate"][in_force]):
        row = n_prov if prov == CENTRAL else prov_pos.get(prov)
        if row is not None and group in group_pos:
            table[row, group_pos[group]] = max(table[row, group_pos[group]], rate)
    member = subsidy_groups(ctx, asof)
    prov = ctx.participant_province
    has_prov = prov >= 0
    prov_i = np.maximum(prov, 0)
    central = np.zeros(ctx.n)
    provincial = np.zeros(ctx.n)
    for g, is_member in enumerate(member):
        if table[n_prov, g] > 0:
            central = np.maximum(central, np.where(is_member, table[n_prov, g], 0.0))
        if n_prov and table[:n_prov, g].any():
            rate = np.where(has_prov, table[:n_prov, g][prov_i], 0.0)
            provincial = np.maximum(provincial, np.where(is_member, rate, 0.0))
    return central, provincial


def _policy_arrays(ctx: Context) -> dict[str, np.ndarray]:
    pol = ctx.tables.subsidy_policies
    # The same policy table serves every Context of a process (the service's requests
    # share the reference data's): its arrays are made once per table object.
    hit = _POLICIES.get(id(pol))
    if hit is not None and hit[0]() is pol:
        return hit[1]
    arrays = _make_policy_arrays(pol)
    if len(_POLICIES) > 16:
        _POLICIES.clear()
    _POLICIES[id(pol)] = (weakref.ref(pol), arrays)
    return arrays


_POLICIES: dict[int, tuple] = {}


def _make_policy_arrays(pol) -> dict[str, np.ndarray]:
    return {"valid_from": to_days(pol["valid_from"]), "valid_to": to_days(pol["valid_to"]),
            "province": str_values(pol["province"]), "group": str_values(pol["group"]),
            "rate": pol["rate"].to_numpy(np.float64)}


def ethnic_minority(ctx: Context) -> np.ndarray:
    """Every group but the majority counts as an ethnic minority (a subsidy group since 2025-07)."""
    return ctx.once("ethnic_minority", lambda: ctx.ethnicity != MAJORITY_ETHNICITY)


def subsidy_groups(ctx: Context, asof: AsOf) -> list[np.ndarray]:
    """Membership in each of SUBSIDY_GROUPS at as_of (boolean arrays, in that order)."""
    rank = poverty_state(ctx, asof).rank
    return [
        rank == POVERTY_RANK["poor"],
        rank == POVERTY_RANK["near_poor"],
        ethnic_minority(ctx),
        ctx.occupation == VILLAGE_WORKER,
        np.ones(ctx.n, dtype=bool),
    ]


def net_cost(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    """The next installment's cost to the participant after state and provincial support."""
    return ctx.cached("net_cost", asof, lambda a: _net_cost(ctx, a))


def _net_cost(ctx: Context, asof: AsOf) -> dict[str, np.ndarray]:
    rules = ctx.rules
    central, provincial = subsidy_rates(ctx, asof)
    nxt = ctx.schedule.next_installment(asof)
    months_left = np.maximum(0, rules.subsidy_max_months - ctx.schedule.paid_months(asof))
    subsidised = np.minimum(nxt.months_covered, months_left)
    support = (central + provincial) * rules.contribution_rate * rules.poverty_line_vnd * subsidised
    net = np.maximum(0.0, nxt.amount_due - support)
    return {
        "central": central,
        "provincial": provincial,
        "months_left": months_left,
        "net_amount": net,
        "net_monthly": net / np.maximum(nxt.months_covered, 1),
    }
