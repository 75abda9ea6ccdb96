"""The data contract's rules between rows and tables, written once as named objects.

Each `Rule` names the table whose rows break it, the column the problem is reported
at, the message, and a check over typed frames that marks the offending rows. The same
rules are evaluated on a data folder (`dropout.schema.validate_raw`) and on the few
records of a service request (`dropout.service.records`): one wording, one logic.

Key rules (a key that must be unique) are made from the contract's columns by
`key_rules`; `validate_raw` checks keys with pandera, the service with these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

Frames = Mapping[str, pd.DataFrame]
Check = Callable[[Frames, pd.Timestamp], np.ndarray]

#: Event dates that cannot lie after the extraction date.
EVENT_DATES = {
    "participants": ["enrolled_on"],
    "installments": ["paid_on"],
    "poverty": ["valid_from"],
    "disasters": ["started_on"],
    "visits": ["visited_on"],
    "withdrawals": ["claimed_on"],
}
FUTURE = "date in the future of the extraction date {day}"


@dataclass(frozen=True)
class Rule:
    """One rule: rows of `table` for which `check` is True break it."""

    name: str
    table: str
    column: str
    message: str
    check: Check
    needs: tuple[str, ...] = ()  # the tables the check reads (the rule's own table included)

    def __post_init__(self):
        if self.table not in self.needs:
            object.__setattr__(self, "needs", (self.table, *self.needs))

    def bad_rows(self, frames: Frames, extracted_on: pd.Timestamp) -> np.ndarray:
        """Positions (0-based) of the rows of `table` that break the rule."""
        df = frames.get(self.table)
        if df is None or df.empty:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.asarray(self.check(frames, extracted_on), dtype=bool))

    def text(self, extracted_on: pd.Timestamp) -> str:
        return self.message.format(day=pd.Timestamp(extracted_on).date().isoformat())


_FEW = 512  # rows below which plain Python beats pandas' vectorised checks


def _orphan(child: str, col: str, parent: str, parent_col: str | None = None) -> Rule:
    parent_col = parent_col or col

    def check(t: Frames, _day) -> np.ndarray:
        keys, known = t[child][col], t[parent][parent_col]
        if keys.dtype == np.int64 and known.dtype == np.int64:  # ids without empties: numpy's isin
            return ~np.isin(keys.to_numpy(), known.to_numpy())
        if len(keys) <= _FEW and len(known) <= _FEW:  # a request's few rows: a set lookup each
            names = set(known.to_numpy(dtype=object, na_value=None).tolist())
            names.discard(None)
            return np.array([k is not None and k not in names
                             for k in keys.to_numpy(dtype=object, na_value=None).tolist()], dtype=bool)
        return (keys.notna() & ~keys.isin(known)).to_numpy()

    return Rule(f"orphan_{child}_{col}", child, col, f"orphan rows: {col} not found in {parent}.{parent_col}", check,
                needs=(parent,))


def _enrolled(t: Frames, table: str) -> pd.Series | np.ndarray:
    """Each row's participant's enrolment day (NaT where the participant is unknown);
    a datetime64 array on the numpy path (ids without empties, typed dates)."""
    parts, rows = t["participants"], t[table]
    ids, wanted = parts["participant_id"], rows["participant_id"]
    enrolled = parts["enrolled_on"]
    if ids.dtype == np.int64 and wanted.dtype == np.int64 and np.issubdtype(enrolled.dtype, np.datetime64):
        # By position (numpy): a request's few rows cost far less than a mapped Series.
        ids, wanted = ids.to_numpy(), wanted.to_numpy()
        order = np.argsort(ids, kind="stable")
        sorted_ids = ids[order]
        if len(ids) < 2 or (sorted_ids[1:] != sorted_ids[:-1]).all():
            at = np.minimum(np.searchsorted(sorted_ids, wanted), max(len(ids) - 1, 0))
            values = np.full(len(wanted), np.datetime64("NaT"), dtype=enrolled.dtype)
            if len(ids):
                hit = sorted_ids[at] == wanted
                values[hit] = enrolled.to_numpy()[order[at[hit]]]
            return values
    enrolled = parts.drop_duplicates("participant_id").set_index("participant_id")["enrolled_on"]
    return rows["participant_id"].map(enrolled)


def _month_start(days: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
    """The first day of each date's month (NaT stays NaT)."""
    if isinstance(days, np.ndarray):
        return days.astype("datetime64[M]").astype(days.dtype)
    if np.issubdtype(days.dtype, np.datetime64):
        month = days.to_numpy().astype("datetime64[M]").astype(days.dtype)
        return pd.Series(month, index=days.index, dtype=days.dtype)
    return days.dt.to_period("M").dt.to_timestamp()


def _missing(s: pd.Series) -> np.ndarray:
    """`s.isna()` as a numpy array: the array's own answer, without building a Series."""
    return np.asarray(s.array.isna(), dtype=bool)


def _home_without_person(t: Frames, _day) -> np.ndarray:
    v = t["visits"]
    home = np.asarray(v["kind"].to_numpy(dtype=object, na_value=None) == "home_visit", dtype=bool)
    return home & _missing(v["participant_id"])


def _dates(s: pd.Series | np.ndarray) -> np.ndarray | None:
    """A date column as numpy datetime64 (NaT for empty), or None when it is not typed as dates.

    Comparisons with NaT are False in numpy as in pandas, so a rule can compare the
    arrays directly: a request's few rows then cost microseconds, not a pandas op each."""
    if isinstance(s, np.ndarray):
        return s if np.issubdtype(s.dtype, np.datetime64) else None
    return s.to_numpy() if np.issubdtype(s.dtype, np.datetime64) else None


def _less(a: pd.Series, b: pd.Series | np.ndarray) -> np.ndarray:
    """a < b row by row, False where either is empty."""
    x, y = _dates(a), _dates(b)
    if x is not None and y is not None:
        return x < y
    if isinstance(b, np.ndarray):
        b = pd.Series(b, index=a.index)
    return (a.notna() & b.notna() & (a < b)).to_numpy()


def _paid_before_enrolment(t: Frames, _day) -> np.ndarray:
    return _less(t["installments"]["paid_on"], _enrolled(t, "installments"))


def _period_before_enrolment(t: Frames, _day) -> np.ndarray:
    return _less(t["installments"]["period_start"], _month_start(_enrolled(t, "installments")))


def _due_before_period(t: Frames, _day) -> np.ndarray:
    inst = t["installments"]
    return _less(inst["due_on"], inst["period_start"])


def _paid_mismatch(t: Frames, _day) -> np.ndarray:
    inst = t["installments"]
    return _missing(inst["paid_on"]) != _missing(inst["amount_paid"])


def _claim_before_enrolment(t: Frames, _day) -> np.ndarray:
    return _less(t["withdrawals"]["claimed_on"], _enrolled(t, "withdrawals"))


def _paid_after_withdrawal(t: Frames, _day) -> np.ndarray:
    """A lump-sum withdrawal ends the record: no payment can come after its claim."""
    inst = t["installments"]
    w = t["withdrawals"]
    if w.empty:
        return np.zeros(len(inst), dtype=bool)
    claimed = w.drop_duplicates("participant_id").set_index("participant_id")["claimed_on"]
    claimed_on = pd.Series(claimed.reindex(inst["participant_id"].to_numpy()).to_numpy(), index=inst.index)
    return (inst["paid_on"].notna() & claimed_on.notna() & (inst["paid_on"] > claimed_on)).to_numpy()


def _ends_before_start(table: str) -> Check:
    def check(t: Frames, _day) -> np.ndarray:
        df = t[table]
        return _less(df["valid_to"], df["valid_from"])
    return check


def overlapping_spells(poverty: pd.DataFrame) -> np.ndarray:
    """Mark spells that start before the previous spell of the same household ends."""
    if poverty.empty:
        return np.zeros(0, dtype=bool)
    start, end = _dates(poverty["valid_from"]), _dates(poverty["valid_to"])
    household = poverty["household_id"].to_numpy()
    if start is None or end is None or household.dtype == object:
        return _overlapping_spells_pandas(poverty)
    order = np.lexsort((start, household))
    hh, st = household[order], start[order]
    ends = end[order].copy()
    ends[np.isnat(ends)] = np.datetime64(pd.Timestamp.max.normalize().to_datetime64(), "ns")
    bad_sorted = np.zeros(len(order), dtype=bool)
    bad_sorted[1:] = (hh[1:] == hh[:-1]) & (st[1:] <= ends[:-1])
    bad = np.zeros(len(poverty), dtype=bool)
    bad[order] = bad_sorted
    return bad


def _overlapping_spells_pandas(poverty: pd.DataFrame) -> np.ndarray:
    order = np.lexsort((poverty["valid_from"].to_numpy(), poverty["household_id"].to_numpy()))
    s = poverty.iloc[order]
    ends = s["valid_to"].fillna(pd.Timestamp.max.normalize())
    prev_end = ends.groupby(s["household_id"].to_numpy()).shift(1)
    bad_sorted = (prev_end.notna() & (s["valid_from"] <= prev_end)).to_numpy()
    bad = np.zeros(len(poverty), dtype=bool)
    bad[order] = bad_sorted
    return bad


def _in_future(table: str, col: str) -> Check:
    def check(t: Frames, extracted_on) -> np.ndarray:
        values = t[table][col]
        days = _dates(values)
        if days is not None:
            return days > pd.Timestamp(extracted_on).to_datetime64()
        return (values.notna() & (values > extracted_on)).to_numpy()
    return check


#: The rules between rows and tables, in the order problems are reported.
RULES: tuple[Rule, ...] = (
    _orphan("participants", "village_id", "villages"),
    _orphan("installments", "participant_id", "participants"),
    _orphan("withdrawals", "participant_id", "participants"),
    _orphan("visits", "participant_id", "participants"),
    _orphan("visits", "village_id", "villages"),
    _orphan("disasters", "commune", "villages"),
    Rule("home_visit_person", "visits", "participant_id", "a home_visit needs a participant_id", _home_without_person),
    Rule("paid_before_enrolment", "installments", "paid_on", "payment before enrolment", _paid_before_enrolment,
         needs=("participants",)),
    Rule("period_before_enrolment", "installments", "period_start",
         "installment period before the enrolment month", _period_before_enrolment, needs=("participants",)),
    Rule("due_before_period", "installments", "due_on", "deadline before the period starts", _due_before_period),
    Rule("paid_mismatch", "installments", "amount_paid",
         "amount_paid must be empty exactly when paid_on is empty", _paid_mismatch),
    Rule("claim_before_enrolment", "withdrawals", "claimed_on", "withdrawal before enrolment", _claim_before_enrolment,
         needs=("participants",)),
    Rule("paid_after_withdrawal", "installments", "paid_on",
         "payment after the participant's lump-sum withdrawal (withdrawals.claimed_on)", _paid_after_withdrawal,
         needs=("withdrawals",)),
    Rule("poverty_ends_before_start", "poverty", "valid_to", "valid_to before valid_from", _ends_before_start("poverty")),
    Rule("policy_ends_before_start", "subsidy_policies", "valid_to", "valid_to before valid_from",
         _ends_before_start("subsidy_policies")),
    Rule("overlapping_spells", "poverty", "valid_from", "overlapping status spells of one household",
         lambda t, _day: overlapping_spells(t["poverty"])),
    *(Rule(f"future_{table}_{col}", table, col, FUTURE, _in_future(table, col))
      for table, cols in EVENT_DATES.items() for col in cols),
)


def _duplicated(df: pd.DataFrame, key: list[str]) -> np.ndarray:
    """Rows whose key occurs more than once (pandas' `duplicated(keep=False)`)."""
    arrays = [df[c].to_numpy() for c in key]
    if not all(a.dtype.kind in "iM" for a in arrays):  # text or nullable keys: pandas
        return df.duplicated(key, keep=False).to_numpy()
    # Whole numbers and dates (NaT equal to NaT, as pandas has it) as int64: sort and
    # compare neighbours.
    ints = [a.view(np.int64) if a.dtype.kind == "M" else a.astype(np.int64, copy=False) for a in arrays]
    n = len(df)
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    order = np.lexsort(ints[::-1])
    same = np.ones(n - 1, dtype=bool)
    for a in ints:
        a = a[order]
        same &= a[1:] == a[:-1]
    dup = np.zeros(n, dtype=bool)
    dup[1:] |= same
    dup[:-1] |= same
    out[order] = dup
    return out


def key_rules(unique: Mapping[str, list[list[str]]]) -> tuple[Rule, ...]:
    """'duplicate key' rules: for each table, each key (a list of columns) that must be unique."""
    out = []
    for table, keys in unique.items():
        for key in keys:
            def check(t: Frames, _day, table=table, key=key) -> np.ndarray:
                return _duplicated(t[table], key)
            out.append(Rule(f"unique_{table}_{'_'.join(key)}", table, ", ".join(key), "duplicate key", check))
    return tuple(out)


def broken(frames: Frames, extracted_on: pd.Timestamp, rules=RULES) -> list[tuple[Rule, np.ndarray]]:
    """(rule, offending row positions) for every rule some row breaks, in rule order."""
    out = []
    for rule in rules:
        rows = rule.bad_rows(frames, extracted_on)
        if len(rows):
            out.append((rule, rows))
    return out
