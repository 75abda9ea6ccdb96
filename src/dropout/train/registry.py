"""MLflow tracking and model registry: log a run, register its model, gate the alias.

Tracking defaults to a local SQLite file (`experiments/mlflow.db`, artifacts beside it in
`experiments/mlartifacts/`); any MLflow URI can replace it. The registered model is
the LightGBM Booster logged with `mlflow.lightgbm.log_model`: MLflow writes a Booster
with `Booster.save_model`, i.e. LightGBM's text format (`model.lgb`), never pickle. The
calibration, feature list and metadata JSON ride along as `extra_files`, so
`load_model` rebuilds the exact DropoutModel. (MLflow's generic pyfunc flavour of that
artifact returns the *uncalibrated* booster probability; use `load_model` here.)

Promotion gate: a new version gets the alias `champion` only if it beats the current
champion on the same backtest (same test rows and labels) by the gate metric; otherwise
it gets `challenger`. `promote` is the human override.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dropout.train.model import MLFLOW_MODEL_FILE, MODEL_FILE, DropoutModel

CHAMPION = "champion"
CHALLENGER = "challenger"
LOWER_IS_BETTER = {"brier", "ece"}
PREDICTIONS_MAX_BYTES = 50 * 1024 * 1024  # larger prediction files stay in the run folder only


class RegistryError(RuntimeError):
    """A registry operation could not be done (unknown model, version or alias)."""


# ---------------------------------------------------------------- where


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


def ensure_experiment(c, name: str) -> str:
    exp = c.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return c.create_experiment(name, artifact_location=artifact_root_for(c.tracking_uri))


# ---------------------------------------------------------------- gate


def better(candidate: float, champion: float, metric: str, min_improvement: float = 0.0) -> bool:
    """True if `candidate` beats `champion` on `metric` by more than `min_improvement`."""
    if candidate is None or math.isnan(candidate):
        return False
    if champion is None or math.isnan(champion):
        return True
    if metric in LOWER_IS_BETTER:
        return candidate < champion - min_improvement
    return candidate > champion + min_improvement


def decide_alias(candidate: float, champion: float | None, metric: str, min_improvement: float = 0.0) -> tuple[str, str]:
    """(alias, reason) for a new version given its and the champion's gate metric."""
    if champion is None:
        return CHAMPION, "no champion yet"
    if better(candidate, champion, metric, min_improvement):
        return CHAMPION, f"{metric} {candidate:.4f} beats the champion's {champion:.4f} on the same backtest"
    return CHALLENGER, f"{metric} {candidate:.4f} does not beat the champion's {champion:.4f} on the same backtest"


@dataclass
class ChampionInfo:
    version: str
    run_id: str
    tags: dict

    @property
    def backtest_fingerprint(self) -> str | None:
        return self.tags.get("backtest_fingerprint")

    def gate_value(self, metric: str) -> float | None:
        v = self.tags.get(f"gate.{metric}")
        return float(v) if v is not None else None


def current_champion(name: str, uri: str | None = None) -> ChampionInfo | None:
    """The version holding the `champion` alias, or None (also when the model is unknown)."""
    from mlflow.exceptions import MlflowException

    c = client(uri)
    try:
        mv = c.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    return ChampionInfo(str(mv.version), mv.run_id, dict(mv.tags))


# ---------------------------------------------------------------- logging


def _clean(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", name)


def _flatten(d: dict, prefix: str = "") -> dict[str, str]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = str(v)[:5000]
    return out


def result_metrics(result) -> dict[str, float]:
    """Backtest metrics named for MLflow: fold<i>/<contender>/<metric>, test/..., group/..., check/..."""
    out = {}
    for (fold, contender), row in result.fold_metrics.iterrows():
        for k, v in row.items():
            out[f"fold{fold}/{contender}/{k}"] = v
    for contender, row in result.overall_metrics.iterrows():
        for k, v in row.items():
            out[f"test/{contender}/{k}"] = v
    for col, frame in result.group_metrics.items():
        for group, row in frame.iterrows():
            for k in ("auc", "pr_auc", "ece", "precision", "recall", "base_rate", "mean_pred"):
                out[f"group/{col}/{group}/{k}"] = row[k]
    for k, v in result.checks.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"check/{k}"] = v
        elif isinstance(v, bool):
            out[f"check/{k}"] = float(v)
    for c in result.contenders:
        for m in ("auc", "pr_auc", "brier"):
            out[f"mean_fold/{c}/{m}"] = result.mean_fold_metric(c, m)
    return {_clean(k): float(v) for k, v in out.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}


@dataclass
class Registration:
    run_id: str
    experiment_id: str
    model_name: str | None
    version: str | None
    alias: str | None
    reason: str
    model_uri: str | None


def log_training_run(
    *,
    uri: str | None,
    experiment: str,
    run_name: str,
    config: dict,
    model: DropoutModel,
    result,
    artifacts_dir: Path,
    register_as: str | None,
    gate_metric: str = "pr_auc",
    champion_value: float | None = None,
    has_champion: bool = False,
    min_improvement: float = 0.0,
    tags: dict | None = None,
) -> Registration:
    """Log config, params, metrics, artifacts and the model; register it and set its alias.

    Args:
        artifacts_dir: the run folder (report.html, metrics, the model folder) to log as is.
        register_as: registered model name, or None to log without registering.
        champion_value: the champion's gate metric *on this backtest* (None if no champion
            or not comparable; then `has_champion` says which).
    """
    import lightgbm as lgb
    import mlflow
    from mlflow.models import infer_signature

    uri = resolve_tracking_uri(uri)
    c = client(uri)
    exp_id = ensure_experiment(c, experiment)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    candidate_value = result.mean_fold_metric("model", gate_metric)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.set_tags({**(tags or {}), "backtest_fingerprint": result.fingerprint, "model_sha256": model.sha256})
        params = _flatten(config)
        params.update({f"lgb.{k}": str(v) for k, v in model.params.items()})
        params["best_iteration"] = str(model.best_iteration_)
        mlflow.log_params(params)
        mlflow.log_metrics(result_metrics(result))
        for f in sorted(Path(artifacts_dir).rglob("*")):
            if f.is_file() and not (f.suffix == ".parquet" and f.stat().st_size > PREDICTIONS_MAX_BYTES):
                rel = f.parent.relative_to(artifacts_dir).as_posix()
                mlflow.log_artifact(str(f), artifact_path="run" if rel == "." else f"run/{rel}")
        model_dir = artifacts_dir / "model"
        X_sig = pd.DataFrame({f: pd.Series([0.0], dtype="float64") for f in model.feature_names})
        signature = infer_signature(X_sig, model.predict_raw(X_sig))
        info = mlflow.lightgbm.log_model(
            model.booster_,
            name="model",
            signature=signature,
            pip_requirements=[f"lightgbm=={lgb.__version__}"],
            extra_files=[str(model_dir / n) for n in ("calibration.json", "features.json", "metadata.json")],
            metadata={"model_sha256": model.sha256, "calibration": model.calibration, "format": "lightgbm-text+json"},
        )
        version = alias = None
        reason = "not registered"
        if register_as:
            mv = mlflow.register_model(info.model_uri, register_as, tags={
                "target": str(model.metadata.get("target")),
                "backtest_fingerprint": result.fingerprint,
                "data_fingerprint": str(model.metadata.get("data_fingerprint")),
                "model_sha256": model.sha256,
                f"gate.{gate_metric}": repr(candidate_value),
                "run_name": run_name,
            })
            version = str(mv.version)
            if has_champion and champion_value is None:
                alias, reason = CHALLENGER, "the champion could not be compared on this backtest"
            else:
                alias, reason = decide_alias(candidate_value, champion_value if has_champion else None, gate_metric, min_improvement)
            c.set_registered_model_alias(register_as, alias, version)
            c.set_model_version_tag(register_as, version, "gate_decision", f"{alias}: {reason}")
            mlflow.set_tags({"registered_model": register_as, "registered_version": version, "alias": alias, "gate_reason": reason})
        return Registration(run.info.run_id, exp_id, register_as, version, alias, reason, info.model_uri)


# ---------------------------------------------------------------- human side


def promote(name: str, version: str | int, uri: str | None = None) -> str:
    """Give `version` the champion alias (human override); returns the previous champion's version."""
    from mlflow.exceptions import MlflowException

    c = client(uri)
    try:
        c.get_model_version(name, str(version))
    except MlflowException:
        raise RegistryError(f"model {name!r} has no version {version} in {c.tracking_uri}") from None
    prev = current_champion(name, uri)
    c.set_registered_model_alias(name, CHAMPION, str(version))
    c.set_model_version_tag(name, str(version), "gate_decision", f"{CHAMPION}: promoted by hand")
    return prev.version if prev else ""


def list_versions(name: str | None = None, uri: str | None = None) -> pd.DataFrame:
    """One row per registered model version: name, version, aliases, target, gate metric, run."""
    c = client(uri)
    filt = f"name = '{name}'" if name else ""
    aliases: dict[tuple[str, str], list[str]] = {}
    for rm in c.search_registered_models(filt):
        for alias, v in (rm.aliases or {}).items():
            aliases.setdefault((rm.name, str(v)), []).append(alias)
    rows = []
    for mv in c.search_model_versions(filt):
        gate = {k: v for k, v in mv.tags.items() if k.startswith("gate.")}
        rows.append({
            "name": mv.name,
            "version": int(mv.version),
            "aliases": ",".join(sorted(aliases.get((mv.name, str(mv.version)), []))),
            "target": mv.tags.get("target", ""),
            "gate": ", ".join(f"{k[5:]}={float(v):.4f}" for k, v in gate.items()),
            "created": pd.Timestamp(mv.creation_timestamp, unit="ms").strftime("%Y-%m-%d %H:%M"),
            "run_id": mv.run_id,
            "sha256": mv.tags.get("model_sha256", "")[:12],
        })
    df = pd.DataFrame(rows, columns=["name", "version", "aliases", "target", "gate", "created", "run_id", "sha256"])
    return df.sort_values(["name", "version"]).reset_index(drop=True)


def model_uri(name_or_uri: str, alias: str = CHAMPION) -> str:
    if "://" in name_or_uri or name_or_uri.startswith(("models:/", "runs:/")):
        return name_or_uri
    return f"models:/{name_or_uri}@{alias}"


@contextmanager
def _mlflow_uris(uri: str):
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


def load_model(name_or_uri: str, alias: str = CHAMPION, tracking_uri: str | None = None,
               dst_path: str | os.PathLike | None = None) -> DropoutModel:
    """Load a DropoutModel from the registry (`NAME` + alias, or any MLflow model URI) or a folder.

    The sha256 of the LightGBM text file is checked against the metadata written at
    training time (and against the version's tag when loading by name).
    """
    if os.path.isdir(str(name_or_uri)):
        return DropoutModel.load(name_or_uri)
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = resolve_tracking_uri(tracking_uri)
    target = model_uri(name_or_uri, alias)
    dst = Path(dst_path) if dst_path else Path(tempfile.mkdtemp(prefix="dropout-model-"))
    dst.mkdir(parents=True, exist_ok=True)
    try:
        with _mlflow_uris(uri):
            local = mlflow.artifacts.download_artifacts(artifact_uri=target, dst_path=str(dst),
                                                        tracking_uri=uri, registry_uri=uri)
    except MlflowException as exc:
        raise RegistryError(f"cannot load {target} from {uri}: {exc.message if hasattr(exc, 'message') else exc}") from None
    model = DropoutModel.load(local)
    if "://" not in name_or_uri and not name_or_uri.startswith(("models:/", "runs:/")):
        mv = client(uri).get_model_version_by_alias(name_or_uri, alias)
        expected = mv.tags.get("model_sha256")
        if expected and expected != model.sha256:
            raise RegistryError(f"{target}: model sha256 {model.sha256[:12]} differs from the registered {expected[:12]}")
    return model


def model_file_sha256(folder: str | os.PathLike) -> str:
    """sha256 of the LightGBM text model file in a model folder (ours or MLflow's layout)."""
    folder = Path(folder)
    for n in (MODEL_FILE, MLFLOW_MODEL_FILE):
        if (folder / n).exists():
            return hashlib.sha256((folder / n).read_bytes()).hexdigest()
    raise FileNotFoundError(f"{folder}: no {MODEL_FILE} or {MLFLOW_MODEL_FILE}")
