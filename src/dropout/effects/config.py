"""`models/effects.yaml` as a validated, frozen config."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from dropout.errors import ConfigError
from dropout.paths import models_dir
from dropout.strict import Strict


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
    p = Path(path) if path else models_dir() / "effects.yaml"
    if not p.exists():
        raise ConfigError(f"effects config {p} does not exist")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        return EffectsConfig.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        lines = [f"{p}: invalid effects config"]
        for err in exc.errors():
            lines.append(f"- {'.'.join(str(x) for x in err['loc'])}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("\n".join(lines)) from None
