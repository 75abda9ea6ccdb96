"""`dropout demo`: the main job end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.pipeline import DEMO_CAPACITY, DEMO_CONFIG, DEMO_WINDOW
from dropout.progress import console, progress_bar


def demo(
    out: Path = typer.Option(Path("out/demo"), help="Folder for data, models, scores, plans, report."),
    preset: str = typer.Option("a-luoi", help="Simulator preset: a-luoi, huong-hoa, province, national."),
    participants: int = typer.Option(None, help="Override the preset's participant count."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same results."),
    config: Path = typer.Option(Path(DEMO_CONFIG), help="Experiment config (model, backtest, evaluation)."),
    window: str = typer.Option(DEMO_WINDOW, help="Score people due within this many days (e.g. 30d), or 'deadline': through the next deadline at least 2 weeks away."),
    capacity: str = typer.Option(DEMO_CAPACITY, help="Officer-hours for the week (see `dropout plan --help`)."),
) -> None:
    """Simulate a district, validate it, train, score, plan visits and write the report."""
    from rich.table import Table

    from dropout.pipeline import run_demo  # noqa: F811 (the heavy part of the module, loaded here)

    with progress_bar() as progress:
        result = run_demo(out, preset=preset, participants=participants, seed=seed, progress=progress,
                          config=config, window=window, capacity=capacity)
    n = result.numbers
    counts = Table(title=f"demo: {preset}, seed {seed} (data validated OK)")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, rows in result.counts.items():
        counts.add_row(name, f"{rows:,}")
    console.print(counts)

    test = n["backtest"]["test"]
    quality = Table(title="backtest, pooled test periods")
    for col in ("contender", "AUC", "PR-AUC", "Brier", "ECE"):
        quality.add_column(col, justify="left" if col == "contender" else "right")
    for name, m in test.items():
        quality.add_row(name, f"{m['auc']:.3f}", f"{m['pr_auc']:.3f}", f"{m['brier']:.4f}", f"{m['ece']:.4f}")
    console.print(quality)
    p = n["plan"]
    console.print(
        f"model {n['model']['name']} v{n['model']['version']} ({n['model']['alias']}); as of {n['as_of']}: "
        f"{n['scored']:,} people due within {n['window']}, {n['high_risk']:,} at high risk, "
        f"{n['expected_lapses']:.1f} lapses expected", soft_wrap=True, highlight=False)
    console.print(
        f"visit plan for {n['capacity_hours']} officer-hours: {p['trips']} trips, {p['home_visits']} home visits, "
        f"{p['sessions']} evening sessions, {p['hours_used']:.1f} h used, "
        f"{p['expected_averted']:.2f} lapses averted (assumed visit effects)", soft_wrap=True, highlight=False)
    for name, path in result.outputs.items():
        console.print(f"{name}: {path}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(guarded(demo, writes_on_refusal=True))
