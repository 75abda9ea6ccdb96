"""Close the loop: visits officers record on the web pages join the raw `visits` table.

`with_recorded_visits(tables, recorded)` appends the store's recorded visits
(`dropout.store.visits.recorded_visits`) to `tables.visits`, so the next feature build,
scoring run and training see them. It is pure; `store_recorded_visits(url)` and
`merge_store_visits(tables, url)` are the edge the commands call.

The rules, and why:
- Checked first, all or nothing: the recorded rows are typed and validated against the
  visits contract (`schema.pandera_schema("visits")`, home visits need a participant);
  one bad row refuses the whole batch with a `RecordedVisitsError` naming
  `visits.<column>` and the rows, and nothing is merged.
- Only visits of these tables: a visit whose village is not in `tables.villages`, or
  whose participant is not in `tables.participants`, belongs to another export (the
  store serves several data folders) and is left out.
- Point in time: a visit counts from its `visited_on` (the outreach features take
  `visited_on <= as_of`), so features as of an earlier day do not change. A visit dated
  after `tables.extracted_on` is left out: no as-of may lie after the extraction, and the
  contract refuses events after it; the next export's extraction date will cover it.
- Counted once: a recorded visit with the same (participant_id, village_id, visited_on,
  kind) as a row of the export, or as an earlier recorded one, is a duplicate (a visit
  also typed into the office export; a form sent twice). Export rows are never touched.
- Ids: a recorded visit keeps its id (`WEB_VISIT_ID_OFFSET` + row id) unless the export
  already uses it; then it is renumbered above the largest id in use.

Nothing merged returns the very same `Tables`, so a scoring run's data fingerprint (and
run id) changes exactly when recorded visits change the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dropout.errors import DataContractError, DropoutError, format_problems
from dropout.schema import Tables

SOURCE = "the store's recorded visits (web pages)"
DEDUP_KEY = ["participant_id", "village_id", "visited_on", "kind"]


class RecordedVisitsError(DataContractError):
    """Recorded visits break the visits contract; `problems` as for DataContractError."""

    def __init__(self, problems: list[dict], source: str = SOURCE):
        super().__init__(problems, source=source)
        self.args = (f"{source}: {format_problems(problems)}\nnothing was merged",)


class NoRecordedVisitsError(DropoutError, LookupError):
    """Recorded visits were asked for but the store has no visits table."""


@dataclass(frozen=True)
class VisitsMerge:
    """The tables with the recorded visits appended, and what happened to each recorded row."""

    tables: Tables
    recorded: int  # rows handed in
    added: int
    duplicates: int
    other_data: int  # village or participant not in these tables
    after_extraction: int

    def summary(self) -> str:
        left = [f"{n} {what}" for n, what in ((self.duplicates, "already counted"),
                                              (self.other_data, "of people or villages not in this data"),
                                              (self.after_extraction, "after the extraction date")) if n]
        return (f"recorded visits: {self.added} of {self.recorded} merged"
                + (f" ({', '.join(left)} left out)" if left else ""))


def _typed(recorded: pd.DataFrame) -> pd.DataFrame:
    """The recorded rows typed and checked as `validate_raw` checks a visits file."""
    from dropout.rules import RULES, broken
    from dropout.schema import check_table, problem

    typed, problems = check_table("visits", recorded)
    if typed is not None and not problems:
        own = [r for r in RULES if r.needs == ("visits",) and not r.name.startswith("future_")]
        for rule, rows in broken({"visits": typed}, pd.Timestamp.max, own):
            problems.append(problem("visits", rule.column, rule.message, typed,
                                    np.isin(np.arange(len(typed)), rows)))
    if problems:
        raise RecordedVisitsError(_by_visit_id(problems, recorded))
    return typed


def _by_visit_id(problems: list[dict], recorded: pd.DataFrame) -> list[dict]:
    """Name the offending rows by their visit_id ("row 3: ..." -> "visit_id 1000000000004: ...")."""
    if "visit_id" not in recorded.columns:
        return problems
    ids = recorded["visit_id"].tolist()

    def name(row: str) -> str:
        head, sep, rest = row.partition(":")
        pos = head.removeprefix("row ").strip()
        if not head.startswith("row ") or not pos.isdigit() or int(pos) >= len(ids):
            return row
        return f"visit_id {ids[int(pos)]}{sep}{rest}"

    return [{**p, "rows": [name(r) for r in p.get("rows", [])]} for p in problems]


def _dedup_key(visits: pd.DataFrame) -> pd.Series:
    """DEDUP_KEY as one string per row (a null participant_id, an evening session, compares equal)."""
    return (visits["participant_id"].astype("string").fillna("-") + "|" + visits["village_id"].astype("str")
            + "|" + visits["visited_on"].dt.strftime("%Y-%m-%d") + "|" + visits["kind"].astype("str"))


def merge_recorded_visits(tables: Tables, recorded: pd.DataFrame) -> VisitsMerge:
    """Append the recorded visits to `tables.visits` by the rules of this module.

    Args:
        tables: validated raw tables (as `dropout.io.load_tables` returns them).
        recorded: visits in the contract's visits columns (`recorded_visits(store_url)`).

    Raises:
        RecordedVisitsError: a recorded row breaks the visits contract (nothing merged).
    """
    from dropout.schema import check_table, contract

    typed = _typed(recorded)
    n = len(typed)
    visits = tables.visits
    pid = typed["participant_id"]
    ours = typed["village_id"].isin(tables.villages["village_id"]) & (
        pid.isna() | pid.isin(tables.participants["participant_id"])
    ).to_numpy(dtype=bool, na_value=True)
    in_time = typed["visited_on"] <= tables.extracted_on
    keep = typed[ours & in_time]
    kept_keys = _dedup_key(keep)
    dup = kept_keys.isin(_dedup_key(visits)) | kept_keys.duplicated()
    new = keep[~dup.to_numpy()].reset_index(drop=True)
    merge = dict(recorded=n, duplicates=int(dup.sum()), other_data=int((~ours).sum()),
                 after_extraction=int((ours & ~in_time).sum()))
    if new.empty:
        return VisitsMerge(tables, added=0, **merge)

    ids = new["visit_id"].to_numpy(np.int64).copy()
    clash = np.isin(ids, visits["visit_id"].to_numpy(np.int64))
    if clash.any():
        top = max(int(visits["visit_id"].max()), int(ids.max()))
        ids[clash] = top + 1 + np.arange(int(clash.sum()), dtype=np.int64)
    spec = contract()["visits"]
    # Optional columns (outcomes) travel only where the export has them.
    new = new.assign(visit_id=ids)[[c for c, col in spec.items() if c in visits.columns or not col.optional]]
    merged = pd.concat([visits, new], ignore_index=True) if len(visits) else new
    for c in new.columns:  # keep the export's dtypes (concat may widen Int64 + int64 to object)
        if c in visits.columns and merged[c].dtype != visits[c].dtype:
            merged[c] = merged[c].astype(visits[c].dtype)
    problems = check_table("visits", merged)[1]
    if problems:  # cannot happen by construction; never hand on a table that breaks the contract
        raise RecordedVisitsError(problems, source="the visits table with the recorded visits merged")
    return VisitsMerge(tables.replace(visits=merged), added=len(new), **merge)


def with_recorded_visits(tables: Tables, recorded: pd.DataFrame) -> Tables:
    """`tables` with the recorded visits appended to `visits` (see the module's rules)."""
    return merge_recorded_visits(tables, recorded).tables


# ---------------------------------------------------------------- the edge: the store


def store_has_recorded_visits(store_url: str | None) -> bool:
    """Whether the store holds the web pages' visits table (without creating anything)."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    from dropout.store import DEFAULT_STORE_URL, make_engine

    url = store_url or DEFAULT_STORE_URL
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:" or not Path(parsed.database).is_file():
            return False
    engine = make_engine(url)
    try:
        return sa.inspect(engine).has_table("visits")
    finally:
        engine.dispose()


def store_recorded_visits(store_url: str | None) -> pd.DataFrame | None:
    """The visits recorded on the web pages of this store, or None when it has no visits table."""
    from dropout.store import DEFAULT_STORE_URL

    if not store_has_recorded_visits(store_url):
        return None
    from dropout.store.visits import recorded_visits

    return recorded_visits(store_url or DEFAULT_STORE_URL)


def merge_store_visits(tables: Tables, store_url: str | None, use: bool | None = None) -> VisitsMerge | None:
    """`tables` with the store's recorded visits merged; what the commands call.

    Args:
        use: True: merge them (NoRecordedVisitsError when the store has no visits table);
            False: do not look; None: merge when the store has the table.

    Returns None when nothing was looked up (off, or no table and `use` is None).
    """
    if use is False:
        return None
    recorded = store_recorded_visits(store_url)
    if recorded is None:
        if use:
            from dropout.store import shown_url

            raise NoRecordedVisitsError(
                f"--recorded-visits: the store {shown_url(store_url)} has no visits table "
                "(no visit was ever recorded on the web pages there); give the web pages' store with --store"
            )
        return None
    return merge_recorded_visits(tables, recorded)
