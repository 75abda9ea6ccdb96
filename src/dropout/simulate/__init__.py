"""Population simulator of voluntary social insurance with an oracle.

`simulate(preset)` draws villages, households and participants, then steps every
mechanism month by month (engine.py) and returns the eight raw tables of the data
contract plus truth/ (the probability every lapse was drawn from, its drivers, the true
effect of every visit, the latent traits of every person). Each mechanism lives in its
own module with the source of its numbers:

    config.py      the preset (experiments/presets/*.yaml) as frozen dataclasses
    engine.py      the monthly loop that steps every mechanism
    geography.py   villages, travel times, ethnic languages
    population.py  enrolment waves, households, payment modes, income bases, latent traits
    poverty.py     household income with a harvest calendar, poverty reviews
    subsidy.py     the support rate in force (reads subsidy_policies)
    disasters.py   seasonal storms, floods, flash floods, landslides, drought
    lapse.py       the lapse / resume probability (the oracle)
    payments.py    schedule, payments, make-ups, withdrawals, retirement
    outreach.py    home visits and evening sessions with a true effect
    contacts.py    names, phones, addresses, Vietnamese place names (drawn after the run)
    tables.py      the contract tables and truth/
    summary.py     headline numbers (yearly lapse by tenure) from any data folder
    scenarios/     other worlds on top of any preset (migration, rumour, ...), one module each

Deterministic: the same preset, scenarios, participants, window and seed give identical
tables; with no scenario, the run is exactly the preset's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from dropout.errors import ConfigError
from dropout.io import atomic_path, write_tables
from dropout.schema import Tables
from dropout.reference import contribution_rules, subsidy_policies
from dropout.simulate.contacts import add_people_and_places
from dropout.simulate.config import PRESETS, SimConfig, load_preset
from dropout.simulate.engine import FUTURE_MONTHS, Calendar, run
from dropout.simulate.geography import build_geography
from dropout.simulate.population import build_population
from dropout.simulate.scenarios import SCENARIOS, ScenarioSpec, build_scenarios, load_scenario
from dropout.simulate.subsidy import SubsidyRates
from dropout.simulate.summary import summarize, yearly_lapse_by_tenure
from dropout.simulate.tables import build_tables

__all__ = [
    "PRESETS",
    "SCENARIOS",
    "ScenarioSpec",
    "SimConfig",
    "SimResult",
    "load_preset",
    "load_scenario",
    "simulate",
    "summarize",
    "write_simulation",
    "yearly_lapse_by_tenure",
]

Progress = Callable[[int, int], None]


@dataclass
class SimResult:
    """The raw tables (the data contract) and truth/ (never read by features or training)."""

    tables: Tables
    truth: dict[str, pd.DataFrame]
    config: SimConfig
    seed: int
    start: str
    end: str
    scenarios: tuple[ScenarioSpec, ...] = ()


def _month(value: str, name: str) -> np.datetime64:
    try:
        return np.datetime64(str(value)[:7], "M")
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a month like 2021-01") from None


def simulate(
    preset: str | SimConfig = "a-luoi",
    participants: int | None = None,
    start: str = "2021-01",
    end: str = "2026-06",
    seed: int = 0,
    progress: Progress | None = None,
    scenarios: Sequence[str | os.PathLike | ScenarioSpec] | None = None,
    policies: pd.DataFrame | None = None,
) -> SimResult:
    """Simulate a population from `start` to `end` (months, inclusive); extraction = last day of `end`.

    Args:
        preset: a preset name (a-luoi, huong-hoa, province, national), a YAML path, or a SimConfig.
        participants: number of people in the participants table (default: the preset's);
            villages scale with it.
        progress: called as progress(months_done, months_total) after each simulated month,
            or a rich Progress (dropout.progress.progress_bar) to which a task is added.
        scenarios: scenario names (`rumour`, see dropout.simulate.scenarios), YAML paths or
            loaded ScenarioSpecs, combined in any order; none = the preset's world as is.
        policies: the subsidy_policies table to run under (default features/subsidy_policies.csv).
            A change that takes effect after the extraction date (in the simulated year
            ahead, where nobody enrols, withdraws or is visited) leaves every random draw
            where it was: the same decision meets the same random number in both runs, so
            two runs differing only here give the policy's true effect (benchmarks/whatif.py
            checks it).
    """
    cfg = preset if isinstance(preset, SimConfig) else load_preset(preset)
    if participants is not None:
        cfg = cfg.with_participants(participants)
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    first, last = _month(start, "start"), _month(end, "end")
    n_observed = int((last - first).astype(int)) + 1
    if n_observed < 1:
        raise ConfigError(f"end {end!r} is before start {start!r}")
    if isinstance(scenarios, (str, os.PathLike)):
        scenarios = [scenarios]
    scen, specs = build_scenarios(scenarios, int(seed))

    rules = contribution_rules()
    policies = subsidy_policies() if policies is None else policies
    streams = ("geography", "population", "economy", "disasters", "payments", "outreach")
    rngs = {k: np.random.default_rng(s) for k, s in zip(streams, np.random.SeedSequence(int(seed)).spawn(len(streams)))}
    calendar = Calendar(start=first, n_observed=n_observed, n_total=n_observed + FUTURE_MONTHS)
    if progress is not None and hasattr(progress, "add_task"):  # a rich Progress
        bar, task = progress, progress.add_task(f"simulate {cfg.name}", total=calendar.n_total)
        progress = lambda done, total: bar.update(task, completed=done, total=total)  # noqa: E731

    geo = build_geography(cfg.geography, cfg.participants, rngs["geography"])
    pop = build_population(cfg, geo, rules, first, n_observed, rngs["population"])
    if scen:
        policies = scen.policies(policies, geo.provinces)
    out = run(cfg, rules, SubsidyRates(policies, geo.provinces), geo, pop, calendar, rngs, progress, scen)
    tables, truth = build_tables(out, geo, pop, calendar, rules, policies)
    tables = add_people_and_places(tables, int(seed))  # before a scenario hides tables: same names in truth/
    if scen:
        tables, truth = scen.finish(tables, truth)
    return SimResult(tables=tables, truth=truth, config=cfg, seed=int(seed), start=str(first), end=str(last),
                     scenarios=tuple(specs))


def write_simulation(result: SimResult, out_dir: str | os.PathLike) -> Path:
    """Write the eight tables + manifest.json into `out_dir` and truth/*.parquet beside them."""
    out = Path(out_dir)
    extra = {"scenarios": [s.manifest() for s in result.scenarios]} if result.scenarios else {}
    write_tables(
        result.tables,
        out,
        generator="dropout simulate",
        preset=result.config.name,
        participants=result.config.participants,
        seed=result.seed,
        start=result.start,
        end=result.end,
        **extra,
    )
    for name, df in result.truth.items():
        # dictionary encoding only where it pays: trying it on millions of distinct floats is slow
        categorical = [c for c in df.columns if isinstance(df[c].dtype, pd.CategoricalDtype)]
        with atomic_path(out / "truth" / f"{name}.parquet") as tmp:
            df.to_parquet(tmp, index=False, use_dictionary=categorical)
    return out
