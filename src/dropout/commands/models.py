"""`dropout models list|promote|history`: the registry by hand, scope by scope, audited."""

from __future__ import annotations

import typer

from dropout.commands._boundary import guarded
from dropout.commands._options import TRACKING_URI
from dropout.progress import console

models_app = typer.Typer(help="Registered models: versions by scope, audited promotion, history.",
                         no_args_is_help=True)


def list_models(
    name: str = typer.Option(None, "--name", help="Only this registered model."),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Every registered version: scope, aliases, target, data fingerprint, training period, gate metric."""
    from dropout.registry.promotion import list_versions
    from dropout.registry.tracking import resolve_tracking_uri

    df = list_versions(name, tracking_uri)
    if df.empty:
        console.print(f"no registered models in {resolve_tracking_uri(tracking_uri)}", soft_wrap=True)
        return
    console.print(f"registered models in {resolve_tracking_uri(tracking_uri)}:", soft_wrap=True)
    for r in df.itertuples(index=False):  # one line per version: greppable at any terminal width
        console.print(
            f"{r.name}  v{r.version}  scope={r.scope}  [bold]{r.aliases or '-'}[/bold]  target={r.target or '?'}  "
            f"data={r.data or '?'}  period={r.period or '?'}  {r.gate}  {r.created}  run={r.run_id[:8]}  "
            f"sha256={r.sha256}", soft_wrap=True, highlight=False)


def promote(
    name: str = typer.Argument(..., help="Registered model name, e.g. dropout-lapse."),
    version: int = typer.Argument(..., help="Version to make champion."),
    reason: str = typer.Option(..., "--reason", help="Why (kept in `dropout models history`)."),
    scope: str = typer.Option(None, "--scope", help="district:NAME, province:NAME or national "
                              "(default: the scope the version was trained for)."),
    force: bool = typer.Option(False, "--force", help="Allow promoting a version into another scope's champion."),
    by: str = typer.Option(None, "--by", help="Who promotes (default: $DROPOUT_USER, else the login name)."),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Make VERSION the champion of its scope, overriding the automatic gate; recorded with who, when and why."""
    from dropout.registry.promotion import promote as _promote

    record = _promote(name, version, reason, scope=scope, force=force, by=by, uri=tracking_uri)
    was = f" (was v{record['previous_version']})" if record["previous_version"] else ""
    console.print(f"{name} v{version} is now the champion of {record['scope']}{was}; recorded: "
                  f"{record['who']}, {record['when']}: {record['why']}", soft_wrap=True, highlight=False)


def history(
    name: str = typer.Argument(..., help="Registered model name."),
    tracking_uri: str = TRACKING_URI,
) -> None:
    """Every promotion by hand of NAME: when, who, why, scope, old and new champion with their metrics."""
    from rich.table import Table

    from dropout.registry.promotion import history as _history

    records = _history(name, tracking_uri)
    if not records:
        console.print(f"{name}: no promotion by hand recorded (the gate's decisions are in `dropout models list`)")
        return
    table = Table(title=f"{name}: promotions")
    for col in ("when", "who", "scope", "version", "was", "metrics new / old", "why"):
        table.add_column(col, overflow="fold")
    for r in records:
        metrics = "; ".join(f"{k} {v:.4f} / {r['metrics_old'].get(k, float('nan')):.4f}"
                            for k, v in r["metrics_new"].items())
        scope = r["scope"] + (" (forced)" if r.get("forced") else "")
        table.add_row(r["when"], r["who"], scope, r["version"], r["previous_version"] or "-", metrics, r["why"])
    console.print(table)


def register(app: typer.Typer) -> None:
    models_app.command("list")(guarded(list_models))
    models_app.command("promote")(guarded(promote))
    models_app.command("history")(guarded(history))
    app.add_typer(models_app, name="models")
