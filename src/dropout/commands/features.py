"""`dropout features`: point-in-time features of a data folder at one or more as-of dates."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console, progress_bar


def features(
    data: Path = typer.Option(..., "--data", help="Folder of raw tables (Parquet, CSV or Excel)."),
    as_of: list[str] = typer.Option(..., "--as-of", help="As-of date YYYY-MM-DD; repeat for several."),
    out: Path = typer.Option(..., "--out", help="Parquet file to write (written atomically)."),
    family: list[str] = typer.Option(None, "--family", help="Only these feature families (repeat); the families are listed in features/catalog.yaml."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
    store: str = typer.Option(None, "--store", help="Store of the web pages' recorded visits "
                              "(default sqlite:///out/scores.db)."),
    recorded_visits: bool = typer.Option(None, "--recorded-visits/--no-recorded-visits",
                                         help="Add the visits recorded on the web pages (in --store) to the "
                                              "data's visits. Default: when the store has them."),
) -> None:
    """Build one row per (participant, as-of date) with the features of the catalog (features/catalog.yaml)."""
    from dropout.commands.score import with_store_visits
    from dropout.features import build_features
    from dropout.io import load_tables, write_parquet

    tables = with_store_visits(load_tables(data), store, recorded_visits)
    families = list(family) if family else None
    with progress_bar(disable=quiet) as bars:
        tasks: dict[str, int] = {}

        def report(fam: str, done: int, total: int) -> None:
            if fam not in tasks:
                tasks[fam] = bars.add_task(fam, total=total)
            bars.update(tasks[fam], completed=done)

        frame = build_features(tables, as_of, families=families, progress=report)
    write_parquet(frame, out)
    console.print(
        f"{len(frame):,} rows x {frame.shape[1] - 2} features for {frame['as_of'].nunique()} as-of date(s) -> {out}"
    )


def register(app: typer.Typer) -> None:
    app.command("features")(guarded(features))
