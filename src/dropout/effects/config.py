"""`models/effects.yaml` as a validated, frozen config."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from dropout.paths import models_dir
from dropout.strict import Strict, read_config


class Panel(Strict):
    horizon_days: int = Field(gt=0, le=366)
    min_history_months: int = Field(ge=0)


class Nuisance(Strict):
    folds: int = Field(ge=2, le=10)
    propensity_clip: tuple[float, float]
    lightgbm: dict
    num_boost_round: int = Field(gt=0)


class Fallback(Strict):
    min_treated: int = Field(ge=1)
    assumed_sd: float = Field(gt=0)


class HelpLine(Strict):
    likely_helps: float = Field(ge=0, le=1)


class EffectsConfig(Strict):
    """Every key of models/effects.yaml is required."""

    panel: Panel
    modifiers: list[str]
    nuisance: Nuisance
    fallback: Fallback
    help_line: HelpLine


def load_effects_config(path: str | Path | None = None) -> EffectsConfig:
    """Read and validate `models/effects.yaml` (or `path`); ConfigError names the bad key."""
    return read_config(path or models_dir() / "effects.yaml", EffectsConfig, "effects config")
