"""`dropout train --effects`: learn the visit effects beside the model and track them with its run.

The effects are learned from the same tables as the model, on everything known at the
extraction date (`dropout.effects.learn_effects`), written to the run folder as
`effects.json` (plain numbers) and logged to the MLflow run: per kind of visit the
number of recorded visits, the learned log-odds change at the average person and its
standard error, the naive difference, and the file as an artifact.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def effect_metrics(effects) -> dict[str, float]:
    out = {}
    for kind, e in effects.kinds.items():
        out[f"effects_{kind}_recorded"] = float(e.n_treated)
        out[f"effects_{kind}_learned"] = float(e.learned)
        if e.learned:
            out[f"effects_{kind}_log_odds"] = float(e.coef[0])
            out[f"effects_{kind}_log_odds_se"] = float(np.sqrt(e.cov[0, 0]))
        if np.isfinite(e.naive_difference):
            out[f"effects_{kind}_naive_difference"] = float(e.naive_difference)
    return out


def train_effects(tables, run_dir: str | Path, run_id: str | None = None, tracking_uri: str | None = None,
                  config_path: str | Path | None = None):
    """Learn, write `run_dir/effects.json`, log to MLflow run `run_id` if given; returns (effects, path)."""
    from dropout.effects import learn_effects, load_effects_config
    from dropout.io import write_text

    effects = learn_effects(tables, tables.extracted_on, load_effects_config(config_path))
    path = Path(run_dir) / "effects.json"
    write_text(json.dumps(effects.to_dict(), indent=1, default=float) + "\n", path)
    if run_id:
        from dropout.registry.tracking import client

        c = client(tracking_uri)
        for key, value in effect_metrics(effects).items():
            c.log_metric(run_id, key, value)
        c.log_artifact(run_id, str(path))
    return effects, path
