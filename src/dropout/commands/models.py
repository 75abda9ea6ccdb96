"""`dropout models list` and `dropout models promote NAME VERSION`: the registry by hand."""

from __future__ import annotations

import typer

from dropout.commands._boundary import guarded
from dropout.progress import console

models_app = typer.Typer(help="Registered models: list versions and aliases, promote by hand.", no_args_is_help=True)


def list_models(
    name: str = typer.Option(None, "--name", help="Only this registered model."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow URI (default sqlite experiments/mlflow.db)."),
) -> None:
    """Every registered model version with its aliases (champion, challenger) and gate metric."""
    from dropout.registry.tracking import resolve_tracking_uri
    from dropout.registry.versions import list_versions

    df = list_versions(name, tracking_uri)
    if df.empty:
        console.print(f"no registered models in {resolve_tracking_uri(tracking_uri)}")
        return
    console.print(f"registered models in {resolve_tracking_uri(tracking_uri)}:", soft_wrap=True)
    for r in df.itertuples(index=False):
        console.print(
            f"{r.name}  v{r.version}  [bold]{r.aliases or '-'}[/bold]  target={r.target or '?'}  {r.gate}  "
            f"{r.created}  run={r.run_id[:8]}  sha256={r.sha256}", soft_wrap=True, highlight=False,
        )


def promote(
    name: str = typer.Argument(..., help="Registered model name, e.g. dropout-lapse."),
    version: int = typer.Argument(..., help="Version to make champion."),
    tracking_uri: str = typer.Option(None, "--tracking-uri", help="MLflow URI (default sqlite experiments/mlflow.db)."),
) -> None:
    """Make VERSION the champion of NAME, overriding the automatic gate."""
    from dropout.registry.versions import promote as _promote

    prev = _promote(name, version, tracking_uri)
    console.print(f"{name} v{version} is now champion" + (f" (was v{prev})" if prev else ""))


def register(app: typer.Typer) -> None:
    models_app.command("list")(guarded(list_models))
    models_app.command("promote")(guarded(promote))
    app.add_typer(models_app, name="models")
