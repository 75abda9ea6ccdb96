"""Scenario `mode-switch`: members change payment mode as their cash allows.

Mechanism (knobs in experiments/scenarios/mode-switch.yaml):
- The rule (Decree 115/2015 art. 9, kept by Decree 159/2025): a participant may change
  the payment mode once the period of the mode chosen before has been paid for, i.e.
  at the start of a new period. So a switch happens only where a period would open
  (payments.open_rows), for a paying (not suspended) member, and the new mode's
  periods start from that month: the installments from the switch on show the new
  `months_covered`, deadline (contribution_rules.yaml) and amount.
- Down (`down`): a member whose next installment is a large lump compared with this
  month's household income (annual or semiannual paid at the start of the lean months)
  asks to pay in small amounts: probability sigmoid(intercept + slope x lump share),
  lump share = 22 % x income base x months covered / monthly per-capita income; the
  new mode is drawn from `to_modes`.
- Up (`up`): a member paying monthly or quarterly in a month when income is well above
  its 12-month average (after a harvest) pays a year ahead: sigmoid(intercept + slope
  x max(income / 12-month average - 1, 0)).
- Switches happen only up to the extraction date (the schedule written for the
  following year is the one known then). The participants table keeps the mode chosen
  at enrolment (its `payment_mode` is the registered mode); the ledger shows the
  switches.
- A switch changes the oracle through the lump each decision weighs: the exposure of
  lapse.exposure_months follows the installment's own mode.

Traces in the raw tables: a member's installments change length, deadline and amount;
a switch to small payments comes when cash is short.

Truth: `exposure`, the mode's exposure used for each decision.

Numbers are assumptions: about one annual payer in ten switches down at a lean-month
renewal, a few monthly payers in a hundred switch up after a harvest.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dropout.errors import ConfigError
from dropout.simulate.payments import ACTIVE
from dropout.simulate.scenarios._util import sigmoid
from dropout.simulate.scenarios.base import Batch, Effect, Scenario, World


@dataclass(frozen=True)
class SwitchRule:
    from_modes: list[str]
    to_modes: dict[str, float]
    intercept: float
    slope: float


@dataclass(frozen=True)
class ModeSwitchConfig:
    down: SwitchRule
    up: SwitchRule


class ModeSwitch(Scenario):
    name = "mode-switch"
    truth_columns = ("exposure",)

    def start(self, world: World) -> None:
        super().start(world)
        modes = list(world.pop.modes)
        for way in ("down", "up"):
            rule, w = getattr(self.cfg, way), f"scenario mode-switch.{way}"
            for where, names in ((f"{w}.from_modes", rule.from_modes), (f"{w}.to_modes", list(rule.to_modes))):
                bad = sorted(set(names) - set(modes))
                if bad:
                    raise ConfigError(f"{where}: unknown mode(s) {bad}; allowed {modes}")
            if set(rule.from_modes) & set(rule.to_modes):
                raise ConfigError(f"{w}: a mode may not be both in from_modes and to_modes")
            if not rule.to_modes or min(rule.to_modes.values()) < 0 or sum(rule.to_modes.values()) <= 0:
                raise ConfigError(f"{w}.to_modes: expected positive weights")
        specs = [world.rules.payment_modes[name] for name in modes]
        lp = world.cfg.lapse
        self.months_of = np.array([s.months_covered for s in specs])
        self.deadline_of = np.array([s.deadline_months for s in specs])
        self.exposure_of = np.array([lp.exposure_months[name] for name in modes], dtype=float)
        self.modes = modes
        self.switches: list[tuple[np.ndarray, int, np.ndarray, np.ndarray]] = []  # who, month, from, to

    def _target(self, rule: SwitchRule, n: int) -> np.ndarray:
        names = list(rule.to_modes)
        w = np.array([rule.to_modes[k] for k in names], dtype=float)
        return np.array([self.modes.index(k) for k in names])[self.rng.choice(len(names), size=n, p=w / w.sum())]

    def switch_modes(self, m: int, cal: int, observed: bool) -> None:
        if not observed:
            return
        world, sch = self.world, self.world.schedule
        st, pop, econ = world.st, world.pop, world.economy
        renew = (st.status == ACTIVE) & (pop.enrol_month < m) & ((m - sch.anchor) % sch.months_covered == 0)
        idx = np.flatnonzero(renew)
        if len(idx) == 0:
            return
        hh = pop.household[idx]
        income = econ.income[hh]
        lump = world.rules.contribution_rate * st.base[idx] * sch.months_covered[idx] / income
        good = np.maximum(income / econ.avg12[hh] - 1.0, 0.0)
        u = self.rng.random(len(idx))
        new = sch.mode[idx].copy()
        for rule, x in ((self.cfg.down, lump), (self.cfg.up, good)):
            can = np.isin(sch.mode[idx], [self.modes.index(k) for k in rule.from_modes])
            go = can & (u < sigmoid(rule.intercept + rule.slope * x))
            new[go] = self._target(rule, int(go.sum()))
        moved = new != sch.mode[idx]
        who = idx[moved]
        if len(who) == 0:
            return
        self.switches.append((who, m, sch.mode[who].copy(), new[moved]))
        sch.mode[who] = new[moved]
        sch.months_covered[who] = self.months_of[new[moved]]
        sch.deadline[who] = self.deadline_of[new[moved]]
        sch.exposure[who] = self.exposure_of[new[moved]]
        sch.anchor[who] = m

    def decide(self, batch: Batch) -> Effect:
        return Effect(truth={"exposure": batch.exposure})
