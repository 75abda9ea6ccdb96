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


def _orphan(child: str, col: str, parent: str, parent_col: str | None = None) -> Rule:
    parent_col = parent_col or col

    def check(t: Frames, _day) -> np.ndarray:
        keys = t[child][col]
        return (keys.notna() & ~keys.isin(t[parent][parent_col])).to_numpy()

    return Rule(f"orphan_{child}_{col}", child, col, f"orphan rows: {col} not found in {parent}.{parent_col}", check,
                needs=(parent,))


def _enrolled(t: Frames, table: str) -> pd.Series:
    """Each row's participant's enrolment day (NaT where the participant is unknown)."""
    parts, rows = t["participants"], t[table]
    ids = pd.Index(parts["participant_id"])
    enrolled = parts["enrolled_on"]
    if ids.is_unique and np.issubdtype(enrolled.dtype, np.datetime64):
        # By position: a request's few rows cost far less than a mapped Series.
        pos = ids.get_indexer(rows["participant_id"])
        values = enrolled.to_numpy()[np.maximum(pos, 0)] if len(enrolled) else np.full(len(pos), "NaT", enrolled.dtype)
        values[pos < 0] = np.datetime64("NaT")
        return pd.Series(values, index=rows.index, dtype=enrolled.dtype)
    enrolled = parts.drop_duplicates("participant_id").set_index("participant_id")["enrolled_on"]
    return rows["participant_id"].map(enrolled)


def _month_start(days: pd.Series) -> pd.Series:
    """The first day of each date's month (NaT stays NaT)."""
    if np.issubdtype(days.dtype, np.datetime64):
        month = days.to_numpy().astype("datetime64[M]").astype(days.dtype)
        return pd.Series(month, index=days.index, dtype=days.dtype)
    return days.dt.to_period("M").dt.to_timestamp()


def _home_without_person(t: Frames, _day) -> np.ndarray:
    v = t["visits"]
    return (v["kind"].eq("home_visit") & v["participant_id"].isna()).to_numpy()


def _paid_before_enrolment(t: Frames, _day) -> np.ndarray:
    inst = t["installments"]
    return (inst["paid_on"].notna() & (inst["paid_on"] < _enrolled(t, "installments"))).to_numpy()


def _period_before_enrolment(t: Frames, _day) -> np.ndarray:
    inst = t["installments"]
    month = _month_start(_enrolled(t, "installments"))
    return (inst["period_start"] < month).to_numpy()


def _due_before_period(t: Frames, _day) -> np.ndarray:
    inst = t["installments"]
    return (inst["due_on"] < inst["period_start"]).to_numpy()


def _paid_mismatch(t: Frames, _day) -> np.ndarray:
    inst = t["installments"]
    return (inst["paid_on"].isna() != inst["amount_paid"].isna()).to_numpy()


def _claim_before_enrolment(t: Frames, _day) -> np.ndarray:
    w = t["withdrawals"]
    return (w["claimed_on"] < _enrolled(t, "withdrawals")).to_numpy()


def _ends_before_start(table: str) -> Check:
    def check(t: Frames, _day) -> np.ndarray:
        df = t[table]
        return (df["valid_to"].notna() & (df["valid_to"] < df["valid_from"])).to_numpy()
    return check


def overlapping_spells(poverty: pd.DataFrame) -> np.ndarray:
    """Mark spells that start before the previous spell of the same household ends."""
    if poverty.empty:
        return np.zeros(0, dtype=bool)
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
    Rule("poverty_ends_before_start", "poverty", "valid_to", "valid_to before valid_from", _ends_before_start("poverty")),
    Rule("policy_ends_before_start", "subsidy_policies", "valid_to", "valid_to before valid_from",
         _ends_before_start("subsidy_policies")),
    Rule("overlapping_spells", "poverty", "valid_from", "overlapping status spells of one household",
         lambda t, _day: overlapping_spells(t["poverty"])),
    *(Rule(f"future_{table}_{col}", table, col, FUTURE, _in_future(table, col))
      for table, cols in EVENT_DATES.items() for col in cols),
)


def key_rules(unique: Mapping[str, list[list[str]]]) -> tuple[Rule, ...]:
    """'duplicate key' rules: for each table, each key (a list of columns) that must be unique."""
    out = []
    for table, keys in unique.items():
        for key in keys:
            def check(t: Frames, _day, table=table, key=key) -> np.ndarray:
                return t[table].duplicated(key, keep=False).to_numpy()
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
