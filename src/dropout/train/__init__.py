"""Training: temporal backtests of the model against its baselines, the final fit, the report.

    config.py      an experiment described by one YAML file (experiments/*.yaml)
    timechop.py    rolling-origin folds with gaps that keep labels from leaking
    data.py        the training frame and its row context (groups, history, oracle)
    backtest.py    fit and score every fold, metrics and the must-show checks
    experiment.py  one run end to end: what `dropout train --config` does

The models live in `dropout.model`, MLflow logging, the gate and promotion in
`dropout.registry`.
"""

from dropout.train.config import ExperimentConfig, load_config


def run_experiment(*args, **kwargs):
    from dropout.train.experiment import run_experiment as _run

    return _run(*args, **kwargs)


__all__ = ["ExperimentConfig", "load_config", "run_experiment"]
