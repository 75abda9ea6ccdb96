"""Exception types: each names what is wrong and where."""

from __future__ import annotations


class DropoutError(Exception):
    """Base class of every error the library raises on purpose."""


class DataContractError(DropoutError):
    """A raw table breaks the data contract (docs/data.md).

    Attributes:
        problems: list of dicts with table, column, check, and the first offending rows.
    """

    def __init__(self, problems: list[dict], source: str | None = None):
        self.problems = problems
        self.source = source  # where the data came from (a folder), for messages
        super().__init__(format_problems(problems))


class ConfigError(DropoutError):
    """A configuration file or parameter is invalid."""


class InputError(DropoutError, ValueError):
    """A value handed to a library function is invalid (a date, a horizon, a name)."""


def format_problems(problems: list[dict], max_rows: int = 5) -> str:
    lines = [f"{len(problems)} problem(s) in the input:"]
    for p in problems:
        where = f"{p['table']}.{p['column']}" if p.get("column") else p["table"]
        lines.append(f"- {where}: {p['check']}")
        rows = p.get("rows")
        if rows is not None and len(rows):
            lines.append(f"  first offending rows (row number: value): {rows[:max_rows]}")
    return "\n".join(lines)
