"""`dropout validate DIR`: check a data folder against the contract."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console


def validate(
    data: Path = typer.Argument(..., help="Folder of raw tables (Parquet, CSV or Excel)."),
) -> None:
    """Check a folder of raw tables: print row counts, or every problem and exit 1."""
    from rich.table import Table

    from dropout.io import load_tables

    tables = load_tables(data)
    summary = Table(title=f"{data}: OK (extracted on {tables.extracted_on.date()})")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for name, n in tables.counts().items():
        summary.add_row(name, f"{n:,}")
    console.print(summary)


def register(app: typer.Typer) -> None:
    app.command("validate")(guarded(validate))
