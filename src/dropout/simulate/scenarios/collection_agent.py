"""Scenario `collection-agent`: a commune's collection agent leaves and nobody collects for months.

Mechanism (knobs in experiments/scenarios/collection-agent.yaml):
- Voluntary contributions in rural communes are mostly paid to a collection agent
  (dai ly thu: the post office counter or a commune official paid by commission) who
  comes to the village. Agents leave (low commission, a better job, retirement): each
  commune's agent leaves with `leave_yearly`; at least `min_episodes` absences fall in
  the observed window of every run (a commune weighted by its members, without an
  absence yet). Absences of one commune never overlap.
- No agent. For `gap_months` (drawn per absence) nobody in the commune has anywhere
  convenient to pay: an installment due there cannot be paid with `blocked_share`
  (drawn per absence), whatever the person's traits (p_blocked in the oracle); the
  others pay at the district post office, decided as usual. Suspended members cannot
  resume either.
- New agent. For `drive_months` after the new agent starts, the agent goes house to
  house: `drive_resume` on the resume log-odds of suspended members (entered as
  -drive_resume / resume_scale on the hazard, see base.py), `drive_lapse` on the lapse
  log-odds of the others.

Traces in the raw tables: a commune goes quiet (few payments for months, across all
its villages and kinds of people at once), then a burst of resumptions and make-up
payments when the new agent starts.

Truth: `no_agent` (1 when due in a commune without an agent), `agent_logit` (the new
agent's drive, in hazard log-odds).

Numbers are assumptions: about one commune in twenty loses its agent in a year, it
takes 3-8 months to recruit and train a new one, and half to four fifths of those due
in between do not make the trip to the district.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout.errors import ConfigError
from dropout.simulate.scenarios._util import check_pair, check_range, weighted_choice
from dropout.simulate.scenarios.base import Batch, Effect, Scenario, World


@dataclass(frozen=True)
class CollectionAgentConfig:
    leave_yearly: float
    min_episodes: int
    gap_months: list[int]
    blocked_share: list[float]
    drive_months: int
    drive_resume: float
    drive_lapse: float


class CollectionAgent(Scenario):
    name = "collection-agent"
    truth_columns = ("no_agent", "agent_logit")

    def start(self, world: World) -> None:
        super().start(world)
        c, w, rng = self.cfg, "scenario collection-agent", self.rng
        check_range(c.leave_yearly, 0.0, 1.0, f"{w}.leave_yearly")
        check_pair(c.gap_months, f"{w}.gap_months", 1, 120)
        check_pair(c.blocked_share, f"{w}.blocked_share", 0.0, 1.0)
        if c.min_episodes < 0 or c.drive_months < 0:
            raise ConfigError(f"{w}: min_episodes and drive_months must be >= 0")
        if c.drive_resume and world.cfg.lapse.resume_scale <= 0:
            raise ConfigError(f"{w}.drive_resume: needs lapse.resume_scale > 0 in the preset")
        n_months, n_obs = world.calendar.n_total, world.calendar.n_observed
        n_c = world.geo.n_communes
        p_month = 1.0 - (1.0 - c.leave_yearly) ** (1.0 / 12.0)
        month, commune = np.nonzero(rng.random((n_months, n_c)) < p_month)
        order = np.lexsort((month, commune))
        starts = list(zip(commune[order].tolist(), month[order].tolist()))
        free_from = np.zeros(n_c, dtype=np.int64)
        episodes = []
        for com, m in starts:  # a few per commune over the run, never a loop over people
            if m >= free_from[com]:
                episodes.append(self._episode(com, m))
                free_from[com] = m + episodes[-1][2] + c.drive_months
        members = np.bincount(world.pop.commune, minlength=n_c).astype(float)
        members[np.unique([e[0] for e in episodes]).astype(np.int64)] = 0.0  # a commune without an absence yet
        short = c.min_episodes - sum(e[1] < n_obs for e in episodes)
        for com in weighted_choice(rng, members, max(short, 0)):
            episodes.append(self._episode(int(com), int(rng.integers(0, max(1, n_obs - c.gap_months[1])))))
        self.no_agent = np.zeros((n_months, n_c), dtype=bool)
        self.block = np.zeros((n_months, n_c))
        self.drive = np.zeros((n_months, n_c), dtype=bool)
        for com, m, gap, share in episodes:
            self.no_agent[m:m + gap, com] = True
            self.block[m:m + gap, com] = share
            self.drive[m + gap:m + gap + c.drive_months, com] = True
        self.episodes = episodes
        self.resume_shift = -c.drive_resume / world.cfg.lapse.resume_scale if c.drive_resume else 0.0

    def _episode(self, commune: int, m: int) -> tuple[int, int, int, float]:
        lo, hi = self.cfg.gap_months
        gap = int(self.rng.integers(lo, hi + 1))
        return commune, m, gap, float(self.rng.uniform(*self.cfg.blocked_share))

    def decide(self, batch: Batch) -> Effect:
        com = self.world.pop.commune[batch.idx]
        drive = self.drive[batch.m, com]
        logit = np.where(drive, np.where(batch.suspended, self.resume_shift, self.cfg.drive_lapse), 0.0)
        return Effect(logit=logit, block=self.block[batch.m, com],
                      truth={"no_agent": self.no_agent[batch.m, com].astype(float), "agent_logit": logit})
