"""The promotion gate: does a new version beat the champion on the same backtest?

A new version gets the alias `champion` only if it beats the current champion on the
same backtest (same test rows and labels) by the gate metric; otherwise it gets
`challenger`. `promote` (versions.py) is the human override.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dropout.registry.tracking import client

CHAMPION = "champion"
CHALLENGER = "challenger"
LOWER_IS_BETTER = {"brier", "ece"}


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
