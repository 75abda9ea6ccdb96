"""Seasonal natural disasters by region, hitting communes with a severity, and the shock they leave.

Mechanisms (knobs in the preset's `disasters` section):
- Each kind has a monthly `season` (expected events per month, January to December),
  a factor per region and per terrain. `regional` kinds (storms, central floods,
  drought) are events that sweep a region: each commune of the region is hit with its
  terrain's probability, with a severity near the event's intensity. `local` kinds
  (flash floods, landslides) strike communes one by one. Seasons follow the Vietnam
  Disaster Management Authority's calendar: storms July to October (a few into
  November), central-region floods October-November, flash floods and landslides in the
  mountains June to November, drought and salinity March to June.
- The commune's `shock` is the decaying sum of severity x `shock_weight` of its recent
  events (`shock_decay` per month): it cuts household income (`income.loss_per_shock`)
  and raises the lapse log-odds (`lapse.disaster_shock`) for months after the event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.errors import ConfigError
from dropout.simulate.config import DisasterConfig
from dropout.simulate.geography import TERRAINS, Geography

KINDS = ("storm", "flood", "flash_flood", "landslide", "drought")


class DisasterModel:
    """Draws each month's events and keeps the shock per commune."""

    def __init__(self, cfg: DisasterConfig, geo: Geography, rng: np.random.Generator):
        self.cfg = cfg
        self.rng = rng
        self.n_communes = geo.n_communes
        self.commune_region = geo.commune_region
        self.commune_terrain = geo.commune_terrain
        self.regions = geo.regions
        self.shock = np.zeros(self.n_communes)
        self.severe = np.zeros(self.n_communes, dtype=bool)  # a severity-3 event this month
        self._rows: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []
        for name, kind in cfg.kinds.items():
            if name not in KINDS:
                raise ConfigError(f"disasters.kinds: unknown kind {name!r}; allowed {KINDS}")
            if kind.scope not in ("regional", "local"):
                raise ConfigError(f"disasters.kinds.{name}.scope: {kind.scope!r} is not 'regional' or 'local'")
            if len(kind.season) != 12 or len(kind.severity_probs) != 3:
                raise ConfigError(f"disasters.kinds.{name}: season needs 12 numbers, severity_probs 3")
            missing = sorted(set(self.regions) - set(kind.region_factor))
            if missing:
                raise ConfigError(f"disasters.kinds.{name}.region_factor: no factor for region(s) {missing}")
            missing = sorted(set(TERRAINS) - set(kind.terrain_factor))
            if missing:
                raise ConfigError(f"disasters.kinds.{name}.terrain_factor: no factor for terrain(s) {missing}")

    def step(self, m: int, cal: int, first_day: int, n_days: int) -> np.ndarray:
        """Draw month `m`'s events (cal: 0 = January); return the shock per commune after them."""
        rng = self.rng
        new = np.zeros(self.n_communes)
        self.severe[:] = False
        for name, kind in self.cfg.kinds.items():
            k = KINDS.index(name)
            sev_p = np.asarray(kind.severity_probs, dtype=float)
            sev_p = sev_p / sev_p.sum()
            terrain_f = np.array([kind.terrain_factor[t] for t in TERRAINS])[self.commune_terrain]
            region_f = np.array([kind.region_factor[r] for r in self.regions])
            if kind.scope == "regional":
                counts = rng.poisson(kind.season[cal] * region_f)
                for r in np.flatnonzero(counts):  # loop over a region's few events, never communes
                    for _ in range(int(counts[r])):
                        hit = (self.commune_region == r) & (rng.random(self.n_communes) < terrain_f)
                        communes = np.flatnonzero(hit)
                        intensity = 1 + rng.choice(3, p=sev_p)
                        severity = np.clip(intensity - (rng.random(len(communes)) < 0.35), 1, 3)
                        day = np.full(len(communes), first_day + int(rng.integers(0, n_days)))
                        self._record(communes, day, k, severity, new, kind.shock_weight)
            else:
                p = np.clip(kind.season[cal] * region_f[self.commune_region] * terrain_f, 0.0, 1.0)
                communes = np.flatnonzero(rng.random(self.n_communes) < p)
                severity = 1 + rng.choice(3, size=len(communes), p=sev_p)
                day = first_day + rng.integers(0, n_days, len(communes))
                self._record(communes, day, k, severity, new, kind.shock_weight)
        self.shock = self.shock * self.cfg.shock_decay + new
        return self.shock

    def _record(self, communes, day, kind: int, severity, new: np.ndarray, weight: float) -> None:
        if len(communes) == 0:
            return
        self._rows.append((communes.astype(np.int64), np.asarray(day, dtype=np.int64), kind, severity.astype(np.int64)))
        np.add.at(new, communes, severity * weight)
        self.severe[communes[severity == 3]] = True

    def events(self, commune_names: np.ndarray) -> pd.DataFrame:
        """Every drawn event as a disasters table (not yet cut at the extraction date)."""
        if not self._rows:
            return pd.DataFrame(
                {
                    "commune": pd.Series([], dtype="str"),
                    "started_on": pd.Series([], dtype="datetime64[ns]"),
                    "kind": pd.Series([], dtype="str"),
                    "severity": pd.Series([], dtype=np.int64),
                }
            )
        communes = np.concatenate([r[0] for r in self._rows])
        days = np.concatenate([r[1] for r in self._rows])
        kinds = np.concatenate([np.full(len(r[0]), r[2]) for r in self._rows])
        severity = np.concatenate([r[3] for r in self._rows])
        return pd.DataFrame(
            {
                "commune": pd.Series(commune_names[communes], dtype="str"),
                "started_on": days.astype("datetime64[D]").astype("datetime64[ns]"),
                "kind": pd.Series(np.array(KINDS, dtype=object)[kinds], dtype="str"),
                "severity": severity,
            }
        )
