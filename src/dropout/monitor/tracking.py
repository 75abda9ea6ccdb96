"""The monitoring report in MLflow, beside the model version it monitors.

One MLflow run per `dropout monitor` in the experiment `dropout-monitoring`, tagged with
the model's registered name, version and sha256, holding the HTML report and the
latest run's numbers as metrics; the registered version gets a `monitoring_status` tag
(ok / alert, with the as-of) that `dropout models list` and the MLflow UI show.
"""

from __future__ import annotations

from pathlib import Path

EXPERIMENT = "dropout-monitoring"


def log_monitoring(uri: str | None, report: Path, results: list[dict], model_name: str | None,
                   model_version: str | None, model_sha256: str | None) -> str:
    """Log the report and the latest numbers; returns the MLflow run id."""
    import mlflow

    from dropout.registry.tracking import client, ensure_experiment, resolve_tracking_uri

    uri = resolve_tracking_uri(uri)
    c = client(uri)
    exp_id = ensure_experiment(c, EXPERIMENT)
    latest = results[-1] if results else None
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(experiment_id=exp_id, run_name=f"monitor-{latest['as_of'] if latest else 'empty'}") as run:
        mlflow.set_tags({"model_name": str(model_name), "model_version": str(model_version),
                         "model_sha256": str(model_sha256), "status": latest["status"] if latest else "none",
                         "runs_monitored": str(len(results))})
        if latest is not None:
            est = latest["payload"]["estimated"]["overall"]
            metrics = {"estimated_auc": est["auc"]["value"], "estimated_lapses": est["lapses"]["value"],
                       "alerts": float(len(latest["alerts"]))}
            real = latest["payload"].get("realised") or {}
            metrics.update({f"realised_{k}": real[k] for k in ("auc", "lapses", "brier", "ece")
                            if isinstance(real.get(k), float) and real[k] == real[k]})
            mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(report), artifact_path="monitoring")
    if model_name and model_version and latest is not None:
        try:
            c.set_model_version_tag(model_name, str(model_version), "monitoring_status",
                                    f"{latest['status']} (as of {latest['as_of']})")
        except Exception:  # a model given as a folder, not registered here: the run is enough
            pass
    return run.info.run_id
