"""`dropout simulate`: write a simulated data folder (eight tables + manifest + truth/)."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console, progress_bar


def simulate(
    preset: str = typer.Option("a-luoi", help="Preset: a-luoi, huong-hoa, province, national (or a YAML path)."),
    participants: int = typer.Option(None, help="People in the participants table (default: the preset's)."),
    start: str = typer.Option("2021-01", help="First simulated month (YYYY-MM)."),
    end: str = typer.Option("2026-06", help="Last simulated month; the data is extracted on its last day."),
    seed: int = typer.Option(0, help="Random seed: the same seed gives identical tables."),
    out: Path = typer.Option(Path("out/simulated"), help="Folder to write the tables and truth/ into."),
    scenario: List[str] = typer.Option(
        [], "--scenario", help="A robustness scenario on top of the preset (repeatable): migration, price-slump, "
        "collection-agent, rumour, mode-switch, topup-ends, visit-response, ledger-only, or a scenario YAML path.",
    ),
) -> None:
    """Simulate a population of voluntary social insurance with an oracle of every lapse."""
    from rich.table import Table

    from dropout.simulate import simulate as run_simulation
    from dropout.simulate import summarize, write_simulation

    with progress_bar() as bar:
        result = run_simulation(preset, participants=participants, start=start, end=end, seed=seed,
                                progress=bar, scenarios=scenario)
        write_task = bar.add_task("write Parquet", total=1)
        write_simulation(result, out)
        bar.update(write_task, completed=1)

    summary = summarize(result.tables, result.truth)
    worlds = "".join(f" + {s.mechanism}" for s in result.scenarios)
    rows = Table(title=f"{result.config.name}{worlds}: {result.start} to {result.end}, seed {seed}")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, n in summary["rows"].items():
        rows.add_row(name, f"{n:,}")
    console.print(rows)
    lapse = Table(title="yearly lapse by year of membership")
    for col in ("tenure", "person-years", "lapse rate", "at minimum base"):
        lapse.add_column(col, justify="right")
    for r in summary["yearly_lapse_by_tenure"].itertuples():
        lapse.add_row(r.tenure, f"{r.person_years:,}", f"{r.lapse_rate:.1%}", f"{r.lapse_rate_min_base:.1%}")
    console.print(lapse)
    console.print(
        f"extracted on {summary['extracted_on']}: {summary['paying_at_extraction']:,} paying, "
        f"{summary['withdrawals']:,} lump-sum withdrawals; written to {out} (truth/ beside the tables)"
    )


def register(app: typer.Typer) -> None:
    app.command("simulate")(guarded(simulate))
