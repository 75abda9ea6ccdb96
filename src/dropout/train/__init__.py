"""Training: temporal backtests, the calibrated LightGBM model, baselines, MLflow registry.

Public API:
    DropoutModel                        fit / predict_proba / contributions / save / load
    load_model(name_or_uri, alias)      a DropoutModel from the MLflow registry (or a folder)
    run_experiment(load_config(path))   what `dropout train --config` runs
"""

from dropout.train.config import ExperimentConfig, load_config
from dropout.train.model import DropoutModel


def load_model(name_or_uri: str, alias: str = "champion", tracking_uri: str | None = None) -> DropoutModel:
    """A DropoutModel from the registry by name + alias, an MLflow model URI, or a folder."""
    from dropout.train.registry import load_model as _load

    return _load(name_or_uri, alias=alias, tracking_uri=tracking_uri)


def run_experiment(*args, **kwargs):
    from dropout.train.experiment import run_experiment as _run

    return _run(*args, **kwargs)


__all__ = ["DropoutModel", "ExperimentConfig", "load_config", "load_model", "run_experiment"]
