"""Options several commands share, defined once: the same flag, default and help in each."""

from __future__ import annotations

import typer

TRACKING_URI = typer.Option(None, "--tracking-uri", help="MLflow URI (default sqlite experiments/mlflow.db).")
MODEL_NAME = typer.Option("dropout-lapse", "--model-name", help="Registered model the alias belongs to.")
