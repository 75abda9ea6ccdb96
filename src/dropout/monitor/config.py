"""The monitoring thresholds (`models/monitor.yaml`), read once and checked."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field

from dropout.strict import Strict, read_config


class ReferenceConfig(Strict):
    last_months: int = Field(gt=0)
    window_days: int = Field(gt=0)
    bins: int = Field(ge=2, le=50)


class DriftConfig(Strict):
    psi: float = Field(gt=0)
    distance: float = Field(gt=0)
    min_features: int = Field(ge=1)
    natural_factor: float = Field(ge=1)
    min_importance: float = Field(ge=0, lt=1)
    watch_only_families: list[str] = []
    watch_only_features: list[str] = []


class PredictionConfig(Strict):
    psi: float = Field(gt=0)


class EstimateConfig(Strict):
    simulations: int = Field(ge=50, le=10_000)
    level: float = Field(gt=0, lt=1)
    capacity_share: float = Field(gt=0, le=1)
    auc_drop: float = Field(gt=0)
    lapse_rate_change: float = Field(gt=0)


class RealisedConfig(Strict):
    auc_drop: float = Field(gt=0)
    interval_widen: float = Field(ge=1)


class MonitorConfig(Strict):
    reference: ReferenceConfig
    drift: DriftConfig
    prediction: PredictionConfig
    estimate: EstimateConfig
    realised: RealisedConfig


@lru_cache(maxsize=4)
def load_monitor_config(path: str | None = None) -> MonitorConfig:
    """models/monitor.yaml (or `path`), validated.

    Raises:
        ConfigError: naming the file and the key that is wrong.
    """
    from dropout.paths import models_dir

    return read_config(path or models_dir() / "monitor.yaml", MonitorConfig, "monitoring config")
