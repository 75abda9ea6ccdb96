"""Scenario `topup-ends`: a provincial top-up of the state support that ends mid-period.

Mechanism. Provinces pay their own top-up on the central support for a few years
(DESIGN.md: Quang Nam 2022-2025, Quang Tri 2023-2026, Quang Ninh 2023-2027). When a
resolution ends (or is cut short by a budget decision) every member of the covered
groups faces a sudden rise of the net contribution. This scenario rewrites the
province's rows of the run's subsidy_policies table (experiments/scenarios/
topup-ends.yaml: rates by group, first month and `ends`, the last month in force);
the simulator then reads the support rate from that table as always (subsidy.py), so
the change drives both the amounts paid and the oracle, through the channels a real
end of support acts through: the net cost share and the fading loss of support
(lapse.subsidy_loss). The written subsidy_policies.parquet is that table: an analyst
sees the end date before it happens, as with a real published resolution.

The end month is the knob a monitoring benchmark moves to place a regime change.

Truth: `subsidy_rate`, the total support rate (central + provincial) in force at each
decision.

Numbers: the Quang Tri rates are its 2023-2026 resolution's (features/
subsidy_policies.csv) with the end brought forward; the Thua Thien Hue top-up (A Luoi)
is an assumption shaped like Quang Tri's; Quang Nam and Quang Ninh end one year early.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from dropout.errors import ConfigError
from dropout.simulate.scenarios._util import check_range
from dropout.simulate.scenarios.base import Batch, Effect, Scenario
from dropout.simulate.subsidy import CENTRAL, GROUPS


@dataclass(frozen=True)
class TopUp:
    valid_from: str  # first month in force, YYYY-MM
    ends: str  # last month in force, YYYY-MM
    rates: dict[str, float]  # group -> top-up rate


@dataclass(frozen=True)
class TopUpEndsConfig:
    provinces: dict[str, TopUp]


def _month(value: str, where: str) -> pd.Period:
    try:
        return pd.Period(str(value)[:7], freq="M")
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not a month like 2024-12") from None


class TopUpEnds(Scenario):
    name = "topup-ends"
    truth_columns = ("subsidy_rate",)

    def policies(self, policies: pd.DataFrame, provinces: list[str]) -> pd.DataFrame:
        where = "scenario topup-ends.provinces"
        if CENTRAL in self.cfg.provinces:
            raise ConfigError(f"{where}: {CENTRAL!r} is the central rate, not a province")
        if not set(provinces) & set(self.cfg.provinces):
            raise ConfigError(f"{where}: none of the preset's provinces {provinces} has a top-up to end "
                              f"(listed: {sorted(self.cfg.provinces)})")
        rows = []
        for province, top in self.cfg.provinces.items():
            first = _month(top.valid_from, f"{where}.{province}.valid_from")
            last = _month(top.ends, f"{where}.{province}.ends")
            if last < first:
                raise ConfigError(f"{where}.{province}.ends: {top.ends!r} is before valid_from {top.valid_from!r}")
            for group, rate in top.rates.items():
                if group not in GROUPS:
                    raise ConfigError(f"{where}.{province}.rates: unknown group {group!r}; allowed {GROUPS}")
                check_range(rate, 0.0, 1.0, f"{where}.{province}.rates.{group}")
                rows.append({"province": province, "group": group, "valid_from": first.start_time,
                             "valid_to": last.end_time.normalize(), "rate": float(rate)})
        new = pd.DataFrame(rows).astype({"valid_from": "datetime64[ns]", "valid_to": "datetime64[ns]"})
        kept = policies[~policies["province"].isin(list(self.cfg.provinces))]
        out = pd.concat([kept, new.astype({c: policies[c].dtype for c in ("province", "group")})], ignore_index=True)
        return out[list(policies.columns)]

    def decide(self, batch: Batch) -> Effect:
        return Effect(truth={"subsidy_rate": batch.rate})
