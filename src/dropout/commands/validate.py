"""`dropout validate DIR`: check a data folder against the contract."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from dropout.errors import DataContractError
from dropout.io import load_tables
from dropout.progress import console


def validate(
    data: Path = typer.Argument(..., help="Folder of raw tables (Parquet, CSV or Excel)."),
) -> None:
    """Check a folder of raw tables: print row counts, or every problem and exit 1."""
    try:
        tables = load_tables(data)
    except FileNotFoundError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    except DataContractError as err:
        console.print(f"[red]{data}: the data does not meet the contract (docs/data.md)[/red]")
        console.print(str(err), markup=False, highlight=False)
        raise typer.Exit(1) from err
    summary = Table(title=f"{data}: OK (extracted on {tables.extracted_on.date()})")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for name, n in tables.counts().items():
        summary.add_row(name, f"{n:,}")
    console.print(summary)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
