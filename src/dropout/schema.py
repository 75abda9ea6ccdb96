"""The data contract: one pandera schema per raw table, plus the checks across tables.

docs/data.md explains every column in words; this module is the same contract in code.
`validate_raw` types a folder's tables, checks them, and either returns a `Tables`
bundle or raises `DataContractError` listing every problem by table, column and first
offending rows. It never writes anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from functools import lru_cache

import numpy as np
import pandas as pd
import pandera.pandas as pa

from dropout.errors import DataContractError
from dropout.reference import contribution_rules
from dropout.rules import RULES, broken
from dropout.textsafe import CONTROL_RE

TABLE_NAMES = (
    "villages",
    "participants",
    "installments",
    "poverty",
    "disasters",
    "subsidy_policies",
    "visits",
    "withdrawals",
)


@dataclass
class Tables:
    """The eight raw tables of the data contract and the day they were extracted."""

    villages: pd.DataFrame
    participants: pd.DataFrame
    installments: pd.DataFrame
    poverty: pd.DataFrame
    disasters: pd.DataFrame
    subsidy_policies: pd.DataFrame
    visits: pd.DataFrame
    withdrawals: pd.DataFrame
    extracted_on: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.today().normalize())

    def as_dict(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLE_NAMES}

    def replace(self, **changes) -> "Tables":
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Tables(**values)

    def counts(self) -> dict[str, int]:
        return {name: len(df) for name, df in self.as_dict().items()}


def tables_fingerprint(tables: Tables) -> str:
    """sha256 over the content of the eight raw tables and the extraction date.

    Training records it with a model and a scoring run with its scores, so both can tell
    whether they saw the same data.
    """
    h = hashlib.sha256(str(tables.extracted_on).encode())
    for name, df in tables.as_dict().items():
        h.update(name.encode())
        h.update(",".join(map(str, df.columns)).encode())
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()


MAX_ROWS_SHOWN = 5

OCCUPATIONS = ["farmer", "forest_worker", "trader", "wage_worker", "village_worker", "other"]
PAYMENT_MODES = ["monthly", "quarterly", "semiannual", "annual", "multi_year"]
POVERTY_STATUSES = ["poor", "near_poor", "none"]
DISASTER_KINDS = ["storm", "flood", "flash_flood", "landslide", "drought"]
SUBSIDY_GROUPS = ["poor", "near_poor", "ethnic_minority", "village_worker", "other"]
VISIT_KINDS = ["home_visit", "evening_session"]
VISIT_OUTCOMES = ["promised", "paid", "refused", "not_home", "moved_away"]


@dataclass(frozen=True)
class Col:
    """One column of the contract: its kind (int, float, str, date) and rules."""

    kind: str
    nullable: bool = False
    checks: tuple = ()
    unique: bool = False
    # A column added to the contract later: a file without it is read as all empty.
    optional: bool = False


def _income_base_range() -> pa.Check:
    rules = contribution_rules()
    return pa.Check.in_range(rules.min_income_base, rules.max_income_base)


@lru_cache(maxsize=1)
def contract() -> dict[str, dict[str, Col]]:
    """Every table's columns with their kind and rules (the order is the canonical one)."""
    ge0 = pa.Check.ge(0)
    gt0 = pa.Check.gt(0)
    return {
        "villages": {
            "village_id": Col("str", unique=True),
            "commune": Col("str"),
            "district": Col("str"),
            "province": Col("str"),
            "travel_minutes": Col("int", checks=(pa.Check.in_range(0, 600),)),
            "ethnic_language": Col("str"),
            "village_name": Col("str", nullable=True, optional=True),
        },
        "participants": {
            "participant_id": Col("int", checks=(gt0,), unique=True),
            "household_id": Col("int", checks=(gt0,)),
            "village_id": Col("str"),
            "birth_year": Col("int", checks=(pa.Check.in_range(1940, 2010),)),
            "sex": Col("str", checks=(pa.Check.isin(["F", "M"]),)),
            "ethnicity": Col("str"),
            "occupation": Col("str", checks=(pa.Check.isin(OCCUPATIONS),)),
            "enrolled_on": Col("date"),
            "payment_mode": Col("str", checks=(pa.Check.isin(PAYMENT_MODES),)),
            "income_base": Col("int", checks=(_income_base_range(),)),
            "full_name": Col("str", nullable=True, optional=True),
            "phone": Col("str", nullable=True, optional=True, checks=(pa.Check.str_matches(r"^\+?[0-9 .]{8,16}$"),)),
            "address": Col("str", nullable=True, optional=True),
        },
        "installments": {
            "participant_id": Col("int", checks=(gt0,)),
            "period_start": Col("date"),
            "due_on": Col("date"),
            "months_covered": Col("int", checks=(pa.Check.in_range(1, 120),)),
            "income_base": Col("int", checks=(_income_base_range(),)),
            "amount_due": Col("int", checks=(ge0,)),
            "paid_on": Col("date", nullable=True),
            "amount_paid": Col("int", nullable=True, checks=(ge0,)),
        },
        "poverty": {
            "household_id": Col("int", checks=(gt0,)),
            "status": Col("str", checks=(pa.Check.isin(POVERTY_STATUSES),)),
            "valid_from": Col("date"),
            "valid_to": Col("date", nullable=True),
        },
        "disasters": {
            "commune": Col("str"),
            "started_on": Col("date"),
            "kind": Col("str", checks=(pa.Check.isin(DISASTER_KINDS),)),
            "severity": Col("int", checks=(pa.Check.in_range(1, 3),)),
        },
        "subsidy_policies": {
            "province": Col("str"),
            "group": Col("str", checks=(pa.Check.isin(SUBSIDY_GROUPS),)),
            "valid_from": Col("date"),
            "valid_to": Col("date", nullable=True),
            "rate": Col("float", checks=(pa.Check.in_range(0.0, 1.0),)),
        },
        "visits": {
            "visit_id": Col("int", unique=True),
            "participant_id": Col("int", nullable=True, checks=(gt0,)),
            "village_id": Col("str"),
            "visited_on": Col("date"),
            "kind": Col("str", checks=(pa.Check.isin(VISIT_KINDS),)),
            "language": Col("str"),
            "outcome_note": Col("str", nullable=True),
            "outcome": Col("str", nullable=True, optional=True, checks=(pa.Check.isin(VISIT_OUTCOMES),)),
            "promised_on": Col("date", nullable=True, optional=True),
        },
        "withdrawals": {
            "participant_id": Col("int", checks=(gt0,), unique=True),
            "claimed_on": Col("date"),
        },
    }


# Keys that must be unique across several columns.
COMPOUND_KEYS = {
    "installments": ["participant_id", "period_start"],
    "subsidy_policies": ["province", "group", "valid_from"],
}
# Tables that must have rows for anything downstream to make sense.
REQUIRED_ROWS = ("villages", "participants", "installments")
# Tables that may be absent from a folder: an empty table stands in (subsidy policies:
# the reference copy in features/).
OPTIONAL_TABLES = ("poverty", "disasters", "subsidy_policies", "visits", "withdrawals")
def pandera_schema(table: str) -> pa.DataFrameSchema:
    """The pandera schema of one table (types, allowed values, ranges, uniqueness)."""
    dtypes = {"int": "int64", "float": "float64", "str": str, "date": "datetime64[ns]"}
    columns = {}
    for name, col in contract()[table].items():
        dtype = dtypes[col.kind]
        if col.kind == "int" and col.nullable:
            dtype = "Int64"
        columns[name] = pa.Column(
            dtype, checks=list(col.checks), nullable=col.nullable, unique=col.unique, coerce=False
        )
    return pa.DataFrameSchema(columns, strict=False, name=table)


# ---------------------------------------------------------------- problem reports


def _show(value) -> str:
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "(empty)"
    if isinstance(value, (np.integer, np.floating)):
        return repr(value.item())
    return repr(value)


def _rows(df: pd.DataFrame, mask: np.ndarray | pd.Series, column: str | None) -> list[str]:
    """The first offending rows as 'row N: value' (N counts data rows from 0)."""
    positions = np.flatnonzero(np.asarray(mask))[:MAX_ROWS_SHOWN]
    cols = [c.strip() for c in column.split(",")] if column else []
    out = []
    for pos in positions:
        row = df.iloc[pos]
        if len(cols) == 1 and cols[0] in df.columns:
            shown = _show(row[cols[0]])
        else:
            shown = ", ".join(f"{c}={_show(row[c])}" for c in (cols or df.columns) if c in df.columns)
        out.append(f"row {int(pos)}: {shown}")
    return out


def problem(table, column, check, df=None, mask=None, rows=None) -> dict:
    if rows is None and df is not None and mask is not None:
        rows = _rows(df, mask, column)
    count = int(np.asarray(mask).sum()) if mask is not None else None
    text = check if count is None else f"{check} ({count} row(s))"
    return {"table": table, "column": column, "check": text, "rows": rows or []}


# ---------------------------------------------------------------- typing


def _coerce(table: str, raw: pd.DataFrame, problems: list[dict]) -> pd.DataFrame | None:
    """Type a raw table to the contract; record missing columns and unparseable values."""
    spec = contract()[table]
    missing = [c for c in spec if c not in raw.columns]
    if missing:
        problems.append(
            problem(table, ", ".join(missing), f"missing column(s); expected {list(spec)}")
        )
        return None
    df = raw.reset_index(drop=True)
    out = {}
    for name, col in spec.items():
        try:
            typed = _coerce_column(table, name, col, df, problems)
        except (ValueError, TypeError, OverflowError, ArithmeticError) as err:  # a column pandas cannot type
            bad = pd.Series(True, index=df.index)
            problems.append(problem(table, name, f"wrong type: expected {_KIND_WORDS[col.kind]} "
                                                 f"({type(err).__name__})", df, bad))
            typed = _empty(table)[name].reindex(df.index)
        out[name] = typed
    extra = [c for c in df.columns if c not in spec]
    typed_df = pd.DataFrame(out)
    for c in extra:  # extra columns travel along untouched
        typed_df[c] = df[c].values
    return typed_df


#: Whole numbers beyond this are refused rather than cast (2^53: exact as a float, safe as int64).
MAX_WHOLE = 2**53
#: Free-text columns: line breaks and tabs allowed; every other text column refuses all
#: control characters (dropout.textsafe), NUL everywhere.
FREE_TEXT = {"outcome_note", "address"}


def _coerce_column(table: str, name: str, col: Col, df: pd.DataFrame, problems: list[dict]) -> pd.Series:
    values = df[name]
    present = values.notna()
    textual = values.dtype == object or pd.api.types.is_string_dtype(values)
    if textual:
        present &= values.astype("str").str.strip() != ""
    reported = pd.Series(False, index=values.index)
    boolean = pd.api.types.is_bool_dtype(values) or (
        values.dtype == object and values.map(lambda v: isinstance(v, (bool, np.bool_))).any())
    if col.kind == "str":
        typed = values.astype("str").where(present)
        controls = typed.str.contains(r"[\x00]" if name in FREE_TEXT else CONTROL_RE.pattern, regex=True, na=False)
        if name in FREE_TEXT:
            controls |= typed.str.contains(r"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]", regex=True, na=False)
        if controls.any():
            problems.append(problem(table, name, "control characters (NUL, line breaks, ...) in text", df, controls))
            typed = typed.where(~controls)
            present &= ~controls  # reported once, not again as a wrong type or a missing value
            reported = controls
    elif col.kind == "date":
        typed = _to_date(values.where(present) if textual else values)
    elif boolean or not (textual or pd.api.types.is_numeric_dtype(values)):
        typed = pd.Series(np.nan, index=values.index)  # True/False or a date is not a number: wrong type
    elif pd.api.types.is_numeric_dtype(values):
        typed = values.astype("float64") if col.kind == "float" else values
    else:
        typed = pd.to_numeric(values.where(present), errors="coerce")
    bad = present & typed.isna()
    if col.kind in ("int", "float"):
        as_float = typed.astype("float64")
        bad = bad | (as_float.notna() & ~np.isfinite(as_float))
        if col.kind == "int":
            bad = bad | (as_float.notna() & np.isfinite(as_float) & (
                (as_float != np.floor(as_float)) | (as_float.abs() > MAX_WHOLE)))
            if pd.api.types.is_unsigned_integer_dtype(typed):
                bad = bad | (typed > MAX_WHOLE)
    if bad.any():
        problems.append(problem(table, name, f"wrong type: expected {_KIND_WORDS[col.kind]}", df, bad))
        typed = typed.where(~bad)
    missing_values = typed.isna() & ~bad & ~reported
    if not col.nullable and missing_values.any():
        problems.append(problem(table, name, "missing values in a required column", df, missing_values))
    if col.kind == "int":
        typed = typed.astype("float64") if typed.isna().any() or typed.dtype.kind == "u" else typed
        nullable_int = col.nullable or typed.isna().any()
        typed = typed.astype("Int64") if nullable_int else typed.astype("int64")
    elif col.kind == "float":
        typed = typed.astype("float64")
    return typed


_KIND_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "str": "text",
    "date": "a date (YYYY-MM-DD)",
}


def _to_date(values: pd.Series) -> pd.Series:
    """Calendar days (datetime64[ns] at midnight); what is not one becomes NaT.

    Time-zone-aware times count by their own wall-clock day; days pandas cannot hold
    (before 1677, after 2262) become NaT and are reported as not a date."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.astype("datetime64[ns]").dt.normalize()
    if values.dtype == object and len(values) and all(
        hasattr(v, "year") for v in values.dropna().head(20)
    ):
        return _one_by_one(values)
    text = values.astype("str").str.strip().where(values.notna(), None)
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="%Y-%m-%d")
        # Excel and some exports add a time of day: accept ISO 8601 with a time as a fallback.
        retry = parsed.isna() & text.notna()
        if retry.any():
            again = pd.to_datetime(text[retry], errors="coerce", format="ISO8601", utc=True)
            parsed.loc[retry] = again.dt.tz_localize(None) if isinstance(again.dtype, pd.DatetimeTZDtype) else again
        return parsed.astype("datetime64[ns]").dt.normalize()
    except (ValueError, TypeError, OverflowError):  # e.g. a day in year 3000: value by value
        return _one_by_one(text)


def _one_by_one(values: pd.Series) -> pd.Series:
    def one(v):
        if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
            return pd.NaT
        try:
            t = pd.Timestamp(v) if not isinstance(v, str) else pd.Timestamp(pd.to_datetime(v, format="ISO8601"))
            if t.tzinfo is not None:
                t = t.tz_localize(None)
            if not pd.Timestamp.min < t < pd.Timestamp.max:
                return pd.NaT
            return t.as_unit("ns")
        except (ValueError, TypeError, OverflowError):
            return pd.NaT

    return pd.Series(pd.DatetimeIndex([one(v) for v in values], dtype="datetime64[ns]"),
                     index=values.index).dt.normalize()


# ---------------------------------------------------------------- single-table checks


def _pandera_problems(table: str, df: pd.DataFrame) -> list[dict]:
    try:
        pandera_schema(table).validate(df, lazy=True)
    except pa.errors.SchemaErrors as err:
        return _from_failure_cases(table, df, err.failure_cases)
    return []


def _from_failure_cases(table: str, df: pd.DataFrame, cases: pd.DataFrame) -> list[dict]:
    problems = []
    cases = cases.copy()
    cases["column"] = cases["column"].astype("str")
    for (column, check), group in cases.groupby(["column", "check"], sort=False, dropna=False):
        index = pd.to_numeric(group["index"], errors="coerce").dropna().astype(int).unique()
        rows = [f"row {i}: {_show(df.iloc[i][column])}" if column in df.columns else f"row {i}"
                for i in index[:MAX_ROWS_SHOWN]]
        if column in (None, "None", "nan") or column not in df.columns:
            column = ", ".join(COMPOUND_KEYS.get(table, [])) or None
        problems.append(
            {"table": table, "column": column, "check": f"{_describe(check)} ({len(index)} row(s))",
             "rows": rows}
        )
    return problems


def _describe(check: str) -> str:
    check = str(check)
    if check.startswith("isin"):
        return f"value not allowed: expected one of {check[len('isin('):-1]}"
    if check.startswith("in_range"):
        return f"value out of range {check[len('in_range'):]}"
    if check.startswith("greater_than_or_equal_to"):
        return "negative value: must be >= " + check.split("(")[-1].rstrip(")")
    if check.startswith("greater_than"):
        return "value must be > " + check.split("(")[-1].rstrip(")")
    if "unique" in check or "duplicate" in check:
        return "duplicate key"
    if check.startswith("not_nullable"):
        return "missing values in a required column"
    return check


# ---------------------------------------------------------------- cross-table checks


def _cross_checks(t: dict[str, pd.DataFrame], extracted_on: pd.Timestamp) -> list[dict]:
    """The rules between rows and tables (`dropout.rules.RULES`) as problems, each
    evaluated only when every table it reads could be typed."""
    rules = [r for r in RULES if all(n in t for n in r.needs)]
    return [problem(rule.table, rule.column, rule.text(extracted_on), t[rule.table],
                     np.isin(np.arange(len(t[rule.table])), rows))
            for rule, rows in broken(t, extracted_on, rules)]


def key_columns() -> dict[str, list[list[str]]]:
    """Per table, the keys that must be unique (single columns and COMPOUND_KEYS)."""
    out: dict[str, list[list[str]]] = {}
    for table, cols in contract().items():
        keys = [[c] for c, col in cols.items() if col.unique]
        if table in COMPOUND_KEYS:
            keys.append(COMPOUND_KEYS[table])
        if keys:
            out[table] = keys
    return out


# ---------------------------------------------------------------- entry point


def _empty(table: str) -> pd.DataFrame:
    dtypes = {"int": "int64", "float": "float64", "str": "str", "date": "datetime64[ns]"}
    cols = {}
    for name, col in contract()[table].items():
        dtype = "Int64" if (col.kind == "int" and col.nullable) else dtypes[col.kind]
        cols[name] = pd.Series([], dtype=dtype)
    return pd.DataFrame(cols)


def validate_raw(raw: dict[str, pd.DataFrame | None], extracted_on: pd.Timestamp) -> Tables:
    """Type and validate raw tables; return them as `Tables` or raise DataContractError.

    Args:
        raw: table name -> DataFrame as read from a file (or None when the file is absent).
        extracted_on: the export's extraction date; no event may be dated after it.
    """
    from dropout.reference import subsidy_policies

    problems: list[dict] = []
    typed: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        df = raw.get(name)
        if df is None:
            if name == "subsidy_policies":
                df = subsidy_policies()
            elif name in OPTIONAL_TABLES:
                typed[name] = _empty(name)
                continue
            else:
                problems.append({"table": name, "column": None, "check": "table missing", "rows": []})
                continue
        if name in REQUIRED_ROWS and len(df) == 0:
            problems.append({"table": name, "column": None, "check": "empty table: rows are required", "rows": []})
            continue
        checked, found = check_table(name, df)
        problems.extend(found)
        if checked is not None:
            typed[name] = checked
    # Every table's own problems, then the rules between the tables that could be typed
    # (a bad value is empty in its typed column, so no rule trips over it twice).
    problems.extend(_cross_checks(typed, extracted_on))
    if problems:
        raise DataContractError(problems)
    return Tables(**{name: typed[name] for name in TABLE_NAMES}, extracted_on=extracted_on)


def check_table(name: str, df: pd.DataFrame) -> tuple[pd.DataFrame | None, list[dict]]:
    """One table typed to the contract and checked on its own (types, values, keys).

    Returns:
        (the typed table, or None when columns are missing; its problems, [] if none).
    """
    problems: list[dict] = []
    absent = [c for c, col in contract()[name].items() if col.optional and c not in df.columns]
    if absent:  # columns added to the contract later: an older export has them all empty
        df = df.assign(**{c: None for c in absent})
    coerced = _coerce(name, df, problems)
    if coerced is None or problems:
        return coerced, problems
    problems.extend(_pandera_problems(name, coerced))
    key = COMPOUND_KEYS.get(name)
    if key:
        dup = coerced.duplicated(key, keep=False)
        if dup.any():
            problems.append(problem(name, ", ".join(key), "duplicate key", coerced, dup))
    return coerced, problems


def validate_tables(tables: Tables) -> Tables:
    """Validate an in-memory `Tables` (e.g. straight from the simulator)."""
    return validate_raw(tables.as_dict(), tables.extracted_on)
