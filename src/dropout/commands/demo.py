"""`dropout demo`: the main job end to end on embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from dropout.pipeline import run_demo
from dropout.progress import console, progress_bar


def demo(
    out: Path = typer.Option(Path("out/demo"), help="Folder for data, models, scores, plans, report."),
    preset: str = typer.Option("a-luoi", help="Simulator preset: a-luoi, huong-hoa, province, national."),
    participants: int = typer.Option(None, help="Override the preset's participant count."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives the same results."),
) -> None:
    """Simulate a district, validate it, train, score, plan visits and write the report."""
    with progress_bar() as progress:
        result = run_demo(out, preset=preset, participants=participants, seed=seed, progress=progress)
    summary = Table(title=f"demo: {preset}, seed {seed}")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for name, n in result.counts.items():
        summary.add_row(name, f"{n:,}")
    console.print(summary)
    console.print(f"data validated OK: {result.data_dir}")
    for name, path in result.outputs.items():
        console.print(f"{name}: {path}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
