"""`dropout whatif`: what a changed subsidy table would do to lapses, and what it would cost."""

from __future__ import annotations

from pathlib import Path

import typer

from dropout.commands._boundary import guarded
from dropout.commands._options import MODEL_NAME, TRACKING_URI
from dropout.progress import console


def whatif(
    data: Path = typer.Option(..., "--data", help="Folder of raw tables (Parquet, CSV or Excel)."),
    policy: list[Path] = typer.Option(..., "--policy", help="Policy file (CSV: policy, province, group, "
                                      "valid_from, valid_to, rate); repeat or name several policies in one file "
                                      "to compare them side by side."),
    as_of: str = typer.Option(..., "--as-of", help="Day the scores are made (YYYY-MM-DD), not after the extraction."),
    horizon: str = typer.Option("12m", "--horizon", help="Horizon: people whose next installment falls due "
                                "within it (e.g. 12m, 26w, 90d)."),
    model: str = typer.Option("champion", "--model", help="A model folder, or a registry alias (champion of the "
                              "data's scope, NAME@alias)."),
    model_name: str = MODEL_NAME,
    tracking_uri: str = TRACKING_URI,
    out: Path = typer.Option(Path("out/whatif"), "--out", help="Output folder; files go to OUT/<as-of>-<stamp>/."),
) -> None:
    """Re-score everyone due within the horizon under each policy: lapses, people kept, budget cost."""
    import time

    import pandas as pd
    from rich.table import Table

    from dropout.io import load_tables
    from dropout.registry.resolve import resolve_model
    from dropout.registry.scope import data_scope
    from dropout.whatif import known_provinces, parse_horizon, read_policy_file, run_whatif
    from dropout.whatif.policy import PolicyError
    from dropout.whatif.report import provenance_of, write_outputs
    from dropout.reference import subsidy_policies

    parse_horizon(horizon)  # refuse a wrong horizon before reading anything
    tables = load_tables(data)
    provinces = known_provinces(tables, subsidy_policies())
    policies = [p for path in policy for p in read_policy_file(path, provinces)]
    names = [p.name for p in policies]
    if len(set(names)) != len(names):
        raise PolicyError(f"policy names repeat across the files: {names}; give each policy its own name")
    started = time.perf_counter()
    model_ref = resolve_model(model, model_name=model_name, tracking_uri=tracking_uri, scope=data_scope(tables))
    meta = model_ref.model.metadata or {}
    result = run_whatif(tables, model_ref.model, policies, as_of, horizon)
    if meta.get("horizon_days") and abs(int(meta["horizon_days"]) - result.horizon_days) > 31:
        result.notes.append(f"the model was trained for a {meta['horizon_days']}-day horizon, not "
                            f"{result.horizon_days} days: its probabilities answer its own horizon")
    stamp = pd.Timestamp.now(tz="UTC").strftime("%Y%m%dT%H%M%S")
    folder = out / f"{result.as_of.date()}-{stamp}"
    files = write_outputs(result, folder, provenance_of(result, policy, model_ref, data))

    table = Table(title=f"what-if as of {result.as_of.date()}, {result.horizon_months} months; model "
                        f"{model_ref.name} {model_ref.version or ''} ({model_ref.sha256[:12]})")
    for col in ("policy", "people", "support changed", "expected lapses", "change", "kept", "months kept",
                "cost VND/year", "cost per kept"):
        table.add_column(col, justify="left" if col == "policy" else "right")
    for r in result.summary.itertuples(index=False):
        per = "–" if pd.isna(r.cost_per_kept_vnd) else f"{r.cost_per_kept_vnd:,.0f}"
        table.add_row(str(r.policy), f"{r.people:,}", f"{r.people_support_changed:,}", f"{r.expected_lapses:,.1f}",
                      f"{r.lapses_change:+,.1f}", f"{r.contributors_kept:,.1f}", f"{r.contribution_months_kept:,.0f}",
                      f"{r.budget_cost_vnd_year:,.0f}", per)
    console.print(table)
    mono = result.monotone
    console.print("monotone in net cost: " + ("yes" if mono["monotone"] else
                                              f"NO (unconstrained: {', '.join(mono['unconstrained'])})"))
    oor = result.out_of_range
    now = oor[oor["policy"] == "current"].set_index("feature")["people_outside"]
    for r in oor[oor["policy"] != "current"].itertuples(index=False):
        if r.people_outside > now.get(r.feature, 0):
            console.print(f"outside the training range: {r.policy} / {r.feature}: {r.people_outside:,} people "
                          f"(now {now.get(r.feature, 0):,})", highlight=False)
    for note in result.notes:
        console.print(f"note: {note}", highlight=False)
    for name, path in files.items():
        console.print(f"{name}: {path}", highlight=False)
    console.print(f"done in {time.perf_counter() - started:.1f} s")


def register(app: typer.Typer) -> None:
    app.command("whatif")(guarded(whatif))
