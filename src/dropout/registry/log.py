"""Logging a training run to MLflow: config, parameters, metrics, the run folder, the model.

The registered model is the LightGBM Booster logged with `mlflow.lightgbm.log_model`:
MLflow writes a Booster with `Booster.save_model`, i.e. LightGBM's text format
(`model.lgb`), never pickle. The calibration, feature list and metadata JSON ride along
as `extra_files`, so `versions.load_model` rebuilds the exact DropoutModel. (MLflow's
generic pyfunc flavour of that artifact returns the *uncalibrated* booster probability;
use `load_model` here.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dropout.model.gbm import DropoutModel
from dropout.registry.gate import CHALLENGER, decide_alias
from dropout.registry.tracking import client, ensure_experiment, resolve_tracking_uri

PREDICTIONS_MAX_BYTES = 50 * 1024 * 1024  # larger prediction files stay in the run folder only


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
    scope=None,
    candidate_value: float | None = None,
) -> Registration:
    """Log config, params, metrics, artifacts and the model; register it and set its alias.

    Args:
        artifacts_dir: the run folder (report.html, metrics, the model folder) to log as is.
        register_as: registered model name, or None to log without registering.
        champion_value: the champion's gate metric *on this backtest* (None if no champion
            or not comparable; then `has_champion` says which).
        scope: the data's `registry.scope.Scope`; the alias set is the scope's own
            (`champion--district-a-luoi`), so each scope keeps its champion.
        candidate_value: the candidate's gate metric on the rows the gate compares
            (registry.gate.comparison); default: its mean over the folds.
    """
    import lightgbm as lgb
    import mlflow
    from mlflow.models import infer_signature

    uri = resolve_tracking_uri(uri)
    c = client(uri)
    exp_id = ensure_experiment(c, experiment)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if candidate_value is None:
        candidate_value = result.mean_fold_metric("model", gate_metric)
    with mlflow.start_run(experiment_id=exp_id, run_name=run_name) as run:
        mlflow.set_tags({**(tags or {}), "backtest_fingerprint": result.fingerprint, "model_sha256": model.sha256,
                         "model_digest": model.digest})
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
            extra_files=[str(model_dir / n) for n in ("calibration.json", "features.json", "metadata.json",
                                                      "linear.json", "reference.json", "digest.json") if (model_dir / n).exists()],
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
                "model_digest": model.digest,
                f"gate.{gate_metric}": repr(candidate_value),
                "run_name": run_name,
                "scope": scope.key if scope is not None else "",
                "scope_slug": scope.slug if scope is not None else "",
                "period": f"{model.metadata.get('trained_from_as_of', '')}..{model.metadata.get('trained_through_as_of', '')}",
            })
            version = str(mv.version)
            if has_champion and champion_value is None:
                alias, reason = CHALLENGER, "the champion could not be compared on this backtest"
            else:
                alias, reason = decide_alias(candidate_value, champion_value if has_champion else None, gate_metric, min_improvement)
            alias = scope.alias(alias) if scope is not None else alias
            c.set_registered_model_alias(register_as, alias, version)
            c.set_model_version_tag(register_as, version, "gate_decision", f"{alias}: {reason}")
            mlflow.set_tags({"registered_model": register_as, "registered_version": version, "alias": alias, "gate_reason": reason})
        return Registration(run.info.run_id, exp_id, register_as, version, alias, reason, info.model_uri)
