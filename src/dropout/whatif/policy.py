"""Policy files of the what-if: changes to the subsidy table, validated at the door.

A policy file is a CSV with one row per rate a policy sets:

    policy, province, group, valid_from, valid_to, rate[, source]

`policy` names the policy (several in one file compare side by side; without the
column every row belongs to one policy named after the file). `province` is `*` for
the central rate or a province of the data (or of features/subsidy_policies.csv);
`group` one of the subsidy groups (poor, near_poor, ethnic_minority, village_worker,
other); `valid_to` empty means open-ended; `rate` a share in [0, 1] (0.10 = 10 %).

Meaning: within [valid_from, valid_to] the row *replaces* whatever the current table
says for its (province, group): a raised top-up is a row with the new rate, a top-up
extended to a new group a row for that group, an ended top-up a row with rate 0, a
new central rate a row with province `*`. Outside its dates the current table holds.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dropout.errors import DropoutError
from dropout.features.subsidy import CENTRAL, SUBSIDY_GROUPS

REQUIRED = ("province", "group", "valid_from", "valid_to", "rate")
OPEN_END = pd.Timestamp("2262-04-11")  # the last day datetime64[ns] holds: `valid_to` left empty


class PolicyError(DropoutError, ValueError):
    """A policy file is refused: the message names the file, the row (line) and the value."""


@dataclass(frozen=True)
class Policy:
    """One policy: its name and the rows it sets (province, group, valid_from, valid_to, rate)."""

    name: str
    rows: pd.DataFrame
    source: str  # the file it came from

    def describe(self) -> list[str]:
        """One line per row, e.g. 'Quang Tri / ethnic_minority: 10 % from 2025-01-01 to 2026-12-31'."""
        out = []
        for r in self.rows.itertuples(index=False):
            to = "open-ended" if r.valid_to >= OPEN_END else f"to {r.valid_to.date()}"
            out.append(f"{r.province} / {r.group}: {r.rate * 100:g} % from {r.valid_from.date()} {to}")
        return out


def _where(path: str, line: int) -> str:
    return f"{path}, line {line}"


def read_policy_file(path: str | Path, provinces=None) -> list[Policy]:
    """Read and validate a policy file; every problem is listed before anything is refused.

    Args:
        provinces: the provinces a row may name besides `*` (the data's and the reference
            table's); None accepts any.
    Raises:
        PolicyError: missing file or columns, unparsable dates or rates, a rate outside
            [0, 1], an unknown province or group, valid_to before valid_from, or two rows of
            one policy for the same province and group whose dates overlap.
    """
    p = Path(path)
    if not p.is_file():
        raise PolicyError(f"policy file {p}: no such file")
    try:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise PolicyError(f"policy file {p}: not a readable CSV ({err})") from None
    return parse_policies(raw, str(p), provinces, default_name=p.stem)


def parse_policies(raw: pd.DataFrame, source: str, provinces=None, default_name: str = "policy") -> list[Policy]:
    """Validate a policy table (strings as read from CSV) and split it by policy name."""
    raw = raw.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise PolicyError(f"policy file {source}: missing column(s) {missing}; a policy file has columns "
                          f"policy (optional), {', '.join(REQUIRED)}, source (optional)")
    if raw.empty:
        raise PolicyError(f"policy file {source}: no rows")
    raw = raw.astype(str).apply(lambda s: s.str.strip())
    lines = np.arange(len(raw)) + 2  # header is line 1
    problems: list[str] = []
    names = raw["policy"] if "policy" in raw.columns else pd.Series(default_name, index=raw.index)
    names = names.where(names != "", default_name)

    known = None if provinces is None else sorted({str(x) for x in provinces} - {CENTRAL})
    for line, prov in zip(lines, raw["province"]):
        if prov == "":
            problems.append(f"{_where(source, line)}: province is empty (use * for the central rate)")
        elif known is not None and prov != CENTRAL and prov not in known:
            near = difflib.get_close_matches(prov, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known: {', '.join(known)} or * (central)"
            problems.append(f"{_where(source, line)}: unknown province {prov!r}{hint}")
    for line, group in zip(lines, raw["group"]):
        if group not in SUBSIDY_GROUPS:
            near = difflib.get_close_matches(group, SUBSIDY_GROUPS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            problems.append(f"{_where(source, line)}: unknown group {group!r}{hint}; "
                            f"groups are {', '.join(SUBSIDY_GROUPS)}")
    rate = pd.to_numeric(raw["rate"].str.rstrip("%"), errors="coerce")
    percent = raw["rate"].str.endswith("%")
    rate = rate.where(~percent, rate / 100.0)
    for line, text, value in zip(lines, raw["rate"], rate):
        if pd.isna(value):
            problems.append(f"{_where(source, line)}: rate {text!r} is not a number (e.g. 0.10 or 10%)")
        elif not 0.0 <= value <= 1.0:
            problems.append(f"{_where(source, line)}: rate {text} is out of range: a rate is a share "
                            "between 0 and 1 (0.10 = 10 %)")
    valid_from = pd.to_datetime(raw["valid_from"], errors="coerce", format="mixed")
    valid_to = pd.to_datetime(raw["valid_to"].replace("", None), errors="coerce", format="mixed")
    for line, text, value in zip(lines, raw["valid_from"], valid_from):
        if pd.isna(value):
            problems.append(f"{_where(source, line)}: valid_from {text!r} is not a date (YYYY-MM-DD)")
    for line, text, value in zip(lines, raw["valid_to"], valid_to):
        if text != "" and pd.isna(value):
            problems.append(f"{_where(source, line)}: valid_to {text!r} is not a date (YYYY-MM-DD, or empty "
                            "for open-ended)")
    valid_to = valid_to.where(raw["valid_to"] != "", OPEN_END)
    bad_order = valid_from.notna() & valid_to.notna() & (valid_to < valid_from)
    for line, a, b in zip(lines[bad_order.to_numpy()], valid_from[bad_order], valid_to[bad_order]):
        problems.append(f"{_where(source, line)}: valid_to {b.date()} is before valid_from {a.date()}")

    rows = pd.DataFrame({
        "policy": names.to_numpy(), "province": raw["province"].to_numpy(), "group": raw["group"].to_numpy(),
        "valid_from": valid_from.to_numpy(), "valid_to": valid_to.to_numpy(), "rate": rate.to_numpy(),
        "line": lines,
    })
    if not problems:
        problems += _overlaps(rows, source)
    if problems:
        head = f"policy file {source}: {len(problems)} problem(s), nothing was computed:"
        raise PolicyError("\n".join([head, *(f"- {p}" for p in problems)]))
    rows = rows.astype({"valid_from": "datetime64[ns]", "valid_to": "datetime64[ns]", "rate": float})
    out = []
    for name in dict.fromkeys(rows["policy"]):  # file order
        part = rows[rows["policy"] == name].drop(columns=["policy", "line"]).reset_index(drop=True)
        out.append(Policy(name=str(name), rows=part, source=source))
    return out


def _overlaps(rows: pd.DataFrame, source: str) -> list[str]:
    """Two rows of one policy for the same province and group over overlapping days."""
    problems = []
    ordered = rows.sort_values(["policy", "province", "group", "valid_from"], kind="stable")
    for (policy, prov, group), g in ordered.groupby(["policy", "province", "group"], sort=False):
        starts, ends, lines = g["valid_from"].to_numpy(), g["valid_to"].to_numpy(), g["line"].to_numpy()
        for i in range(1, len(g)):
            if starts[i] <= ends[:i].max():
                j = int(np.argmax(ends[:i]))
                problems.append(
                    f"{source}, lines {lines[j]} and {lines[i]}: policy {policy!r} sets {prov} / {group} twice "
                    f"over overlapping dates ({pd.Timestamp(starts[i]).date()} is within the earlier row's "
                    f"{pd.Timestamp(starts[j]).date()} to {_end_text(ends[j])}); one rate per day and group"
                )
    return problems


def _end_text(value) -> str:
    ts = pd.Timestamp(value)
    return "open end" if ts >= OPEN_END else str(ts.date())


def known_provinces(tables, reference: pd.DataFrame | None = None) -> list[str]:
    """Provinces a policy row may name: the data's villages' and the current subsidy table's."""
    names = set(tables.villages["province"].astype(str))
    names |= set(tables.subsidy_policies["province"].astype(str))
    if reference is not None:
        names |= set(reference["province"].astype(str))
    return sorted(names - {CENTRAL})


def apply_policy(current: pd.DataFrame, policy: Policy, in_force_from: pd.Timestamp | None = None) -> pd.DataFrame:
    """The subsidy table with the policy's rows replacing the current ones over their dates.

    Args:
        current: a subsidy_policies table (province, group, valid_from, valid_to, rate).
        in_force_from: rows of the policy that start after this day are brought forward
            to it (the what-if scores on one day and assumes the change in force over the
            whole horizon); None keeps the dates as written.
    Returns:
        A subsidy_policies table with the same columns as `current`; rows of other
        provinces and groups untouched; rate-0 rows dropped (no support is no row).
    """
    cols = list(current.columns)
    new = policy.rows.copy()
    if in_force_from is not None:
        start = pd.Timestamp(in_force_from).normalize()
        late = (new["valid_from"] > start) & (new["valid_to"] >= start)
        new.loc[late, "valid_from"] = start
    cur = current.copy()
    cur["valid_to"] = cur["valid_to"].fillna(OPEN_END)
    rest = _cut_by(cur, new)
    added = new[new["rate"] > 0].copy()
    if "source" in cols:
        added["source"] = f"what-if {policy.name}"
    for c in cols:
        if c not in added.columns:
            added[c] = None
    out = pd.concat([rest, added[cols]], ignore_index=True) if len(rest) else added[cols].copy()
    out["valid_to"] = pd.to_datetime(out["valid_to"]).where(pd.to_datetime(out["valid_to"]) < OPEN_END, pd.NaT)
    out = out.astype({"valid_from": "datetime64[ns]", "valid_to": "datetime64[ns]", "rate": float})
    return out.sort_values(["province", "group", "valid_from"], kind="stable").reset_index(drop=True)


def _cut_by(rows: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Remove from `rows` every day a row of `new` covers for the same province and group."""
    out = []
    for row in rows.to_dict("records"):
        spans = [(row["valid_from"], row["valid_to"] if pd.notna(row["valid_to"]) else OPEN_END)]
        for r in new.itertuples(index=False):
            if r.province != str(row["province"]) or r.group != str(row["group"]):
                continue
            nxt = []
            for a, b in spans:
                if b < r.valid_from or a > r.valid_to:
                    nxt.append((a, b))
                    continue
                if a < r.valid_from:
                    nxt.append((a, r.valid_from - pd.Timedelta(days=1)))
                if b > r.valid_to:
                    nxt.append((r.valid_to + pd.Timedelta(days=1), b))
            spans = nxt
        out += [{**row, "valid_from": a, "valid_to": b} for a, b in spans]
    return pd.DataFrame(out, columns=rows.columns)
