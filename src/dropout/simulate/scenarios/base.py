"""What every scenario may do to a run, and how several of them combine.

A scenario is a mechanism with its own truth, switched on for one run on top of any
preset. The engine calls it at fixed points of the month (engine.py); each hook is a
no-op unless the scenario overrides it:

    policies(policies, provinces)   change the subsidy_policies table before the run
    start(world)                    draw what is fixed for the run (episodes, regions, ...)
    month(m, cal, observed)         step its own state at the start of month m
    income_factor()                 this month's multiplier of every household's cash income
    withdrawal_factor()             multiplier of every participant's lump-sum withdrawal hazard
    downgrade_shock()               extra shock (per participant) behind lowering the income base
    switch_modes(m, cal, observed)  change payment modes before this month's periods open
    after_outreach(outreach, since) rewrite what officers noted on this month's visits
    decide(batch)                   its effect on a batch of decisions (see below)
    finish(tables, truth)           change what the export holds (and add to truth/)

The oracle with scenarios (written to truth/installments with every driver):

    p_lapse = 1 - (1 - p_blocked) x (1 - p_unpaid(lapse_logit(drivers) + scenario_logit))

`scenario_logit` is the sum of the scenarios' log-odds on the monthly lapse hazard
(for a suspended participant lapse.py turns a hazard shift s into a resume shift
-resume_scale x s, so a scenario that wants +x on the resume log-odds enters -x /
resume_scale). `p_blocked` is the chance that the payment cannot be made at all,
whatever the person's traits (nobody to pay to, nobody at home to pay):
1 - prod(1 - block) over the scenarios. Both combine the same in any order.

Each scenario draws from its own random stream (seeded by the run's seed and the
scenario's name), so adding one does not reshuffle the others' draws; the base
streams still see other outcomes once the scenario has changed who pays.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dropout.errors import ConfigError
from dropout.reference import ContributionRules
from dropout.simulate.config import SimConfig
from dropout.simulate.geography import Geography
from dropout.simulate.payments import PaymentState, Schedule
from dropout.simulate.population import Population
from dropout.simulate.poverty import HouseholdEconomy


@dataclass
class World:
    """What a scenario may read (and, through its hooks, change) during a run."""

    cfg: SimConfig
    rules: ContributionRules
    geo: Geography
    pop: Population
    calendar: object  # engine.Calendar (engine imports this module)
    st: PaymentState
    schedule: Schedule  # the scenarios' own copy: mode-switch changes it
    economy: HouseholdEconomy
    policies: pd.DataFrame  # as changed by the scenarios' `policies` hooks
    occupation: np.ndarray  # per participant (str)
    outreach: object = None  # outreach.Outreach: a scenario may set its `session_turnout` / `explore_share`


@dataclass
class Batch:
    """One month's batch of decisions, as the engine sees it."""

    m: int
    cal: int
    idx: np.ndarray  # participants deciding
    suspended: np.ndarray  # deciding whether to resume
    rate: np.ndarray  # support rate in force
    exposure: np.ndarray


@dataclass
class Effect:
    """A scenario's effect on a batch of decisions; None = none of that kind."""

    logit: np.ndarray | None = None
    block: np.ndarray | None = None
    makeup_share: np.ndarray | None = None  # replaces lapse.makeup_share where given
    truth: dict[str, np.ndarray] = field(default_factory=dict)  # its drivers for truth/installments


class Scenario:
    """Base class: every hook does nothing. `cfg` is the scenario's frozen config."""

    name: str = ""
    truth_columns: tuple[str, ...] = ()

    def __init__(self, cfg, seed: int):
        self.cfg = cfg
        self.rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(self.name.encode()),)))

    def policies(self, policies: pd.DataFrame, provinces: list[str]) -> pd.DataFrame:
        return policies

    def start(self, world: World) -> None:
        self.world = world

    def month(self, m: int, cal: int, observed: bool) -> None:
        pass

    def income_factor(self) -> np.ndarray | None:
        return None

    def withdrawal_factor(self) -> np.ndarray | None:
        return None

    def downgrade_shock(self) -> np.ndarray | None:
        return None

    def switch_modes(self, m: int, cal: int, observed: bool) -> None:
        pass

    def after_outreach(self, outreach, since: int) -> None:
        pass

    def decide(self, batch: Batch) -> Effect:
        return Effect()

    def finish(self, tables, truth: dict[str, pd.DataFrame]):
        return tables, truth


def _product(values: list[np.ndarray]) -> np.ndarray | None:
    out = None
    for v in values:
        out = v if out is None else out * v
    return out


class ScenarioSet:
    """The scenarios of one run, in the registry's order (so the order they were asked in does not matter)."""

    def __init__(self, scenarios: list[Scenario]):
        self.scenarios = list(scenarios)
        names = [s.name for s in self.scenarios]
        if len(set(names)) != len(names):
            raise ConfigError(f"scenarios: each mechanism may run once, got {names}")

    def __bool__(self) -> bool:
        return bool(self.scenarios)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    @property
    def truth_columns(self) -> tuple[str, ...]:
        """scenario_logit and p_blocked, then each scenario's own drivers."""
        if not self.scenarios:
            return ()
        return ("scenario_logit", "p_blocked") + tuple(c for s in self.scenarios for c in s.truth_columns)

    def policies(self, policies: pd.DataFrame, provinces: list[str]) -> pd.DataFrame:
        for s in self.scenarios:
            policies = s.policies(policies, provinces)
        return policies

    def start(self, world: World) -> None:
        for s in self.scenarios:
            s.start(world)

    def month(self, m: int, cal: int, observed: bool) -> None:
        for s in self.scenarios:
            s.month(m, cal, observed)

    def income_factor(self) -> np.ndarray | None:
        return _product([f for s in self.scenarios if (f := s.income_factor()) is not None])

    def withdrawal_factor(self) -> np.ndarray | None:
        return _product([f for s in self.scenarios if (f := s.withdrawal_factor()) is not None])

    def downgrade_shock(self) -> np.ndarray | None:
        extra = [f for s in self.scenarios if (f := s.downgrade_shock()) is not None]
        return None if not extra else sum(extra[1:], extra[0])

    def switch_modes(self, m: int, cal: int, observed: bool) -> None:
        for s in self.scenarios:
            s.switch_modes(m, cal, observed)

    def after_outreach(self, outreach, since: int) -> None:
        for s in self.scenarios:
            s.after_outreach(outreach, since)

    def decide(self, batch: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, np.ndarray]]:
        """(scenario_logit, p_blocked, make-up share or None, truth columns) of one batch."""
        n = len(batch.idx)
        logit, unblocked, share = np.zeros(n), np.ones(n), None
        truth: dict[str, np.ndarray] = {}
        for s in self.scenarios:
            e = s.decide(batch)
            if e.logit is not None:
                logit = logit + e.logit
            if e.block is not None:
                unblocked = unblocked * (1.0 - e.block)
            if e.makeup_share is not None:
                share = e.makeup_share if share is None else np.maximum(share, e.makeup_share)
            for c in s.truth_columns:
                truth[c] = e.truth[c]
        truth["scenario_logit"] = logit
        truth["p_blocked"] = 1.0 - unblocked
        return logit, 1.0 - unblocked, share, truth

    def finish(self, tables, truth: dict[str, pd.DataFrame]):
        for s in self.scenarios:
            tables, truth = s.finish(tables, truth)
        return tables, truth
