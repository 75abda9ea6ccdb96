"""The CLI's one error boundary: library errors become a message and an exit code.

Every command is registered through `guarded`, so the same error reads the same and
exits the same in every command:

    exit 1  the input data was refused by the data contract (docs/data.md): every
            problem is listed by table, column and first offending rows
    exit 2  anything else the user can fix: a parameter, a config file, a model, the
            store, a missing folder

The library raises `DropoutError` subclasses on purpose; anything else is a bug and
keeps its traceback. Refusals happen before anything is written, which the message
says, except for commands registered with `writes_on_refusal=True`.
"""

from __future__ import annotations

import functools
from typing import Callable

import typer

from dropout.errors import DataContractError, DropoutError, format_problems
from dropout.progress import console

EXIT_DATA = 1
EXIT_USAGE = 2


def report(err: BaseException, nothing_written: bool = True) -> int:
    """Print `err` for a person at a terminal; return its exit code."""
    if isinstance(err, DataContractError):
        where = f"{err.source}: " if getattr(err, "source", None) else ""
        console.print(f"[red]{where}the data does not meet the contract (docs/data.md)[/red]", highlight=False)
        console.print(format_problems(err.problems), markup=False, highlight=False)
        code = EXIT_DATA
    else:
        console.print(f"[red]error:[/red] {err}", markup=True, highlight=False, soft_wrap=True)
        code = EXIT_USAGE
    if nothing_written:
        console.print("nothing was written")
    return code


def guarded(command: Callable, writes_on_refusal: bool = False) -> Callable:
    """`command` with the boundary around it (its signature kept for typer)."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (DropoutError, FileNotFoundError) as err:
            raise typer.Exit(report(err, nothing_written=not writes_on_refusal)) from err

    return run
