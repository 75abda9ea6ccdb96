"""Where the registry lives: the MLflow tracking store (a local SQLite file by default).

Tracking defaults to `experiments/mlflow.db`, artifacts beside it in
`experiments/mlartifacts/`; any MLflow URI can replace it ($MLFLOW_TRACKING_URI or the
config's `tracking.uri`). `import mlflow` costs seconds: it happens inside the functions.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from dropout.errors import DropoutError


class RegistryError(DropoutError, RuntimeError):
    """A registry operation could not be done (unknown model, version or alias)."""


def default_tracking_uri() -> str:
    from dropout.paths import experiments_dir

    return f"sqlite:///{(experiments_dir() / 'mlflow.db').resolve()}"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """`uri` if given, else $MLFLOW_TRACKING_URI, else the local SQLite file."""
    return uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///"):])  # sqlite:///rel/path or sqlite:////abs/path


def artifact_root_for(uri: str) -> str | None:
    """For a SQLite store, `mlartifacts/` beside the database file; else the server's default."""
    db = _sqlite_path(uri)
    if db is None:
        return None
    return (db.resolve().parent / "mlartifacts").as_uri()


def client(uri: str | None = None):
    from mlflow.tracking import MlflowClient

    uri = resolve_tracking_uri(uri)
    db = _sqlite_path(uri)
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


#: MLflow 3's UI shows an experiment with this tag as model training (runs, metrics,
#: models), not as a GenAI app (traces, judges), which it otherwise may guess.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def ensure_experiment(c, name: str) -> str:
    """The experiment's id (created if missing), tagged as a model-training experiment."""
    exp = c.get_experiment_by_name(name)
    if exp is None:
        exp_id = c.create_experiment(name, artifact_location=artifact_root_for(c.tracking_uri),
                                     tags={EXPERIMENT_KIND[0]: EXPERIMENT_KIND[1]})
        return exp_id
    if exp.tags.get(EXPERIMENT_KIND[0]) != EXPERIMENT_KIND[1]:
        c.set_experiment_tag(exp.experiment_id, *EXPERIMENT_KIND)
    return exp.experiment_id


def ui_url(uri: str | None, experiment: str, host: str = "127.0.0.1", port: int = 5000) -> str:
    """The MLflow UI page of `experiment`'s training runs (tagged as model training on the way)."""
    c = client(uri)
    exp = c.get_experiment_by_name(experiment)
    if exp is None:
        known = ", ".join(sorted(e.name for e in c.search_experiments())) or "none"
        raise RegistryError(f"no experiment {experiment!r} in {resolve_tracking_uri(uri)} (experiments: {known}); "
                            "train one first (`dropout train --config ...`)")
    ensure_experiment(c, experiment)
    return f"http://{host}:{port}/#/experiments/{exp.experiment_id}/runs"


@contextmanager
def mlflow_uris(uri: str):
    """Point MLflow's process-wide tracking and registry URIs at `uri`, then restore them.

    MLflow 3 resolves `models:/NAME@alias` through the global registry URI even when
    download_artifacts is given registry_uri, so a fresh process would look in
    ./mlflow.db (and create it) instead of the store asked for.
    """
    import mlflow

    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
