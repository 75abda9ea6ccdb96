"""Re-scoring under a changed subsidy table: lapses, contributors kept, and what it costs.

For the cohort whose next installment falls due within the horizon (the people
`dropout score` would list with that window), each policy's subsidy table replaces the
data's, the features are rebuilt on the same as-of day and the same model scores them.
Per person (p = the model's probability that the next installment goes unpaid):

    change in expected lapses   p_policy - p_current            (negative: fewer lapses)
    contributors kept           p_current - p_policy
    contribution-months kept    (p_current - p_policy) x horizon months
                                (someone kept at their next deadline is counted as paying
                                through the horizon: an assumption, stated in the report)
    state support per year      rate x contribution rate x rural poverty line
                                x min(12, subsidised months left)
    budget cost per year        (1 - p_policy) x support_policy - (1 - p_current) x support_current

so the budget cost counts both the extra support to people who pay anyway and the
support paid to the people kept. Cost per participant kept = budget cost / kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dropout.errors import InputError
from dropout.features.catalog import load_catalog
from dropout.features.context import Context
from dropout.features.poverty_status import POVERTY_RANK, poverty_state
from dropout.features.subsidy import FAMILY as SUBSIDY_FAMILY, net_cost
from dropout.schema import Tables
from dropout.score.core import check_job, due_participants, feature_matrix
from dropout.timeline import AsOf
from dropout.whatif.policy import Policy, apply_policy

CURRENT = "current"
DIMENSIONS = {"province": "province", "district": "district", "commune": "commune", "ethnicity": "ethnic group",
              "poverty_status": "poverty status"}
POVERTY_NAMES = {v: k for k, v in POVERTY_RANK.items()}
#: the features of the subsidy family a policy moves; the response to them must be monotone
NET_COST_FEATURES = ("subsidy_rate_central", "subsidy_rate_provincial", "next_net_amount_vnd",
                     "net_monthly_cost_vnd", "net_cost_share_poverty_line", "net_monthly_cost_change_12m_vnd",
                     "subsidy_rate_change_12m")


def parse_horizon(text: str | int) -> tuple[int, int]:
    """'12m', '6m', '365d', '52w' -> (days, months); the days are counted from a 31 Dec-like
    month end by the caller; here months x 365 / 12 rounded, at most 12 months."""
    if isinstance(text, (int, np.integer)):
        days = int(text)
        months = max(1, round(days * 12 / 365))
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([dDwWmM]?)\s*", str(text))
        if not m:
            raise InputError(f"--horizon {text!r} is not a number of months, weeks or days (e.g. 12m, 26w, 90d)")
        n, unit = int(m.group(1)), m.group(2).lower() or "d"
        days = {"d": n, "w": 7 * n, "m": round(n * 365 / 12)}[unit]
        months = n if unit == "m" else max(1, round(days * 12 / 365))
    if not 1 <= days <= 366:
        raise InputError(f"horizon of {days} days is outside 1-366: the installment schedule is known 12 months ahead")
    return days, months


@dataclass
class WhatIf:
    """Everything a what-if run found: per person, per policy, by group, and the checks."""

    as_of: pd.Timestamp
    horizon_days: int
    horizon_months: int
    policies: list[Policy]
    people: pd.DataFrame  # one row per person and policy (CURRENT included)
    summary: pd.DataFrame  # one row per policy
    by: dict[str, pd.DataFrame]  # dimension -> rows per (policy, group value)
    out_of_range: pd.DataFrame  # per policy and feature: people outside the training range
    out_of_range_by_district: pd.DataFrame
    monotone: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def training_ranges(model) -> dict[str, tuple[float, float]]:
    """[min, max] of each feature in the training data, from the LightGBM model text
    (`feature_infos`); features the trees never split on are left out."""
    text = model.model_text() if hasattr(model, "model_text") else ""
    m = re.search(r"^feature_infos=(.*)$", text, flags=re.M)
    names = list(model.feature_names)
    out: dict[str, tuple[float, float]] = {}
    if not m:
        return out
    for name, info in zip(names, m.group(1).split(" ")):
        r = re.fullmatch(r"\[(.+):(.+)\]", info)
        if r:
            out[name] = (float(r.group(1)), float(r.group(2)))
    return out


def monotone_check(model) -> dict:
    """Which net-cost features the model is constrained monotone in, and which not."""
    names = list(model.feature_names)
    trees = dict(zip(names, model.monotone or [0] * len(names)))
    signs = getattr(model, "linear_signs", None)
    linear = dict(zip(names, signs)) if signs is not None and getattr(model, "linear_", None) is not None else {}
    catalog = {e.name: e for e in load_catalog().features if e.family == SUBSIDY_FAMILY}
    used = [f for f in NET_COST_FEATURES if f in trees]
    free = [f for f in used if trees[f] == 0 or (linear and linear.get(f, 0) == 0)]
    return {"features": used, "unconstrained": free, "monotone": not free,
            "directions": {f: getattr(catalog.get(f), "direction", "?") for f in used}}


def person_frame(tables: Tables, subsidy_table: pd.DataFrame, as_of, horizon_days: int, model,
                 horizon_months: int) -> pd.DataFrame:
    """Everyone due within the horizon, scored with `subsidy_table` in place of the data's."""
    t = tables.replace(subsidy_policies=subsidy_table)
    job = check_job(t, as_of, horizon_days)
    ctx = Context(t)
    due = due_participants(t, job, context=ctx)
    X = feature_matrix(t, job, due, list(model.feature_names), context=ctx)
    values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    risk = np.asarray(model.predict_proba(values), dtype=np.float64)
    asof = AsOf.of(job.as_of)
    cost = net_cost(ctx, asof)
    pos = np.searchsorted(ctx.participant_id, due["participant_id"].to_numpy(np.int64))
    rules = ctx.rules
    rate = (cost["central"] + cost["provincial"])[pos]
    months = np.minimum(12, cost["months_left"][pos])
    rank = poverty_state(ctx, asof).rank[pos]
    out = pd.DataFrame({
        "participant_id": due["participant_id"].to_numpy(np.int64),
        "district": due["district"].to_numpy(),
        "province": np.where(ctx.participant_province[pos] >= 0,
                             ctx.province_names[np.maximum(ctx.participant_province[pos], 0)], ""),
        "commune": due["commune"].to_numpy(),
        "ethnicity": ctx.ethnicity[pos],
        "poverty_status": np.array([POVERTY_NAMES.get(int(r), "none") for r in range(3)])[np.clip(rank, 0, 2)],
        "risk": risk,
        "support_rate": rate,
        "net_monthly_cost_vnd": cost["net_monthly"][pos],
        "support_vnd_year": rate * rules.contribution_rate * rules.poverty_line_vnd * months,
    })
    for f in NET_COST_FEATURES:
        if f in X.columns:
            out[f"x_{f}"] = X[f].to_numpy(np.float64)
    return out


def run_whatif(tables: Tables, model, policies: list[Policy], as_of, horizon: str | int = "12m") -> WhatIf:
    """Score the horizon's cohort under the current subsidy table and under each policy.

    Args:
        model: a fitted `DropoutModel` (or anything with feature_names and predict_proba).
        policies: from `read_policy_file`; names must be unique.
    """
    if not policies:
        raise InputError("no policy to compare: give at least one policy file")
    names = [p.name for p in policies]
    dup = sorted({n for n in names if names.count(n) > 1} | ({CURRENT} & set(names)))
    if dup:
        raise InputError(f"policy names must be unique and not {CURRENT!r}: {dup}")
    days, months = parse_horizon(horizon)
    as_of = pd.Timestamp(as_of).normalize()
    current = tables.subsidy_policies
    frames = {CURRENT: person_frame(tables, current, as_of, days, model, months)}
    for p in policies:
        table = apply_policy(current, p, in_force_from=as_of)
        frames[p.name] = person_frame(tables, table, as_of, days, model, months)
    people = compare_people(frames, months)
    summary, by = aggregate(people)
    oor, oor_district = out_of_range(people, training_ranges(model))
    notes = [f"policy rows starting after {as_of.date()} are taken as in force from {as_of.date()} "
             f"(the scores are made on that day for the whole {months}-month horizon)"]
    horizon_end = as_of + pd.Timedelta(days=days)
    for p in policies:
        late = p.rows[(p.rows["valid_from"] > horizon_end) | (p.rows["valid_to"] < as_of)]
        if len(late):
            notes.append(f"policy {p.name!r}: {len(late)} row(s) not in force on {as_of.date()} nor within the "
                         "horizon; they can change only what the features compare with (the rates of 12 months before)")
    return WhatIf(as_of=as_of, horizon_days=days, horizon_months=months, policies=list(policies), people=people,
                  summary=summary, by=by, out_of_range=oor, out_of_range_by_district=oor_district,
                  monotone=monotone_check(model), notes=notes)


def compare_people(frames: dict[str, pd.DataFrame], horizon_months: int) -> pd.DataFrame:
    """One row per (policy, person) with the current values beside the policy's."""
    base = frames[CURRENT].set_index("participant_id")
    rows = []
    for name, df in frames.items():
        d = df.set_index("participant_id").reindex(base.index)
        missing = d["risk"].isna()
        if missing.any():  # the cohort and the horizon do not depend on the subsidy table
            raise InputError(f"policy {name!r}: {int(missing.sum())} people of the current cohort were not scored")
        out = base[["province", "district", "commune", "ethnicity", "poverty_status"]].copy()
        out.insert(0, "policy", name)
        out["risk_current"] = base["risk"]
        out["risk"] = d["risk"]
        out["support_rate_current"] = base["support_rate"]
        out["support_rate"] = d["support_rate"]
        out["support_vnd_year_current"] = base["support_vnd_year"]
        out["support_vnd_year"] = d["support_vnd_year"]
        out["net_monthly_cost_vnd_current"] = base["net_monthly_cost_vnd"]
        out["net_monthly_cost_vnd"] = d["net_monthly_cost_vnd"]
        for c in d.columns:
            if c.startswith("x_"):
                out[c] = d[c]
        out["horizon_months"] = horizon_months
        rows.append(out.reset_index())
    return pd.concat(rows, ignore_index=True)


def _totals(df: pd.DataFrame) -> dict:
    lapses_now = float(df["risk_current"].sum())
    lapses = float(df["risk"].sum())
    kept = lapses_now - lapses
    budget_now = float(((1 - df["risk_current"]) * df["support_vnd_year_current"]).sum())
    budget = float(((1 - df["risk"]) * df["support_vnd_year"]).sum())
    cost = budget - budget_now
    months = df["horizon_months"].iloc[0] if len(df) else 0
    return {
        "people": int(len(df)),
        "people_support_changed": int((np.abs(df["support_rate"] - df["support_rate_current"]) > 1e-12).sum()),
        "expected_lapses_current": lapses_now,
        "expected_lapses": lapses,
        "lapses_change": lapses - lapses_now,
        "contributors_kept": kept,
        "contribution_months_kept": kept * months,
        "budget_vnd_year_current": budget_now,
        "budget_vnd_year": budget,
        "budget_cost_vnd_year": cost,
        "cost_per_kept_vnd": cost / kept if kept > 1e-9 else float("nan"),
    }


def aggregate(people: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Totals per policy, and per policy and group value of each dimension."""
    summary = pd.DataFrame([{"policy": name, **_totals(g)} for name, g in people.groupby("policy", sort=False)])
    by = {}
    for dim in DIMENSIONS:
        rows = [{"policy": name, dim: value, **_totals(g)}
                for (name, value), g in people.groupby(["policy", dim], sort=False)]
        by[dim] = pd.DataFrame(rows).sort_values(["policy", dim], kind="stable").reset_index(drop=True)
    return summary, by


def out_of_range(people: pd.DataFrame, ranges: dict[str, tuple[float, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """People whose net-cost features lie outside what the model saw in training, per policy."""
    rows, by_district = [], []
    for f in NET_COST_FEATURES:
        col = f"x_{f}"
        if f not in ranges or col not in people.columns:
            continue
        lo, hi = ranges[f]
        x = people[col]
        # the model text keeps float32 bounds: compare in float32 so the edges are inside
        x32 = x.to_numpy(np.float64).astype(np.float32)
        outside = pd.Series(~np.isnan(x32) & ((x32 < np.float32(lo)) | (x32 > np.float32(hi))), index=x.index)
        for name, g in people.assign(_out=outside).groupby("policy", sort=False):
            rows.append({"policy": name, "feature": f, "train_min": lo, "train_max": hi,
                         "people_outside": int(g["_out"].sum()), "min": float(g[col].min()),
                         "max": float(g[col].max())})
            for d, n in g[g["_out"]].groupby("district").size().items():
                by_district.append({"policy": name, "feature": f, "district": d, "people_outside": int(n)})
    return (pd.DataFrame(rows, columns=["policy", "feature", "train_min", "train_max", "people_outside", "min", "max"]),
            pd.DataFrame(by_district, columns=["policy", "feature", "district", "people_outside"]))
