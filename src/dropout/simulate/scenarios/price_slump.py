"""Scenario `price-slump`: a crop-price slump cuts farm and forest cash income in one region for a season.

Mechanism (knobs in experiments/scenarios/price-slump.yaml):
- Where. `regions` districts are drawn in proportion to their members; in each,
  `commune_share` of the communes (at least one) grow the crop whose price falls
  (acacia wood chips and cassava are sold to a few traders, for export to China).
- When. The slump starts in a month drawn from `start_between`, lasts `months` (drawn
  in that range) and prices climb back linearly over `recovery_months`.
- Whom. A household's cash income is cut by the largest `cut` of its members'
  occupations (farmers, forest workers; traders and wage workers little or not at
  all), scaled by the slump's depth (1 during the slump, falling to 0 over the
  recovery). The cut multiplies the household income the simulator already draws
  (poverty.py), so it acts where real cash shortage acts: the net cost share of the
  oracle, the 12-month income the poverty review assesses (a long slump over the review
  months puts households on the lists, which raises their support), and the decision
  to lower the declared income base (`downgrade_shock`: the cut counts as that many
  units of disaster shock in payments.open_rows).
- Cash in hand. Farmers hold back their harvest and cut wood waiting for prices to
  recover, so the sale the installment is usually paid from does not happen: the lapse
  log-odds rise by `cash_lapse` per unit of income lost (scenario_logit), on top of the
  lower income.
- Unlike a disaster, nothing records it: no event, no date, no commune list.

Traces in the raw tables: lapses and downgrades of the income base among farmers and
forest workers of some communes for a season, none among traders next door; more
households on the poverty lists if the slump spans a review.

Truth: `price_slump`, the share of the household's cash income lost that month, and
`price_slump_logit`, the cash-in-hand log-odds.

Numbers: acacia chip prices fell by about a third in 2023 and cassava prices by a
fifth (trade press, Vietnam Timber and Forest Products Association); the cuts by
occupation, the season's length and the cash-in-hand effect are assumptions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout.errors import ConfigError
from dropout.simulate.population import OCCUPATIONS
from dropout.simulate.scenarios._util import check_keys, check_pair, check_range, draw_month, weighted_choice
from dropout.simulate.scenarios.base import Batch, Effect, Scenario, World


@dataclass(frozen=True)
class PriceSlumpConfig:
    regions: int
    commune_share: float
    start_between: list[str]
    months: list[int]
    recovery_months: int
    cut: dict[str, float]
    downgrade_shock: float
    cash_lapse: float


class PriceSlump(Scenario):
    name = "price-slump"
    truth_columns = ("price_slump", "price_slump_logit")

    def start(self, world: World) -> None:
        super().start(world)
        c, w, rng = self.cfg, "scenario price-slump", self.rng
        check_keys(c.cut, OCCUPATIONS, f"{w}.cut", complete=True)
        for occ, v in c.cut.items():
            check_range(v, 0.0, 0.95, f"{w}.cut.{occ}")
        check_range(c.commune_share, 0.0, 1.0, f"{w}.commune_share")
        check_pair(c.months, f"{w}.months", 1, 120)
        if c.regions < 1 or c.recovery_months < 0:
            raise ConfigError(f"{w}: regions must be >= 1 and recovery_months >= 0")
        geo, pop = world.geo, world.pop
        members = np.bincount(pop.district, minlength=len(geo.districts))
        districts = weighted_choice(rng, members, c.regions)
        hit = np.zeros(geo.n_communes, dtype=bool)
        for d in districts:  # a few districts
            communes = np.flatnonzero(geo.commune_district == d)
            k = max(1, int(round(c.commune_share * len(communes))))
            hit[rng.choice(communes, size=k, replace=False)] = True
        self.communes = np.flatnonzero(hit)
        self.first = draw_month(rng, c.start_between, world.calendar, f"{w}.start_between")
        self.length = int(rng.integers(c.months[0], c.months[1] + 1))
        person_cut = np.array([c.cut[o] for o in world.occupation], dtype=float)
        n_hh = len(pop.household_id)
        hh_cut = np.zeros(n_hh)
        np.maximum.at(hh_cut, pop.household, person_cut)
        self.hh_cut = np.where(hit[geo.village_commune[pop.household_village]], hh_cut, 0.0)
        self.loss = np.zeros(n_hh)  # share of cash income lost this month
        self.active = False

    def depth(self, m: int) -> float:
        """1 during the slump, falling linearly to 0 over the recovery months."""
        since = m - self.first
        if since < 0:
            return 0.0
        if since < self.length:
            return 1.0
        return max(0.0, 1.0 - (since - self.length + 1) / (self.cfg.recovery_months + 1))

    def month(self, m: int, cal: int, observed: bool) -> None:
        depth = self.depth(m)
        self.loss = self.hh_cut * depth if depth > 0 else np.zeros_like(self.hh_cut)
        self.active = depth > 0

    def income_factor(self) -> np.ndarray | None:
        return 1.0 - self.loss if self.active else None

    def downgrade_shock(self) -> np.ndarray | None:
        return self.cfg.downgrade_shock * self.loss[self.world.pop.household] if self.active else None

    def decide(self, batch: Batch) -> Effect:
        loss = self.loss[self.world.pop.household[batch.idx]]
        logit = self.cfg.cash_lapse * loss
        return Effect(logit=logit, truth={"price_slump": loss, "price_slump_logit": logit})
