"""`dropout score`: score everyone due before the next deadlines; lists per district and commune."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.commands._options import MODEL_NAME, TRACKING_URI
from dropout.progress import console, progress_bar


def score(
    data: Path = typer.Option(..., "--data", help="Folder of raw tables (Parquet, CSV or Excel)."),
    as_of: str = typer.Option(None, "--as-of", help="Day the scores are made (YYYY-MM-DD), not after the "
                              "extraction. Default: the extraction day, so that payments up to it count."),
    window: str = typer.Option("deadline", "--window", help="'deadline' (default): through the next deadline at "
                               "least two weeks away; or score people whose next installment falls due "
                               "within this many days after as-of (e.g. 30d, 4w)."),
    model: str = typer.Option("champion", "--model", help="A model folder, or a registry alias: champion (the "
                              "champion of the data's district, province or the nation), NAME@alias."),
    model_name: str = MODEL_NAME,
    tracking_uri: str = TRACKING_URI,
    out: Path = typer.Option(Path("out/score"), "--out", help="Output folder; files go to OUT/<run id>/."),
    store: str = typer.Option(None, "--store", help="Score store URL (default sqlite:///out/scores.db; "
                              "postgresql+psycopg://user@host/db)."),
    engine: str = typer.Option("pandas", "--engine", help="pandas (in process) or dask (per chunk of districts)."),
    scheduler: str = typer.Option(None, "--scheduler", help="Dask scheduler address (default: a LocalCluster)."),
    chunk_size: int = typer.Option(None, "--chunk-size", help="People per chunk (whole districts); "
                                   "each chunk is committed on its own."),
    replace: bool = typer.Option(False, "--replace", help="Start the run over even if it was interrupted."),
    excel: bool = typer.Option(True, "--excel/--no-excel", help="Write one Excel workbook per district."),
    recorded_visits: bool = typer.Option(None, "--recorded-visits/--no-recorded-visits",
                                         help="Add the visits recorded on the web pages (in --store) to the "
                                              "data's visits before the features. Default: when the store has them."),
) -> None:
    """Score everyone whose next installment falls due in the window: risk, ranks, reasons."""
    from rich.table import Table

    from dropout.io import load_tables
    from dropout.registry.resolve import resolve_model
    from dropout.registry.scope import data_scope
    from dropout.score import DEFAULT_CHUNK_SIZE, check_job
    from dropout.score.run import run_scoring

    tables = with_store_visits(load_tables(data), store, recorded_visits)
    if as_of is None:
        as_of = str(tables.extracted_on.date())
    check_job(tables, as_of, window)  # cheap: refuse a wrong date before loading the model
    # A bare alias (champion) is the champion of this data's scope (its district, province or the nation).
    model_ref = resolve_model(model, model_name=model_name, tracking_uri=tracking_uri, scope=data_scope(tables))
    with progress_bar() as progress:
        result = run_scoring(
            tables, as_of, window, model_ref, store_url=store, out_dir=out, engine=engine,
            scheduler=scheduler, chunk_size=chunk_size or DEFAULT_CHUNK_SIZE, replace=replace,
            excel=excel, progress=progress, data_dir=data,
        )

    run = result.run
    table = Table(title=f"run {run.run_id}: as of {run.as_of.date()}, window {run.window_days} days, "
                        f"model {run.model_name} {run.model_version or ''} ({run.model_sha256[:12]}, "
                        f"target {run.target or '?'})")
    table.add_column("district")
    table.add_column("people scored", justify="right")
    table.add_column("in arrears", justify="right")
    table.add_column("high risk", justify="right")
    table.add_column("expected lapses", justify="right")
    for row in result.by_district.itertuples(index=False):
        table.add_row(str(row.district), f"{row.people:,}", f"{row.in_arrears:,}", f"{row.high_risk:,}",
                      f"{row.expected_lapses:,.1f}")
    s = result.by_district
    table.add_row("[bold]total", f"[bold]{s.people.sum():,}", f"[bold]{s.in_arrears.sum():,}",
                  f"[bold]{s.high_risk.sum():,}", f"[bold]{s.expected_lapses.sum():,.1f}")
    console.print(table)
    console.print(population_line(run), highlight=False, soft_wrap=True)
    if result.chunks_resumed:
        console.print(f"resumed: {result.chunks_resumed} of {result.chunks_total} chunks were already in the store")
    from dropout.store import shown_url

    console.print(f"store: {shown_url(store)} (run {run.run_id}, status {run.status})")
    for name, path in result.files.items():
        console.print(f"{name}: {path}")
    console.print(f"{run.n_scored:,} people scored in {result.seconds:.1f} s")


def population_line(run) -> str:
    """'population N (enrolled, not withdrawn): M scored; K left out: reason n, ...'."""
    import json

    left = json.loads(run.left_out) if run.left_out else {}
    n_left = sum(left.values())
    why = "; ".join(f"{reason}: {n:,}" for reason, n in left.items())
    return (f"population {run.n_population:,} (enrolled, not withdrawn, in arrears included): "
            f"{run.n_scored:,} scored, {n_left:,} left out" + (f" ({why})" if why else ""))


def with_store_visits(tables, store: str | None, use: bool | None):
    """The tables with the store's recorded visits merged (`dropout.recorded_visits`)."""
    from dropout.recorded_visits import merge_store_visits

    merged = merge_store_visits(tables, store, use)
    if merged is None:
        return tables
    console.print(merged.summary(), markup=False, highlight=False)
    return merged.tables


def register(app: typer.Typer) -> None:
    app.command("score")(guarded(score))
