"""`dropout train --config experiments/<name>.yaml`: backtest, fit, report, log, register."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console


def train(
    config: Path = typer.Option(..., "--config", "-c", help="Experiment config (experiments/<name>.yaml)."),
    target: str = typer.Option(None, "--target", help="Override the config's target: lapse or withdraw_12m."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow URI (default: the config's, "
                                     "else $MLFLOW_TRACKING_URI, else sqlite experiments/mlflow.db)."),
    out: Path = typer.Option(None, "--out", help="Folder for run folders (default: the config's output_dir)."),
    register: bool = typer.Option(True, "--register/--no-register", help="Register the model and apply the gate."),
    mlflow_log: bool = typer.Option(True, "--mlflow/--no-mlflow", help="Log the run to MLflow at all."),
    effects: bool = typer.Option(False, "--effects", help="Also learn the visit effects from the recorded visits "
                                 "(docs/effects.md): effects.json in the run folder, metrics in the MLflow run."),
) -> None:
    """Rolling-origin backtest with baselines, final calibrated LightGBM, HTML report, MLflow run."""
    from rich.table import Table

    from dropout.train.config import load_config
    from dropout.train.experiment import run_experiment

    cfg = load_config(config, target=target)
    tables = truth = None
    if effects:
        from dropout.train.experiment import load_source

        tables, truth = load_source(cfg)
    res = run_experiment(cfg, tracking_uri=tracking_uri, register=register, log_mlflow=mlflow_log, out_dir=out,
                         tables=tables, truth=truth)
    bt = res.backtest
    table = Table(title=f"{cfg.name} ({cfg.target}): pooled test blocks")
    for col in ("contender", "AUC", "PR-AUC", "Brier", "ECE", "precision@10%"):
        table.add_column(col, justify="right" if col != "contender" else "left")
    for c, row in bt.overall_metrics.iterrows():
        table.add_row(c, f"{row['auc']:.4f}", f"{row['pr_auc']:.4f}", f"{row['brier']:.4f}", f"{row['ece']:.4f}",
                      f"{row.get('precision_at_10pct', float('nan')):.4f}")
    console.print(table)
    ch = bt.checks
    console.print(f"beats every baseline in every fold: {'yes' if ch['beats_every_baseline_every_fold'] else 'NO'}")
    if "auc_fraction_of_oracle" in ch:
        console.print(f"AUC / oracle AUC: {ch['auc_fraction_of_oracle']:.3f} (target {ch['oracle_fraction_target']})")
    console.print(f"test ECE: {ch['test_ece']:.4f} (target {ch['ece_target']})")
    console.print(f"report: {res.report_path}")
    console.print(f"model folder: {res.run_dir / 'model'} (sha256 {res.model.sha256[:16]})")
    r = res.registration
    if r is not None:
        console.print(f"MLflow run {r.run_id}" + (f"; registered {r.model_name} v{r.version} as {r.alias}: {r.reason}" if r.version else ""))
    if effects:
        from dropout.train.effects import train_effects

        learned, path = train_effects(tables, res.run_dir, getattr(r, "run_id", None), tracking_uri)
        for kind, e in learned.kinds.items():
            what = (f"log-odds {e.coef[0]:+.2f} (se {e.cov[0, 0] ** 0.5:.2f}) at the average person" if e.learned
                    else e.note)
            console.print(f"visit effect, {kind.replace('_', ' ')}: {e.n_treated} recorded; {what}; naive "
                          f"difference in lapse rate {e.naive_difference:+.2f}")
        console.print(f"effects: {path}")


def register(app: typer.Typer) -> None:
    app.command("train")(guarded(train, writes_on_refusal=True))
