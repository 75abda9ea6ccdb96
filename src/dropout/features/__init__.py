"""Point-in-time features: one row per (participant_id, as_of), using only facts known at as_of.

Each family lives in its own module with `compute(ctx, asof) -> {feature: array}` over all
participants; `build_features` runs the chosen families for each as-of date, keeps the
cohort (enrolled on or before as_of, not withdrawn by as_of) and orders the columns as
the catalog (features/catalog.yaml) lists them.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd

from dropout.errors import InputError
from dropout.features import (
    community,
    disasters,
    outreach,
    payment_history,
    poverty_status,
    seasonality,
    subsidy,
)
from dropout.features.context import Context
from dropout.timeline import AsOf, InvalidAsOfError, normalize_as_of_dates
from dropout.features.catalog import CatalogError, load_catalog, reason_sentence
from dropout.schema import Tables

FAMILY_MODULES = {
    m.FAMILY: m
    for m in (payment_history, poverty_status, subsidy, disasters, community, outreach, seasonality)
}
FAMILIES = tuple(FAMILY_MODULES)
KEY_COLUMNS = ["participant_id", "as_of"]
SMALL_FRAME_ROWS = 10_000  # build_features consolidates its output up to this many rows

Progress = Callable[[str, int, int], None]
"""Called as progress(family, as_of_dates_done, as_of_dates_total) after each family and date."""

__all__ = [
    "FAMILIES",
    "KEY_COLUMNS",
    "CatalogError",
    "InvalidAsOfError",
    "build_features",
    "feature_names",
    "load_catalog",
    "reason_sentence",
]


def _check_families(families: Iterable[str] | None) -> list[str]:
    catalog = load_catalog()
    if set(catalog.families) != set(FAMILIES):
        raise CatalogError(
            f"features/catalog.yaml lists families {list(catalog.families)} but the code has {list(FAMILIES)}"
        )
    if families is None:
        return list(catalog.families)
    if isinstance(families, str):
        families = [families]
    families = list(families)
    unknown = [f for f in families if f not in FAMILY_MODULES]
    if unknown:
        raise InputError(f"unknown feature family {unknown}; choose from {list(catalog.families)}")
    if not families:
        raise InputError(f"families is empty; choose from {list(catalog.families)} or pass None for all")
    return [f for f in catalog.families if f in families]  # catalog order


def feature_names(families: Iterable[str] | None = None) -> list[str]:
    """The feature columns build_features returns for `families`, in order."""
    return load_catalog().names(_check_families(families))


def build_features(
    tables: Tables,
    as_of_dates,
    families: Iterable[str] | None = None,
    progress: Progress | None = None,
    context: Context | None = None,
) -> pd.DataFrame:
    """Features of every participant in the cohort at each as-of date.

    Args:
        tables: validated raw tables (`dropout.io.load_tables`).
        as_of_dates: one date or several (str, Timestamp, datetime64); none may lie after
            `tables.extracted_on`.
        families: names of feature families (default: all, see `FAMILIES`).
        progress: optional callback progress(family, done, total).
        context: a `Context(tables)` the caller shares with other work on the same
            tables (the ledger is then sorted once); default: a new one.

    Returns:
        DataFrame with participant_id (int64), as_of (datetime64[ns]) and the features in
        catalog order; one row per participant enrolled on or before as_of and not
        withdrawn by as_of; sorted by as_of, participant_id.
    """
    if not isinstance(tables, Tables):
        raise TypeError(f"tables must be a dropout.io.Tables bundle, got {type(tables).__name__}")
    dates = normalize_as_of_dates(as_of_dates, tables.extracted_on)
    return _build_features(context if context is not None else Context(tables), dates, families, progress)


def family_columns(ctx: Context, asof: AsOf, family: str, catalog=None) -> list[tuple[str, np.ndarray]]:
    """One family's features of every participant of `ctx` at `asof`, in catalog order,
    checked against the catalog (the one place a family's output is taken from)."""
    catalog = catalog if catalog is not None else load_catalog()
    values = FAMILY_MODULES[family].compute(ctx, asof)
    expected = catalog.names([family])
    if len(values) != len(expected) or not all(name in values for name in expected):
        raise CatalogError(
            f"family {family!r} built {sorted(set(values) - set(expected))} not in features/catalog.yaml "
            f"and lacks {sorted(set(expected) - set(values))} that the catalog lists"
        )
    return [(name, np.asarray(values[name])) for name in expected]


def feature_values(ctx: Context, as_of, positions: np.ndarray, names: list[str]) -> np.ndarray:
    """The features `names` (float64, NaN for empty) of the participants at `positions` of
    `ctx` (its participant_id order) at one as-of date: `build_features`' values without
    its frame, for the service's few people. Only the families `names` need are computed.

    The caller checks that the date is no later than the extraction and that the people
    are in the cohort (the service scores only people due, who are).
    """
    catalog = load_catalog()
    asof = as_of if isinstance(as_of, AsOf) else AsOf.of(pd.Timestamp(as_of))
    wanted = {name: j for j, name in enumerate(names)}
    fams = [f for f in _check_families(None) if any(n in wanted for n in catalog.names([f]))]
    out = np.empty((len(positions), len(names)), dtype=np.float64)
    found = 0
    for fam in fams:
        for name, column in family_columns(ctx, asof, fam, catalog):
            j = wanted.get(name)
            if j is not None:
                out[:, j] = column[positions]
                found += 1
    if found != len(wanted):
        missing = [n for n in names if n not in catalog.names(fams)]
        raise InputError(f"the feature code does not build {missing[:10]}")
    return out


def _build_features(ctx: Context, dates: list[pd.Timestamp], families, progress: Progress | None) -> pd.DataFrame:
    """build_features on an existing Context (labels share it to sort the ledger once)."""
    fams = _check_families(families)
    catalog = load_catalog()
    names = catalog.names(fams)
    asofs = [AsOf.of(ts) for ts in dates]
    cohorts = [np.flatnonzero(ctx.cohort(a)) for a in asofs]
    offsets = np.concatenate(([0], np.cumsum([len(c) for c in cohorts])))
    total = int(offsets[-1])
    data: dict[str, np.ndarray] = {
        "participant_id": np.concatenate([ctx.participant_id[c] for c in cohorts]).astype(np.int64),
        "as_of": np.repeat(np.array([ts.to_datetime64() for ts in dates], dtype="datetime64[ns]"),
                           [len(c) for c in cohorts]),
    }
    for i, (asof, rows) in enumerate(zip(asofs, cohorts)):
        for fam in fams:
            for name, column in family_columns(ctx, asof, fam, catalog):
                if name not in data:
                    data[name] = np.empty(total, dtype=column.dtype)
                data[name][offsets[i]:offsets[i + 1]] = column[rows]
            if progress is not None:
                progress(fam, i + 1, len(dates))
        ctx.forget()
    data = {k: data[k] for k in KEY_COLUMNS + names}
    # copy=False: one block per column, no consolidation copy of a frame that can be GBs.
    # A small frame (the service's few people) is consolidated instead: the copy is cheap
    # and every later take or to_numpy then works on a few blocks, not one per column.
    return pd.DataFrame(data, copy=total <= SMALL_FRAME_ROWS)
