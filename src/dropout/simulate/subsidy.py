"""State support in force for a person on a day, read from the subsidy_policies table.

The rule (Decree 134/2015; Decree 159/2025; provincial resolutions; docs/data.md): the
person's rate is the highest central rate among the groups they belong to plus the highest
provincial rate among the same groups. Everyone is in `other`; `poor` / `near_poor` follow
the household's poverty status in force; `ethnic_minority` follows ethnicity (a central
group only from 2025-07-01, because the file says so); `village_worker` follows
occupation. The support is that rate x 22 % x the rural poverty line per month, for at
most 120 months (contribution_rules.yaml). No rate lives in this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

GROUPS = ("poor", "near_poor", "ethnic_minority", "village_worker", "other")
CENTRAL = "*"


class SubsidyRates:
    """Rates by group on a given day: central (G,) and per province (P, G)."""

    def __init__(self, policies: pd.DataFrame, provinces: list[str]):
        self.policies = policies
        self.provinces = list(provinces)
        self._cache: dict[np.datetime64, tuple[np.ndarray, np.ndarray]] = {}

    def at(self, day: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
        """(central rate per group, provincial top-up per province and group) in force on `day`."""
        day = np.datetime64(day, "D")
        if day not in self._cache:
            p = self.policies
            ts = pd.Timestamp(day)
            in_force = (p["valid_from"] <= ts) & (p["valid_to"].isna() | (p["valid_to"] >= ts))
            live = p[in_force]
            central = np.zeros(len(GROUPS))
            top_up = np.zeros((len(self.provinces), len(GROUPS)))
            for province, group, rate in zip(live["province"], live["group"], live["rate"]):
                if group not in GROUPS:
                    continue
                g = GROUPS.index(group)
                if province == CENTRAL:
                    central[g] = max(central[g], rate)
                elif province in self.provinces:
                    k = self.provinces.index(province)
                    top_up[k, g] = max(top_up[k, g], rate)
            self._cache[day] = (central, top_up)
        return self._cache[day]

    def person_rate(
        self,
        day: np.datetime64,
        province: np.ndarray,
        poor: np.ndarray,
        near_poor: np.ndarray,
        minority: np.ndarray,
        village_worker: np.ndarray,
    ) -> np.ndarray:
        """Highest central rate over the person's groups plus highest provincial rate over them."""
        central, top_up = self.at(day)
        member = (poor, near_poor, minority, village_worker)
        c = np.full(len(province), central[GROUPS.index("other")])
        t = top_up[province, GROUPS.index("other")]
        for g, is_member in enumerate(member):
            c = np.where(is_member, np.maximum(c, central[g]), c)
            t = np.where(is_member, np.maximum(t, top_up[province, g]), t)
        return c + t
