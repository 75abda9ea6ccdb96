"""Scenario `rumour`: a rumour that the fund is unsafe spreads from village to village, then fades.

Mechanism (knobs in experiments/scenarios/rumour.yaml):
- Start. In a month drawn from `start_between`, `origins` villages (drawn in
  proportion to their members) hear that the social insurance fund is going bankrupt
  and that those who do not take their money out now will lose it (rumours of this
  kind ran through Vietnamese social media in 2022-2023 and drove queues for the lump
  sum).
- Spread. A village that has heard it has intensity 1, halving every
  `half_life_months` and gone below `cutoff`. Each month a village that has not heard
  it yet hears it with probability 1 - exp(-spread_commune x the mean intensity of
  its commune's villages): people talk at the commune market and at funerals. A commune
  nobody in which has heard it yet is reached (in one of its villages) with probability
  1 - exp(-spread_district x the mean over the district's other communes of their
  intensity): news crosses communes more slowly. Counted per commune, not per village,
  so the reach does not grow with the number of villages simulated. A village hears it
  once; it does not cross districts.
- Effect. Where it has arrived the lapse log-odds rise by `lapse` x intensity (and, as
  lapse.py does for any shift, resumption is held back half as strongly); the monthly
  lump-sum withdrawal hazard of eligible members is multiplied by
  1 + (withdrawal_factor - 1) x intensity. Officers hear it at the door: a home visit
  there is noted `visit_note` with `visit_note_share` x intensity.

Traces in the raw tables: lapses and lump-sum claims that rise village by village,
first in one commune then its neighbours, then ebb; visit notes about the rumour.

Truth: `rumour` (the intensity in the person's village at the decision),
`rumour_logit` (its log-odds on the hazard).

Numbers are assumptions: a rumour that doubles the odds of lapsing where it is fresh
and fades within half a year, spreading through a commune in one to three months.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout.errors import ConfigError
from dropout.simulate.scenarios._util import check_range, draw_month, weighted_choice
from dropout.simulate.scenarios.base import Batch, Effect, Scenario, World


@dataclass(frozen=True)
class RumourConfig:
    origins: int
    start_between: list[str]
    spread_commune: float
    spread_district: float
    half_life_months: float
    cutoff: float
    lapse: float
    withdrawal_factor: float
    visit_note: str
    visit_note_share: float


class Rumour(Scenario):
    name = "rumour"
    truth_columns = ("rumour", "rumour_logit")

    def start(self, world: World) -> None:
        super().start(world)
        c, w = self.cfg, "scenario rumour"
        if c.origins < 1:
            raise ConfigError(f"{w}.origins: at least one village must start the rumour")
        if c.half_life_months <= 0:
            raise ConfigError(f"{w}.half_life_months: must be > 0")
        check_range(c.cutoff, 0.0, 1.0, f"{w}.cutoff")
        check_range(c.visit_note_share, 0.0, 1.0, f"{w}.visit_note_share")
        if c.withdrawal_factor < 0:
            raise ConfigError(f"{w}.withdrawal_factor: must be >= 0")
        geo, pop = world.geo, world.pop
        members = np.bincount(pop.village, minlength=geo.n_villages)
        villages = weighted_choice(self.rng, members, c.origins)
        self.start_month = np.array([draw_month(self.rng, c.start_between, world.calendar,
                                                f"{w}.start_between") for _ in villages], dtype=np.int64)
        self.origin = villages
        self.arrival = np.full(geo.n_villages, -1, dtype=np.int64)
        self.intensity = np.zeros(geo.n_villages)
        self.villages_of = np.argsort(geo.village_commune, kind="stable")  # villages grouped by commune
        self.in_commune = np.bincount(geo.village_commune, minlength=geo.n_communes)
        self.first_of = np.concatenate([[0], np.cumsum(self.in_commune)[:-1]])
        self.communes_in_district = np.bincount(geo.commune_district, minlength=len(geo.districts))

    def month(self, m: int, cal: int, observed: bool) -> None:
        c, geo, rng = self.cfg, self.world.geo, self.rng
        heard = self.arrival >= 0
        level = np.where(heard, 0.5 ** ((m - self.arrival) / c.half_life_months), 0.0)
        level[level < c.cutoff] = 0.0
        commune = np.bincount(geo.village_commune, weights=level, minlength=geo.n_communes) / np.maximum(
            self.in_commune, 1)
        new = ~heard & (rng.random(geo.n_villages) < -np.expm1(-c.spread_commune * commune[geo.village_commune]))
        district = np.bincount(geo.commune_district, weights=commune, minlength=len(geo.districts))
        others = (district[geo.commune_district] - commune) / np.maximum(self.communes_in_district[geo.commune_district] - 1, 1)
        untouched = (np.bincount(geo.village_commune, weights=heard, minlength=geo.n_communes) == 0) & (self.in_commune > 0)
        seeded = np.flatnonzero(untouched & (rng.random(geo.n_communes) < -np.expm1(-c.spread_district * others)))
        pick = self.first_of[seeded] + np.floor(rng.random(len(seeded)) * self.in_commune[seeded]).astype(np.int64)
        new[self.villages_of[pick]] = True
        new[self.origin[self.start_month == m]] = True
        new &= ~heard
        self.arrival[new] = m
        level[new] = 1.0
        self.intensity = level

    def _person(self) -> np.ndarray:
        return self.intensity[self.world.pop.village]

    def withdrawal_factor(self) -> np.ndarray | None:
        if not self.intensity.any():
            return None
        return 1.0 + (self.cfg.withdrawal_factor - 1.0) * self._person()

    def decide(self, batch: Batch) -> Effect:
        level = self.intensity[self.world.pop.village[batch.idx]]
        logit = self.cfg.lapse * level
        return Effect(logit=logit, truth={"rumour": level, "rumour_logit": logit})

    def after_outreach(self, outreach, since: int) -> None:
        if self.intensity.any():
            outreach.rewrite_notes(since, self._person() * self.cfg.visit_note_share, self.cfg.visit_note, self.rng)
