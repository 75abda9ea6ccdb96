"""Robustness scenarios: other worlds, each a documented mechanism with its own truth.

The presets' world is the one the features were built around (net cost vs income,
disasters, subsidy loss, habit, tenure, neighbours, pension, visits, a latent person
effect). A scenario adds a mechanism outside that list on top of any preset:

    simulate("huong-hoa", scenarios=["rumour", "ledger-only"], seed=3)
    dropout simulate --preset huong-hoa --scenario rumour --scenario ledger-only --seed 3

    migration         members leave for industrial zones, stop paying, some come back
    price-slump       a crop-price slump cuts farm and forest income in some communes for a season
    collection-agent  a commune's collection agent leaves: nowhere to pay for months
    rumour            a rumour that the fund is unsafe spreads village to village, then fades
    mode-switch       members switch payment mode as their cash allows
    topup-ends        a provincial top-up in the subsidy_policies table ends mid-period
    visit-response    who responds to a visit follows visible traits; sessions reach those who come
    ledger-only       the export holds only villages, participants and installments

Each scenario's knobs live in experiments/scenarios/<name>.yaml (no defaults in Python;
unknown or missing keys are a ConfigError naming the path). A scenario may also be given
as a path to a YAML file that `extends: <name>` and overrides knobs. base.py says how
scenarios act on the oracle and combine; they run in the order above whatever the order
they are asked in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from dropout.errors import ConfigError
from dropout.paths import experiments_dir
from dropout.simulate.config import build_dataclass, read_extending
from dropout.simulate.scenarios.base import Scenario, ScenarioSet
from dropout.simulate.scenarios.collection_agent import CollectionAgent, CollectionAgentConfig
from dropout.simulate.scenarios.ledger_only import LedgerOnly, LedgerOnlyConfig
from dropout.simulate.scenarios.migration import Migration, MigrationConfig
from dropout.simulate.scenarios.mode_switch import ModeSwitch, ModeSwitchConfig
from dropout.simulate.scenarios.price_slump import PriceSlump, PriceSlumpConfig
from dropout.simulate.scenarios.rumour import Rumour, RumourConfig
from dropout.simulate.scenarios.topup_ends import TopUpEnds, TopUpEndsConfig
from dropout.simulate.scenarios.visit_response import VisitResponse, VisitResponseConfig

__all__ = ["SCENARIOS", "ScenarioSpec", "ScenarioSet", "build_scenarios", "load_scenario"]

# mechanism -> (its scenario class, its knobs); this order is the order they act in
MECHANISMS: dict[str, tuple[type[Scenario], type]] = {
    "migration": (Migration, MigrationConfig),
    "price-slump": (PriceSlump, PriceSlumpConfig),
    "collection-agent": (CollectionAgent, CollectionAgentConfig),
    "rumour": (Rumour, RumourConfig),
    "mode-switch": (ModeSwitch, ModeSwitchConfig),
    "topup-ends": (TopUpEnds, TopUpEndsConfig),
    "visit-response": (VisitResponse, VisitResponseConfig),
    "ledger-only": (LedgerOnly, LedgerOnlyConfig),
}
SCENARIOS = tuple(MECHANISMS)


@dataclass(frozen=True)
class ScenarioSpec:
    """One scenario as loaded: its mechanism, where it came from, and its knobs."""

    mechanism: str
    source: str
    description: str
    config: object

    def manifest(self) -> dict:
        return {"name": self.mechanism, "source": self.source, "knobs": dataclasses.asdict(self.config)}


def scenario_path(name: str) -> Path:
    return experiments_dir() / "scenarios" / f"{name}.yaml"


def _read(spec: str | Path, seen: tuple) -> dict:
    is_path = str(spec).endswith((".yaml", ".yml"))
    if not is_path and str(spec) not in MECHANISMS:
        raise ConfigError(f"scenario {spec!r}: unknown (known scenarios: {', '.join(SCENARIOS)})")
    path = Path(spec) if is_path else scenario_path(str(spec))
    if not path.exists():
        raise ConfigError(f"scenario {spec!r}: no file {path} (known scenarios: {', '.join(SCENARIOS)})")
    return read_extending(path, "scenario", seen, _read)


def load_scenario(spec: str | Path) -> ScenarioSpec:
    """Load a scenario by name (`rumour`) or by path to a YAML file, checking every key."""
    data = _read(spec, seen=())
    where = f"scenario {Path(str(spec)).stem}"
    mechanism = data.pop("mechanism", None)
    if mechanism not in MECHANISMS:
        raise ConfigError(f"{where}.mechanism: {mechanism!r} is not one of {list(SCENARIOS)}")
    description = data.pop("description", None)
    if not isinstance(description, str):
        raise ConfigError(f"{where}.description: missing (say what the scenario does)")
    config = build_dataclass(MECHANISMS[mechanism][1], data, where)
    return ScenarioSpec(mechanism=mechanism, source=str(spec), description=description, config=config)


def build_scenarios(specs, seed: int) -> tuple[ScenarioSet, list[ScenarioSpec]]:
    """The scenarios of one run (names, YAML paths or ScenarioSpecs), in the order they act in."""
    loaded = [s if isinstance(s, ScenarioSpec) else load_scenario(s) for s in (specs or ())]
    names = [s.mechanism for s in loaded]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"scenarios: {twice} asked for more than once (each mechanism runs at most once)")
    loaded.sort(key=lambda s: SCENARIOS.index(s.mechanism))
    scenarios = [MECHANISMS[s.mechanism][0](s.config, seed) for s in loaded]
    return ScenarioSet(scenarios), loaded
