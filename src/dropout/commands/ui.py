"""`dropout ui`: the MLflow UI on the project's tracking store, opened on a training experiment."""

from __future__ import annotations

import os
import sys

import typer

from dropout.commands._boundary import guarded
from dropout.commands._options import TRACKING_URI
from dropout.progress import console


def ui(
    experiment: str = typer.Option("dropout-a-luoi", "--experiment", help="The experiment to open "
                                   "(the `tracking.experiment` of a config in experiments/)."),
    tracking_uri: str = TRACKING_URI,
    port: int = typer.Option(5000, min=1, max=65535, help="Port of the UI (on 127.0.0.1)."),
) -> None:
    """Start the MLflow UI on the project's store and print the page of the experiment's training runs."""
    from dropout.registry.tracking import artifact_root_for, resolve_tracking_uri, ui_url

    uri = resolve_tracking_uri(tracking_uri)
    url = ui_url(uri, experiment, port=port)
    console.print(f"MLflow UI of {uri}\nopen {url}  (the {experiment} experiment's training runs; Ctrl-C stops it)",
                  soft_wrap=True, highlight=False)
    argv = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", "127.0.0.1",
            "--port", str(port)]
    root = artifact_root_for(uri)
    if root:
        argv += ["--default-artifact-root", root]
    sys.stdout.flush()
    os.execv(sys.executable, argv)


def register(app: typer.Typer) -> None:
    app.command("ui")(guarded(ui))
