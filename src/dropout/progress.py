"""Progress bars for long work (rich), quiet when not attached to a terminal if asked."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console

console = Console(stderr=True)


@contextmanager
def progress_bar(disable: bool = False) -> Iterator:
    """A rich Progress writing to stderr; use `.add_task(description, total=n)`."""
    from rich.progress import (  # imported here: the CLI's --help must not pay for it
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=disable,
        transient=False,
    ) as progress:
        yield progress


class Stages:
    """Named stages of a long job on one progress bar; a log line per stage when not on a terminal.

    `stage("fold 2/3: fit")` names what runs now (the bar's description, or a timestamped
    line on stderr when the output goes to a log file); `done()` advances the bar.
    """

    def __init__(self, bar, title: str, total: int, quiet: bool = False):
        self.bar, self.title, self.quiet = bar, title, quiet
        self.task = bar.add_task(title, total=total)
        self.log_lines = not quiet and not console.is_terminal

    def stage(self, name: str) -> None:
        self.bar.update(self.task, description=f"{self.title}: {name}")
        if self.log_lines:
            import time

            console.print(f"{time.strftime('%H:%M:%S')} {self.title}: {name}", highlight=False, soft_wrap=True)

    def done(self) -> None:
        self.bar.advance(self.task)
