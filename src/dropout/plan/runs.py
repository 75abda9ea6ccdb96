"""A plan for a scoring run in the store: find the run, its data, check they belong together.

`plan_for_run` is what `dropout plan --run ID|latest` does, as a library function: the
CLI only parses and prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from dropout.errors import ConfigError
from dropout.plan.capacity import Capacity
from dropout.plan.optimise import PlanConfig
from dropout.plan.output import Plan


@dataclass
class RunPlan:
    """A plan and the run it was made from."""

    run: object  # dropout.store.RunRecord
    data_dir: Path
    plan: Plan


def find_run(run: str, store_url: str | None):
    """The run `run` names in the store (`latest`: the newest finished one)."""
    from dropout.store import latest_run, open_store

    if run == "latest":
        record = latest_run(store_url)
        if record is None:
            raise ConfigError("run latest: the store holds no finished scoring run; run `dropout score` first")
        return record
    store = open_store(store_url, create=False)
    try:
        record = store.get_run(run)
    finally:
        store.dispose()
    if record is None:
        raise ConfigError(f"run {run!r}: no such run in the store (`latest` takes the newest)")
    return record


def plan_for_run(run: str, capacity: Capacity, config: PlanConfig, store_url: str | None = None,
                 data: str | Path | None = None, by_effect: bool = False, explore: float = 0.0,
                 effects_config: str | Path | None = None, seed: int = 0) -> RunPlan:
    """Plan visits for the people a scoring run scored.

    Args:
        run: a run id, or `latest`.
        data: the data folder the run scored; default: the folder the run recorded.
        by_effect: plan with visit effects learned from the folder's recorded visits before
            the run's as-of (`dropout.effects`), falling back to the assumed ones where thin.
        explore: share of the hours for randomly chosen people (`dropout.plan.explore`).
    Raises:
        ConfigError: no such run, no data folder known, or data that is not the run's.
        DataContractError: the data folder breaks the contract.
    """
    from dropout.io import load_tables
    from dropout.plan import plan_visits, villages_with_enrolled
    from dropout.schema import tables_fingerprint
    from dropout.store import read_scores

    record = find_run(run, store_url)
    folder = Path(data) if data is not None else (Path(record.data_dir) if record.data_dir else None)
    if folder is None:
        raise ConfigError(f"run {record.run_id} does not record its data folder: give the data folder it scored")
    if not folder.is_dir():
        raise ConfigError(f"the data folder {folder} of run {record.run_id} does not exist (moved?): "
                          "give the folder it scored")
    tables = load_tables(folder)
    fingerprint = tables_fingerprint(tables)
    if fingerprint != record.data_fingerprint:
        raise ConfigError(
            f"{folder} is not the data run {record.run_id} scored (fingerprint "
            f"{fingerprint[:12]} != {record.data_fingerprint[:12]}); give the folder the run used"
        )
    scores = read_scores(store_url, record.run_id)
    gains, notes = None, []
    if by_effect:
        scores, gains, notes = scores_with_effects(tables, record.as_of, scores, config, effects_config)
    plan = plan_visits(scores, villages_with_enrolled(tables, record.as_of), capacity, config, gains=gains,
                       explore=explore, seed=seed)
    plan.notes.extend(notes)
    return RunPlan(record, folder, plan)


def scores_with_effects(tables, as_of, scores, config: PlanConfig, effects_config=None):
    """(scores with each person's effect columns, the planner's gains, notes): effects learned
    from the visits recorded before `as_of`."""
    from dropout.effects import effect_gains, fallback_notes, learn_effects, load_effects_config, person_features
    from dropout.plan.optimise import assumed_gains

    from dropout.effects import VisitEffects
    from dropout.errors import InputError

    ecfg = load_effects_config(effects_config)
    try:
        effects, why = learn_effects(tables, as_of, ecfg), []
    except InputError as err:  # too little history to learn anything: the assumed effects, said so
        effects, why = VisitEffects({}), [f"visit effects not learned ({err}): the assumed effects are kept"]
    feats = person_features(tables, as_of, scores["participant_id"].to_numpy())
    risk = scores["risk"].to_numpy(float)
    g = effect_gains(effects, feats, risk, assumed_gains(risk, config), ecfg)
    shown = g[["source_home", "gain_visit_sd", "visit_line_vi", "visit_line_en"]].rename(
        columns={"source_home": "effect_source", "gain_visit_sd": "visit_gain_sd"})
    out = pd.concat([scores.reset_index(drop=True), shown], axis=1)
    return out, g[["gain_visit", "gain_session", "gain_both"]], why + fallback_notes(effects, g)
