"""The base of every configuration and request model: unknown keys are refused.

A typo in a YAML file or a request must never fall back silently to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from dropout.errors import ConfigError


class Strict(BaseModel):
    """Refuses unknown fields; frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)


def validated(model: type[M], raw, source: str, what: str) -> M:
    """`raw` as a `model`; a ConfigError naming `source` and every bad key otherwise."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{source}: invalid {what}"]
        for err in exc.errors():
            where = ".".join(str(x) for x in err["loc"]) or "(top level)"
            lines.append(f"- {where}: {err['msg']} (got {err.get('input')!r})")
        raise ConfigError("\n".join(lines)) from None


def read_config(path: str | Path, model: type[M], what: str) -> M:
    """A YAML file read and validated as `model` (a file of `models/`, say); a missing or
    unreadable file, bad YAML or a bad key is a ConfigError naming the file."""
    import yaml

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} {p} does not exist")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return validated(model, raw if raw is not None else {}, str(p), what)
