"""The promotion gate: does a new version beat the champion on the same backtest?

A new version gets the alias `champion` only if it beats the current champion on the
same backtest (same test rows and labels) by the gate metric; otherwise it gets
`challenger`. `promote` (versions.py) is the human override.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    """(role, reason) for a new version given its and the champion's gate metric: champion
    or challenger. A tie keeps the champion, and the reason says so."""
    if champion is None:
        return CHAMPION, "no champion yet"
    if better(candidate, champion, metric, min_improvement):
        return CHAMPION, f"{metric} {candidate:.4f} beats the champion's {champion:.4f} on the same test blocks"
    if candidate == champion:
        return CHALLENGER, (f"{metric} {candidate:.4f} ties the champion's {champion:.4f} on the same test blocks: "
                            "the champion stays (a tie never replaces it)")
    return CHALLENGER, f"{metric} {candidate:.4f} does not beat the champion's {champion:.4f} on the same test blocks"


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


def current_champion(name: str, uri: str | None = None, scope=None) -> ChampionInfo | None:
    """The version holding the champion alias (of `scope`, a registry.scope.Scope, when
    given), or None (also when the model is unknown)."""
    from mlflow.exceptions import MlflowException

    c = client(uri)
    try:
        mv = c.get_model_version_by_alias(name, scope.alias(CHAMPION) if scope is not None else CHAMPION)
    except MlflowException:
        return None
    return ChampionInfo(str(mv.version), mv.run_id, dict(mv.tags))


def comparison(result, metric: str, min_improvement: float = 0.0, *, champion_version: str | None = None,
               note: str | None = None, scope=None, champion_seen_through=None) -> dict:
    """The gate's comparison, fold by fold and over the folds, and the decision it leads to.

    `result` is a train.backtest.BacktestResult in which the champion (when there is one)
    scored every fold's test rows as it is (the "champion" contender, never re-fitted).
    The champion may have been trained on some of those months: the comparison uses only
    the test rows after `champion_seen_through` (its last training as-of) when there are
    any, and says when there are none (the champion then has the advantage).
    """
    from dropout.evaluate.metrics import binary_metrics

    pred = result.predictions
    has = "champion" in result.contenders
    rows_used = "all test rows"
    if has and champion_seen_through is not None:
        unseen = pd.to_datetime(pred["as_of"]) > pd.Timestamp(champion_seen_through)
        if unseen.any():
            pred = pred[unseen.to_numpy()]
            rows_used = f"test rows after {pd.Timestamp(champion_seen_through).date()}, which the champion never saw"
        else:
            rows_used = ("all test rows: the champion was trained on all of these months, which favours it, so a "
                         "candidate must clearly win")
    rows, cands, champs = [], [], []
    for f, d in pred.groupby("fold", sort=True):
        y = d["label"].to_numpy()
        prob = metric in LOWER_IS_BETTER
        cand = binary_metrics(y, d["p_model" if prob else "score_model"].to_numpy(), probabilistic=prob)[metric]
        champ = (binary_metrics(y, d["p_champion" if prob else "score_champion"].to_numpy(), probabilistic=prob)[metric]
                 if has else None)
        cands.append(cand)
        champs.append(champ)
        rows.append({"fold": f"fold{f}", "rows": int(len(d)), "candidate": cand, "champion": champ,
                     "result": ("no champion" if champ is None else "candidate better" if better(cand, champ, metric)
                                else "tie" if cand == champ else "champion better")})
    cand_mean = float(np.mean(cands)) if cands else float("nan")
    champ_mean = float(np.mean(champs)) if has and champs else None
    if champion_version is not None and not has:
        role, reason = CHALLENGER, note or "the champion could not be compared on these folds"
    else:
        role, reason = decide_alias(cand_mean, champ_mean, metric, min_improvement)
    return {"metric": metric, "min_improvement": min_improvement, "scope": str(scope) if scope else None,
            "champion_version": champion_version, "rows_used": rows_used, "folds": rows,
            "candidate_mean": cand_mean, "champion_mean": champ_mean, "decision": role, "reason": reason}
