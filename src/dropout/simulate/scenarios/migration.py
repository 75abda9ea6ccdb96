"""Scenario `migration`: members leave to work in industrial zones, stop paying, some come back.

Mechanism (knobs in experiments/scenarios/migration.yaml):
- Leaving. Each month an enrolled member who is at home leaves with hazard
      departure_monthly x age factor x occupation factor x season[month]
                        x village network x (1 + follow x share of the village who left lately)
  The young leave most (`young_factor` at `young_age` and below, fading to 1 at
  `old_age`): factory jobs in the Bac Ninh, Binh Duong or Da Nang zones hire people
  under ~35. Most leave after Tet (`season`: February-March), when the New Year's
  money is spent and factories hire. Villages differ in how many of their people
  already work away (`village_sigma`, a lognormal network strength per village), and
  people follow neighbours: recent departures from the village raise the hazard
  (`follow`, over `follow_months`). A spouse who also pays leaves with the leaver with
  `spouse_follows`.
- Away. An installment due while the member is away cannot be paid with `away_block`
  (nobody at home pays it; the others are paid by a parent, then decided as usual):
  p_blocked in the oracle. In a factory the member is covered by compulsory insurance,
  so paying the voluntary scheme from afar has little point.
- Coming back. `stay_share` of leavers settle away for good; the others come home with
  `return_monthly` x `return_season[month]` (most for Tet: December-February). For
  `return_months` after coming home a suspended member resumes more readily (savings
  from the factory: `return_resume` on the resume log-odds), and `returnee_makeup_share`
  of those who resume pay the missed months (the existing make-up mechanism, with its
  interest).
- What an officer sees: a home visit to someone away is noted `visit_note`
  ("gone away for work") with `visit_note_share`.

Traces in the raw tables: young members' payments stop (more after Tet), in clusters
by village and household; resumptions and make-up payments around the next Tet;
visit notes. The `away` state itself is in truth only.

Truth: `away` (1 when the decision fell while away), `migration_logit` (the log-odds
the return adds to the hazard; -return_resume / resume_scale for a suspended returnee).

Numbers are assumptions: about 4 % of members a year leave (twice that among the under
30s), a third of leavers stay away, the others are back after about a year; the
MOLISA/GSO labour migration surveys report that young ethnic-minority workers from
the central mountains go to the southern industrial zones mostly after Tet.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from dropout.errors import ConfigError
from dropout.simulate.payments import ACTIVE, SUSPENDED
from dropout.simulate.population import OCCUPATIONS
from dropout.simulate.scenarios._util import check_keys, check_months, check_range
from dropout.simulate.scenarios.base import Batch, Effect, Scenario, World

NEVER = -10_000


@dataclass(frozen=True)
class MigrationConfig:
    departure_monthly: float
    young_factor: float
    young_age: float
    old_age: float
    occupation_factor: dict[str, float]
    season: list[float]
    village_sigma: float
    follow: float
    follow_months: int
    spouse_follows: float
    stay_share: float
    return_monthly: float
    return_season: list[float]
    away_block: float
    return_resume: float
    return_months: int
    returnee_makeup_share: float
    visit_note: str
    visit_note_share: float


def partners(household: np.ndarray) -> np.ndarray:
    """The other participant of each person's household (-1 if none; households hold at most two)."""
    order = np.argsort(household, kind="stable")
    h = household[order]
    pair = np.flatnonzero(h[1:] == h[:-1])
    out = np.full(len(household), -1, dtype=np.int64)
    out[order[pair]] = order[pair + 1]
    out[order[pair + 1]] = order[pair]
    return out


class Migration(Scenario):
    name = "migration"
    truth_columns = ("away", "migration_logit")

    def start(self, world: World) -> None:
        super().start(world)
        c, w = self.cfg, "scenario migration"
        self.season = check_months(c.season, f"{w}.season")
        self.return_season = check_months(c.return_season, f"{w}.return_season")
        check_keys(c.occupation_factor, OCCUPATIONS, f"{w}.occupation_factor", complete=True)
        for knob in ("spouse_follows", "stay_share", "away_block", "returnee_makeup_share", "visit_note_share"):
            check_range(getattr(c, knob), 0.0, 1.0, f"{w}.{knob}")
        if not c.young_age < c.old_age:
            raise ConfigError(f"{w}: young_age {c.young_age} must be below old_age {c.old_age}")
        if c.return_resume and world.cfg.lapse.resume_scale <= 0:
            raise ConfigError(f"{w}.return_resume: needs lapse.resume_scale > 0 in the preset")
        pop, geo = world.pop, world.geo
        n = pop.n
        sigma = c.village_sigma
        self.network = self.rng.lognormal(-sigma**2 / 2, sigma, geo.n_villages)  # mean 1
        self.occ = np.array([c.occupation_factor[o] for o in world.occupation], dtype=float)
        self.partner = partners(pop.household)
        self.away = np.zeros(n, dtype=bool)
        self.stays = np.zeros(n, dtype=bool)
        self.returned = np.full(n, NEVER, dtype=np.int64)
        self.recent = deque(maxlen=max(1, c.follow_months))
        self.resume_shift = -c.return_resume / world.cfg.lapse.resume_scale if c.return_resume else 0.0

    def month(self, m: int, cal: int, observed: bool) -> None:
        c, rng, pop, st = self.cfg, self.rng, self.world.pop, self.world.st
        back = np.flatnonzero(self.away & ~self.stays)
        back = back[rng.random(len(back)) < c.return_monthly * self.return_season[cal]]
        self.away[back] = False
        self.returned[back] = m

        live = (st.status == ACTIVE) | (st.status == SUSPENDED)
        n_v = self.world.geo.n_villages
        members = np.bincount(pop.village[live], minlength=n_v)
        left = sum(self.recent) if self.recent else np.zeros(n_v)
        follow = 1.0 + c.follow * left / np.maximum(members, 1)
        cand = np.flatnonzero(live & ~self.away & (self.returned != m))
        age = self.world.calendar.year(m) + (cal + 0.5) / 12.0 - pop.birth_year[cand] - 0.5
        young = np.clip((c.old_age - age) / (c.old_age - c.young_age), 0.0, 1.0)
        v = pop.village[cand]
        h = (c.departure_monthly * (1.0 + (c.young_factor - 1.0) * young) * self.occ[cand]
             * self.season[cal] * self.network[v] * follow[v])
        go = cand[rng.random(len(cand)) < np.minimum(h, 0.5)]
        mate = self.partner[go]
        mate = mate[(mate >= 0)]
        mate = mate[live[mate] & ~self.away[mate]]
        mate = np.setdiff1d(mate, go)
        go = np.union1d(go, mate[rng.random(len(mate)) < c.spouse_follows])
        self.away[go] = True
        self.stays[go] = rng.random(len(go)) < c.stay_share
        self.recent.append(np.bincount(pop.village[go], minlength=n_v))

    def decide(self, batch: Batch) -> Effect:
        c, idx = self.cfg, batch.idx
        away = self.away[idx]
        home_again = ~away & (batch.m - self.returned[idx] < c.return_months)
        logit = np.where(batch.suspended & home_again, self.resume_shift, 0.0)
        share = np.where(home_again, c.returnee_makeup_share, self.world.cfg.lapse.makeup_share)
        return Effect(logit=logit, block=away * c.away_block, makeup_share=share,
                      truth={"away": away.astype(float), "migration_logit": logit})

    def after_outreach(self, outreach, since: int) -> None:
        outreach.rewrite_notes(since, self.away * self.cfg.visit_note_share, self.cfg.visit_note, self.rng)
