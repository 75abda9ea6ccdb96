"""Household income through the year and the poverty status that follows from it.

Mechanisms:
- Monthly per-capita income (`income` section) = latent level x yearly growth x harvest
  calendar x a persistent idiosyncratic AR(1) shock x the loss left by recent disasters.
  Cash comes at harvest (central Vietnam: rice in May-June and September-October,
  acacia and cassava sold late in the year) and runs out in the lean months before it.
- Poverty status (`poverty` section) is decided from assessed income against the
  Decree 07/2021 rural lines: poor below 1.5M VND per person per month; near-poor up to
  `near_poor_below_vnd` (a simplification of the deprivation count we do not model).
  The annual review runs September to December, once per commune (its month and day are
  drawn per year); assessments are noisy (`assessment_sd`) and sticky (`exit_margin`:
  leaving a list needs income clearly above its line). Between reviews a household may
  ask to be re-assessed (`request_review_prob`, more after a severity-3 disaster,
  `disaster_review_prob`); such requests only ever add a household to a list.
  Leaving the poor list ends the poor subsidy rate at once: the price shock we model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.errors import ConfigError
from dropout.simulate.config import SimConfig

STATUSES = ("poor", "near_poor", "none")
POOR, NEAR_POOR, NONE = 0, 1, 2


class HouseholdEconomy:
    """Income and poverty status of every household, stepped month by month."""

    def __init__(self, cfg: SimConfig, household_income: np.ndarray, household_commune: np.ndarray,
                 n_communes: int, start: np.datetime64, n_months: int, rng: np.random.Generator):
        self.inc = cfg.income
        self.pov = cfg.poverty
        if len(self.inc.harvest_calendar) != 12:
            raise ConfigError("income.harvest_calendar: expected 12 numbers, January to December")
        harvest = np.asarray(self.inc.harvest_calendar, dtype=float)
        self.harvest = harvest / harvest.mean()
        bad = sorted(set(self.pov.review_months) - set(range(1, 13)))
        if bad:
            raise ConfigError(f"poverty.review_months: {bad} are not months 1-12")
        self.rng = rng
        self.level = household_income
        self.commune = household_commune
        n = len(household_income)
        self.ar = np.zeros(n)
        self.avg12 = household_income.copy()
        self.income = household_income.copy()

        # the commune's annual review: one month in the review window and a day, per year
        start_year = int(start.astype("datetime64[Y]").astype(int)) + 1970
        self.first_year = start_year - 1
        n_years = n_months // 12 + 3
        months = np.asarray(self.pov.review_months)
        self.review_month = months[rng.integers(0, len(months), (n_years, n_communes))] - 1
        self.review_day = rng.integers(0, 28, (n_years, n_communes))

        assessed = self.level * np.exp(rng.normal(0.0, self.pov.assessment_sd, n))
        self.status = np.where(
            assessed < self.pov.poor_below_vnd, POOR, np.where(assessed < self.pov.near_poor_below_vnd, NEAR_POOR, NONE)
        ).astype(np.int8)
        # the status in force at the start was decided at the previous year's review
        month0 = np.datetime64(f"{self.first_year}-01", "M") + self.review_month[0][household_commune]
        day0 = month0.astype("datetime64[D]").astype(np.int64) + self.review_day[0][household_commune]
        self._changes = [(np.arange(n), day0, self.status.copy())]

    def step_income(self, m: int, cal: int, shock: np.ndarray, factor: np.ndarray | None = None) -> np.ndarray:
        """This month's per-capita income of every household (VND).

        `factor` (per household) multiplies cash income: a scenario's shock (scenarios/price_slump.py).
        """
        c = self.inc
        self.ar = c.ar_rho * self.ar + self.rng.normal(0.0, c.ar_sd, len(self.ar))
        loss = np.maximum(c.floor_share, 1.0 - c.loss_per_shock * shock[self.commune])
        underlying = self.level * np.exp(c.growth_yearly * m / 12.0 + self.ar) * loss
        if factor is not None:
            underlying = underlying * factor
        self.avg12 += (underlying - self.avg12) / 12.0  # what a 12-month income survey would see
        self.income = underlying * self.harvest[cal]
        return self.income

    def review(self, year: int, cal: int, first_day: int, severe: np.ndarray) -> None:
        """Annual review (both ways) and requests (only onto a list) in this month."""
        p, rng = self.pov, self.rng
        n = len(self.status)
        y = year - self.first_year
        annual = self.review_month[y][self.commune] == cal
        request = rng.random(n) < np.where(severe[self.commune], p.disaster_review_prob, p.request_review_prob)
        reviewed = np.flatnonzero(annual | request)
        if len(reviewed) == 0:
            return
        old = self.status[reviewed]
        assessed = self.avg12[reviewed] * np.exp(rng.normal(0.0, p.assessment_sd, len(reviewed)))
        poor_line = p.poor_below_vnd * np.where(old == POOR, 1.0 + p.exit_margin, 1.0)
        near_line = p.near_poor_below_vnd * np.where(old <= NEAR_POOR, 1.0 + p.exit_margin, 1.0)
        new = np.where(assessed < poor_line, POOR, np.where(assessed < near_line, NEAR_POOR, NONE)).astype(np.int8)
        new = np.where(annual[reviewed], new, np.minimum(new, old))
        changed = new != old
        who = reviewed[changed]
        if len(who) == 0:
            return
        day = np.where(
            annual[who],
            first_day + self.review_day[y][self.commune[who]],
            first_day + rng.integers(0, 28, len(who)),
        )
        self.status[who] = new[changed]
        self._changes.append((who, day.astype(np.int64), new[changed]))

    def spells(self, household_id: np.ndarray) -> pd.DataFrame:
        """Every status spell (not yet cut at the extraction date), valid_to null = open."""
        hh = np.concatenate([c[0] for c in self._changes])
        day = np.concatenate([c[1] for c in self._changes])
        status = np.concatenate([c[2] for c in self._changes])
        order = np.lexsort((day, hh))
        hh, day, status = hh[order], day[order], status[order]
        last = np.append(hh[1:] != hh[:-1], True)
        valid_to = np.where(last, np.iinfo(np.int64).min, np.roll(day, -1) - 1)
        return pd.DataFrame(
            {
                "household_id": household_id[hh],
                "status": pd.Series(np.array(STATUSES, dtype=object)[status], dtype="str"),
                "valid_from": day.astype("datetime64[D]").astype("datetime64[ns]"),
                "valid_to": _days_or_nat(valid_to),
            }
        )


def _days_or_nat(days: np.ndarray) -> np.ndarray:
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days == np.iinfo(np.int64).min] = np.datetime64("NaT")
    return out
