"""`dropout runs compare RUN_A RUN_B`: two training runs side by side, in the terminal and as a page."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console

runs_app = typer.Typer(help="Training runs: compare two side by side.", no_args_is_help=True)


def _fetch(run: str, tracking_uri: str | None, into: Path) -> Path:
    """A run folder as given, or an MLflow run id whose `run/` artifacts are downloaded."""
    from dropout.errors import InputError

    p = Path(run)
    if p.is_dir():
        return p
    if "/" in run or p.suffix:
        raise InputError(f"{run}: no such run folder")
    from dropout.registry.tracking import mlflow_uris, resolve_tracking_uri

    uri = resolve_tracking_uri(tracking_uri)
    import mlflow

    try:
        with mlflow_uris(uri):
            local = mlflow.artifacts.download_artifacts(run_id=run, artifact_path="run", dst_path=str(into / run),
                                                        tracking_uri=uri)
    except Exception as err:  # MLflow raises several types for an unknown run
        raise InputError(f"{run}: neither a run folder nor an MLflow run with artifacts in {uri} "
                         f"({type(err).__name__})") from None
    return Path(local)


def compare(
    run_a: str = typer.Argument(..., help="A run folder (runs/<name>/<target>/<stamp>) or an MLflow run id."),
    run_b: str = typer.Argument(..., help="The other run."),
    out: Path = typer.Option(None, "--out", help="The HTML page (default out/compare/<a>-vs-<b>.html)."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow URI for run ids."),
) -> None:
    """Metrics, parameters, features, data and calibration of two runs side by side, and a page with plots."""
    import tempfile

    from rich.table import Table

    from dropout.evaluate.compare import compare_runs, read_run, render_comparison
    from dropout.io import write_text

    with tempfile.TemporaryDirectory(prefix="dropout-compare-") as tmp:
        a = read_run(_fetch(run_a, tracking_uri, Path(tmp)), label=f"A {Path(run_a).name}")
        b = read_run(_fetch(run_b, tracking_uri, Path(tmp)), label=f"B {Path(run_b).name}")
        tables = compare_runs(a, b)
        page = render_comparison(a, b, tables)
    for name, df in tables.items():
        t = Table(title=name)
        if df.empty:
            console.print(f"{name}: no difference")
            continue
        for col in df.columns:
            t.add_column(str(col), overflow="fold")
        for row in df.itertuples(index=False):
            t.add_row(*(f"{v:.4f}" if isinstance(v, float) else str(v) for v in row))
        console.print(t)
    target = out or Path("out/compare") / f"{Path(run_a).name}-vs-{Path(run_b).name}.html"
    write_text(page, target)
    console.print(f"page: {target}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    runs_app.command("compare")(guarded(compare))
    app.add_typer(runs_app, name="runs")
