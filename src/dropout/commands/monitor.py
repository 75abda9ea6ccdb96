"""`dropout monitor --data DIR --store URL`: were the stored scores right, and are the newest safe?

Joins the outcomes of a newer export to every scoring run of the store (idempotent,
only installments whose deadline has passed), estimates each run's performance from its
calibrated risks before outcomes arrive, measures drift against the training reference
kept with the model, raises the alerts of models/monitor.yaml, writes the HTML report
and logs it to MLflow with the model's version.
"""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.commands._options import MODEL_NAME, TRACKING_URI
from dropout.progress import console


def monitor(
    data: Path = typer.Option(..., "--data", help="Folder of the newest export (validated like any data folder)."),
    store: str = typer.Option(None, "--store", help="Score store URL (default sqlite:///out/scores.db)."),
    model: str = typer.Option("champion", "--model", help="The model whose runs get drift: a model folder or a "
                              "registry alias (default: the champion of the data's scope)."),
    model_name: str = MODEL_NAME,
    tracking_uri: str = TRACKING_URI,
    out: Path = typer.Option(Path("out/monitor"), "--out", help="Folder of the report (report.html)."),
    mlflow: bool = typer.Option(True, "--mlflow/--no-mlflow", help="Log the report to MLflow."),
    recompute: bool = typer.Option(False, "--recompute", help="Recompute drift and estimates of runs done before."),
) -> None:
    """Backfill outcomes, estimate performance before they arrive, measure drift, raise alerts."""
    from rich.table import Table

    from dropout.io import load_tables
    from dropout.monitor.report import render_monitor_report, write_monitor_report
    from dropout.monitor.run import monitor_store
    from dropout.registry.resolve import ModelNotFoundError, resolve_model
    from dropout.registry.scope import data_scope
    from dropout.store import DEFAULT_STORE_URL, shown_url
    from dropout.store.monitoring import read_results

    url = store or DEFAULT_STORE_URL
    tables = load_tables(data)
    references, model_ref = {}, None
    try:
        model_ref = resolve_model(model, model_name=model_name, tracking_uri=tracking_uri, scope=data_scope(tables))
    except ModelNotFoundError as err:
        if model != "champion":
            raise
        console.print(f"no model to compare with ({err}); drift is not measured", highlight=False, soft_wrap=True)
    if model_ref is not None and getattr(model_ref.model, "reference_", None):
        references[model_ref.sha256] = model_ref.model.reference_
    elif model_ref is not None:
        console.print(f"model {model_ref.source} has no training reference (trained before monitoring): "
                      "drift is not measured; retrain to keep one", highlight=False, soft_wrap=True)
    found = monitor_store(url, tables, references=references, recompute=recompute)
    if not found:
        console.print(f"the store {shown_url(url)} has no finished scoring run up to {tables.extracted_on.date()}: "
                      "nothing to monitor (run dropout score first)")
        raise typer.Exit(0)

    table = Table(title=f"monitoring with the export of {tables.extracted_on.date()} ({shown_url(url)})")
    for col in ("as-of", "scored", "outcomes", "est. AUC (90 %)", "realised AUC", "est. lapses (90 %)",
                "realised lapses", "prediction PSI", "status"):
        table.add_column(col, justify="left" if col in ("as-of", "status") else "right")
    for r in found:
        est, real = r.payload["estimated"]["overall"], r.payload.get("realised") or {}
        psi = ((r.payload.get("drift") or {}).get("prediction") or {}).get("psi")
        table.add_row(
            str(r.as_of.date()), f"{r.n_scored:,}", f"{r.n_outcomes:,}",
            f"{est['auc']['value']:.3f} ({est['auc']['low']:.3f}-{est['auc']['high']:.3f})",
            f"{real['auc']:.3f}" if real.get("auc") == real.get("auc") and real.get("auc") is not None else "-",
            f"{est['lapses']['value']:.0f} ({est['lapses']['low']:.0f}-{est['lapses']['high']:.0f})",
            f"{real['lapses']:.0f}" if real else "-", f"{psi:.3f}" if psi is not None else "-",
            "[red]ALERT[/red]" if r.alerts else "ok")
    console.print(table)
    for r in found:
        for a in r.alerts:
            console.print(f"ALERT run {r.run_id} (as of {r.as_of.date()}): {a['message_en']} {a['action_en']}",
                          highlight=False, soft_wrap=True)
    added = sum(r.outcomes_added for r in found)
    console.print(f"{added:,} outcomes joined from this export; {sum(r.n_outcomes for r in found):,} known in all")

    results = read_results(url)
    name = model_ref.name if model_ref else None
    version = model_ref.version if model_ref else None
    html = render_monitor_report(results, title="dropout — giám sát mô hình / model monitoring",
                                 model=f"{name or '?'} {version or ''}")
    report = write_monitor_report(Path(out) / "report.html", html)
    console.print(f"report: {report}")
    if mlflow:
        from dropout.monitor.tracking import log_monitoring

        run_id = log_monitoring(tracking_uri, report, results, name, version, model_ref.sha256 if model_ref else None)
        console.print(f"MLflow: run {run_id} in experiment dropout-monitoring")


def register(app: typer.Typer) -> None:
    app.command("monitor")(guarded(monitor))
