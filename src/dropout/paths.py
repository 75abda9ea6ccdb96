"""Where the project's data-not-code lives (features/, models/, experiments/)."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_ROOT = Path(__file__).resolve().parent


def project_root() -> Path:
    """The repository root: DROPOUT_HOME if set, else the folder holding features/."""
    env = os.environ.get("DROPOUT_HOME")
    if env:
        return Path(env)
    for candidate in (Path.cwd(), *_PACKAGE_ROOT.parents):
        if (candidate / "features" / "contribution_rules.yaml").exists():
            return candidate
    raise FileNotFoundError(
        "cannot find the project's features/ folder; set DROPOUT_HOME to the repository root"
    )


def features_dir() -> Path:
    return project_root() / "features"


def models_dir() -> Path:
    return project_root() / "models"


def experiments_dir() -> Path:
    return project_root() / "experiments"
