"""`dropout plan`: whom to visit, village by village and officer-day by officer-day, within capacity."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console

CAPACITY_HELP = (
    "Officer-hours for the plan period: a plain number for every district (\"30\"), or "
    "NAME=HOURS entries for districts or communes (\"A Luoi=30\", \"Hong Thai=6,Hong Kim=4\"); "
    "\"20, A Luoi=30\" mixes both. Prefix district:/commune: or write DISTRICT/COMMUNE when a "
    "name is ambiguous. A named commune has its own hours; a district's hours serve its other communes."
)


def plan(
    run: str = typer.Option(..., "--run", help="Scoring run id (see `dropout score`), or `latest`."),
    capacity: str = typer.Option(..., "--capacity", help=CAPACITY_HELP),
    data: Path = typer.Option(None, "--data", help="The data folder the run scored (default: the folder the "
                              "run recorded); its fingerprint must match the run's."),
    visit_minutes: int = typer.Option(None, "--visit-minutes", help="Minutes per home visit "
                                      "(default: models/plan.yaml, 45)."),
    weeks: float = typer.Option(1.0, "--weeks", help="Weeks the plan covers: capacity hours are per week."),
    store: str = typer.Option(None, "--store", help="Score store URL (default sqlite:///out/scores.db)."),
    out: Path = typer.Option(Path("out/plan"), "--out", help="Output folder; files go to OUT/<run id>/."),
    config_path: Path = typer.Option(None, "--config", help="Plan assumptions (default models/plan.yaml)."),
    by_effect: bool = typer.Option(False, "--by-effect", help="Plan with visit effects learned from the data "
                                   "folder's recorded visits (models/effects.yaml); the assumed ones where data "
                                   "are thin, and the plan says so."),
    explore: float = typer.Option(0.0, "--explore", help="Share of the hours (e.g. 0.1) for home visits to "
                                  "randomly chosen people, marked `explore`: visits that later estimates of "
                                  "the effects can trust (docs/effects.md)."),
    seed: int = typer.Option(0, "--seed", help="Random draw of --explore."),
) -> None:
    """Plan home visits and evening sessions that fit the officers' hours, by village and officer-day."""
    from dropout.plan import load_plan_config, parse_capacity, write_plan
    from dropout.plan.runs import plan_for_run

    from dropout.plan.explore import check_share

    cap = parse_capacity(capacity).scaled(weeks)  # refuse bad text before touching anything
    check_share(explore)
    config = load_plan_config(config_path).with_visit_minutes(visit_minutes)
    made = plan_for_run(run, cap, config, store_url=store, data=data, by_effect=by_effect, explore=explore,
                        seed=seed)
    files = write_plan(made.plan, out / made.run.run_id)
    _summary(made.plan, made.run, weeks, by_effect)
    for name, path in files.items():
        console.print(f"{name}: {path}")


def _summary(result, record, weeks: float, by_effect: bool = False) -> None:
    from rich.table import Table

    t = Table(title=f"visit plan for run {record.run_id} (as of {record.as_of.date()}, {weeks:g} week(s))")
    for col, just in (("pool", "left"), ("hours", "right"), ("used", "right"), ("days", "right"),
                      ("trips", "right"), ("sessions", "right"), ("visits", "right"),
                      ("listed", "right"), ("averted", "right"), ("/hour", "right"), ("of bound", "right")):
        t.add_column(col, justify=just)
    for p in result.pools.itertuples(index=False):
        share = p.expected_averted / p.lp_bound if p.lp_bound > 0 else 1.0
        t.add_row(str(p.pool), f"{p.capacity_hours:g}", f"{p.hours_used:.1f}", str(p.officer_days), str(p.trips),
                  str(p.sessions), str(p.home_visits), str(p.people_reached), f"{p.expected_averted:.2f}",
                  f"{p.averted_per_hour:.3f}", f"{share:.1%}")
    console.print(t)
    effects = ("the effects LEARNED from recorded visits (assumed ones where data are thin, see the notes)"
               if by_effect else "the ASSUMED effects of the plan config (not measured ones)")
    console.print("days: officer-days; visits: home visits; listed: scored people reached; averted: expected "
                  f"lapses averted under {effects}; of bound: "
                  "share of the most any plan could avert under the same assumptions")
    for note in result.notes:
        console.print(f"note: {note}")
    if result.trips.empty:
        console.print("[yellow]no trip fits the capacity: give more hours, or check the villages' travel times[/yellow]")
    if len(result.unreachable):
        console.print(f"{len(result.unreachable)} village(s) are too far for a trip within one officer-day "
                      "(see unreachable.csv)")


def register(app: typer.Typer) -> None:
    app.command("plan")(guarded(plan))
