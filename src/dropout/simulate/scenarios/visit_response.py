"""Scenario `visit-response`: who responds to a visit follows from traits an office can see, and
an evening session reaches only those who come.

Mechanism (knobs in experiments/scenarios/visit-response.yaml):
- Responsiveness. The preset draws each person's visit responsiveness at random, so no
  record can tell who will respond. Here it follows traits in the data, times a milder
  random part (gamma with mean 1, shape `noise_shape`), capped at 5 (the income term
  at +-2.5 sd) and scaled to mean 1 over everyone:

      log r = income x z(log household income) + frequent_payer x [pays monthly or 3-monthly]
              + older x [50 or older at the window start] + minority x [ethnic minority]

  The story (an assumption, not a measurement): a visit mends forgetting and
  misunderstanding, not an empty purse, so the poorest, the most at risk, respond least;
  people who decide often are reminded at the right moment; people near their pension
  already know why they pay. A home visit changes the lapse log-odds of the next
  installment by -home_effect x r (the preset's number), as before.
- Turnout. The preset credits an evening session to every enrolled villager. Here each
  villager attends with probability

      clip(turnout_base - turnout_per_hour x hours from the district office, turnout_min, 1)
      x (turnout_wrong_language if the session is held in Vietnamese to a minority villager)

  (remote villages are scattered hamlets; a meeting in a language one half-follows is
  easy to skip). Only those who attend gain -session_effect x r; the session's
  truth/visits.true_effect is the mean over the village's enrolled (the effect of
  holding it).
- Exploration. With `explore_share` > 0 the simulated office gives that share of each
  month's home-visit quota, from `explore_from` on, to people with an installment due
  this month or next drawn at random (`dropout plan --explore`), the rest as before.

Truth: truth/participants gains `session_turnout` (the chance to attend a session held
in the village language) beside the new `responsiveness`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout.simulate.scenarios._util import check_range, month_index
from dropout.simulate.scenarios.base import Scenario, World


@dataclass(frozen=True)
class VisitResponseConfig:
    income: float
    frequent_payer: float
    older: float
    older_from_age: int
    minority: float
    noise_shape: float
    turnout_base: float
    turnout_per_hour: float
    turnout_min: float
    turnout_wrong_language: float
    explore_share: float
    explore_from: str


class VisitResponse(Scenario):
    name = "visit-response"

    def start(self, world: World) -> None:
        super().start(world)
        c, w = self.cfg, "scenario visit-response"
        check_range(c.turnout_base, 0.0, 1.0, f"{w}.turnout_base")
        check_range(c.turnout_min, 0.0, 1.0, f"{w}.turnout_min")
        check_range(c.turnout_wrong_language, 0.0, 1.0, f"{w}.turnout_wrong_language")
        check_range(c.explore_share, 0.0, 1.0, f"{w}.explore_share")
        check_range(c.noise_shape, 0.1, 1e6, f"{w}.noise_shape")
        pop, geo = world.pop, world.geo
        log_income = np.log(np.maximum(pop.household_income[pop.household], 1.0))
        z = np.clip((log_income - log_income.mean()) / max(log_income.std(), 1e-9), -2.5, 2.5)
        frequent = np.isin(np.asarray(pop.modes, dtype=object)[pop.mode], ("monthly", "quarterly"))
        age0 = world.calendar.year(0) - pop.birth_year
        r = np.exp(c.income * z + c.frequent_payer * frequent + c.older * (age0 >= c.older_from_age)
                   + c.minority * pop.minority)
        r = np.minimum(r * self.rng.gamma(c.noise_shape, 1.0 / c.noise_shape, pop.n), 5.0)  # no one-visit miracles
        pop.responsiveness = r / r.mean()  # read by outreach at each visit and written to truth/participants
        hours = geo.village_travel[pop.village] / 60.0
        self.turnout = np.clip(c.turnout_base - c.turnout_per_hour * hours, c.turnout_min, 1.0)
        out = world.outreach
        out.scenario_rng = self.rng
        out.session_turnout = self._turnout
        if c.explore_share > 0:
            self.explore_from = month_index(c.explore_from, world.calendar, f"{w}.explore_from")

    def _turnout(self, reached: np.ndarray, spoken_local: np.ndarray) -> np.ndarray:
        minority = self.world.pop.minority[reached]
        return self.turnout[reached] * np.where(minority & ~spoken_local, self.cfg.turnout_wrong_language, 1.0)

    def month(self, m: int, cal: int, observed: bool) -> None:
        if self.cfg.explore_share > 0:
            self.world.outreach.explore_share = self.cfg.explore_share if m >= self.explore_from else 0.0

    def finish(self, tables, truth):
        tp = truth["participants"]
        turnout = dict(zip(self.world.pop.participant_id, self.turnout))
        truth = dict(truth, participants=tp.assign(session_turnout=tp["participant_id"].map(turnout).to_numpy(float)))
        return tables, truth
