"""Scenario `ledger-only`: an export that holds only the ledger.

Mechanism. Many provincial exports carry the villages, the participants and their
installments and nothing else: the poverty lists live with the labour office (DOLISA),
disaster records with the disaster authority, officers' visits on paper, and lump-sum
claims in another system. This scenario changes nothing in the simulated world (people
still fall into poverty, are hit by floods, visited, and withdraw): it empties the
tables listed in experiments/scenarios/ledger-only.yaml (`empty_tables`, written with
their contract columns and no rows) and writes the reference copy of the subsidy
policies (features/subsidy_policies.csv) in place of the run's own table
(`subsidy_policies: reference`), as an analyst would have to. A withdrawn participant
simply stops appearing with installments.

Combined with `topup-ends`, the reference copy wins: the export does not say that a
top-up existed (the run's own table is kept in truth/).

Truth: the withheld tables as truth/withheld_<table>.parquet; truth/installments is
exactly the one of the same run without this scenario.
"""

from __future__ import annotations

from dataclasses import dataclass

from dropout.errors import ConfigError
from dropout.reference import subsidy_policies
from dropout.simulate.scenarios.base import Scenario

MAY_EMPTY = ("poverty", "disasters", "visits", "withdrawals")
POLICY_SOURCES = ("reference", "simulated")


@dataclass(frozen=True)
class LedgerOnlyConfig:
    empty_tables: list[str]
    subsidy_policies: str


class LedgerOnly(Scenario):
    name = "ledger-only"

    def __init__(self, cfg: LedgerOnlyConfig, seed: int):
        super().__init__(cfg, seed)
        bad = sorted(set(cfg.empty_tables) - set(MAY_EMPTY))
        if bad:
            raise ConfigError(f"scenario ledger-only.empty_tables: {bad} may not be emptied; allowed {MAY_EMPTY}")
        if cfg.subsidy_policies not in POLICY_SOURCES:
            raise ConfigError(f"scenario ledger-only.subsidy_policies: {cfg.subsidy_policies!r} is not one of "
                              f"{POLICY_SOURCES}")

    def finish(self, tables, truth):
        changes = {}
        for name in self.cfg.empty_tables:
            df = getattr(tables, name)
            truth[f"withheld_{name}"] = df
            changes[name] = df.iloc[0:0].reset_index(drop=True)
        if self.cfg.subsidy_policies == "reference":
            truth["withheld_subsidy_policies"] = tables.subsidy_policies
            changes["subsidy_policies"] = subsidy_policies()
        return tables.replace(**changes), truth
