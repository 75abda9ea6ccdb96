"""`dropout refresh --data DIR --store URL`: fresh lists without re-scoring.

Merges the payments of a newer export into the store (`dropout.store.payments`): the
officers' pages then say "paid on ..." and take paid people out of the visit plan.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console


def refresh(
    data: Path = typer.Option(..., help="Folder of a newer export (validated like any data folder)."),
    store: str = typer.Option(None, help="Score store URL (default: the score store's default)."),
) -> None:
    """Merge payments received since scoring into the store; nobody is re-scored."""
    from dropout.io import load_tables
    from dropout.store import DEFAULT_STORE_URL
    from dropout.store.payments import merge_payments

    tables = load_tables(data)
    merged = merge_payments(store or DEFAULT_STORE_URL, tables, data_dir=str(Path(data).resolve()))
    console.print(merged.summary())


def register(app: typer.Typer) -> None:
    app.command("refresh")(guarded(refresh))
