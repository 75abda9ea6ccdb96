"""Participants and their households: who enrols, when, how they pay, and their latent traits.

Mechanisms (knobs in the preset's `population` section unless said otherwise):
- Enrolment: a share of participants (`stock_share`) already paid before the simulated
  window, enrolled from `stock_first_year` on with growing numbers; the others enrol
  inside the window in waves: yearly weights, year-end drives (`month_weights`: the
  October-December campaign months of Vietnam Social Security), and a jump after the
  2025-07-01 reform (`reform_enrolment_factor`).
- Households: people of one village are paired into one household with
  `household_pair_prob` (couples who both pay); a household shares ethnicity, latent
  income and poverty status.
- Latent per-capita household income: lognormal around a median by terrain and
  ethnicity (`income.median_vnd`; ethnic-minority mountain households earn about a third
  of the national average, DESIGN.md).
- Payment mode and declared income base: mostly the minimum base (the rural poverty
  line, from contribution_rules.yaml), a few above it.
- Latent traits (truth only): person effect on the lapse log-odds (`lapse.person_sd`),
  tardiness (how close to the deadline one pays, `lapse.tardiness_beta`) and visit
  responsiveness (`outreach.responsiveness_shape`, `outreach.unresponsive_share`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dropout.errors import ConfigError
from dropout.reference import ContributionRules
from dropout.simulate.config import SimConfig
from dropout.simulate.geography import TERRAINS, Geography

OCCUPATIONS = ("farmer", "forest_worker", "trader", "wage_worker", "village_worker", "other")
ID_BLOCK = 100_000_000  # participant_id = province code x 10^8 + number in order of enrolment


def terrain_group(terrain_idx: np.ndarray) -> np.ndarray:
    """'mountain' for mountain districts, 'lowland' for the rest (the income and mix keys)."""
    return np.where(terrain_idx == TERRAINS.index("mountain"), "mountain", "lowland")


@dataclass
class Population:
    """Static facts about people (arrays indexed by participant) and households."""

    participant_id: np.ndarray
    household: np.ndarray  # index into the household arrays
    village: np.ndarray
    commune: np.ndarray
    district: np.ndarray
    province: np.ndarray
    enrol_month: np.ndarray  # month index relative to the window start (negative: before)
    birth_year: np.ndarray
    female: np.ndarray
    minority: np.ndarray
    village_worker: np.ndarray
    mode: np.ndarray  # index into `modes`
    modes: tuple[str, ...]
    income_base: np.ndarray
    prior_paid_months: np.ndarray
    person_effect: np.ndarray
    tardiness: np.ndarray
    responsiveness: np.ndarray
    household_id: np.ndarray  # per household
    household_village: np.ndarray
    household_income: np.ndarray  # latent monthly per-capita income at the window start, VND
    participants: pd.DataFrame

    @property
    def n(self) -> int:
        return len(self.participant_id)


def _choice(rng: np.random.Generator, weights: dict, size: int) -> np.ndarray:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=size, p=p / p.sum())]


def _enrol_months(cfg: SimConfig, n: int, start: np.datetime64, n_months: int, rng) -> np.ndarray:
    pc = cfg.population
    month_w = np.asarray(pc.month_weights, dtype=float)
    if month_w.shape != (12,):
        raise ConfigError("population.month_weights: expected 12 numbers, January to December")
    first = np.datetime64(f"{pc.stock_first_year}-01", "M")
    before = np.arange(first, start, dtype="datetime64[M]")
    inside = np.arange(start, start + n_months, dtype="datetime64[M]")
    if len(before) == 0:
        raise ConfigError(f"population.stock_first_year {pc.stock_first_year} is not before the start {start}")
    cal_b = before.astype(int) % 12
    years_b = (before.astype(int) - first.astype(int)) / 12.0
    w_before = np.exp(pc.stock_growth_yearly * years_b) * month_w[cal_b]
    years_i = inside.astype(int) // 12 + 1970
    missing = sorted(set(years_i.tolist()) - set(pc.year_weights))
    if missing:
        raise ConfigError(f"population.year_weights: no weight for year(s) {missing}")
    w_inside = np.array([pc.year_weights[y] for y in years_i]) * month_w[inside.astype(int) % 12]
    w_inside = w_inside * np.where(inside >= np.datetime64(pc.reform_month, "M"), pc.reform_enrolment_factor, 1.0)

    stock = rng.random(n) < pc.stock_share
    out = np.empty(n, dtype=np.int64)
    out[stock] = rng.choice(len(before), size=int(stock.sum()), p=w_before / w_before.sum()) - len(before)
    out[~stock] = rng.choice(n_months, size=int((~stock).sum()), p=w_inside / w_inside.sum())
    return out


def build_population(
    cfg: SimConfig, geo: Geography, rules: ContributionRules, start: np.datetime64, n_months: int, rng
) -> Population:
    """Draw `cfg.participants` people into the villages of `geo`."""
    n = cfg.participants
    pc = cfg.population

    # people sorted by village, so that a household is a run of neighbours
    village = np.sort(rng.choice(geo.n_villages, size=n, p=geo.village_weight))
    same_village = np.concatenate([[False], village[1:] == village[:-1]])
    joins = same_village & (rng.random(n) < pc.household_pair_prob)
    household = np.cumsum(~joins) - 1
    n_hh = int(household[-1]) + 1
    hh_village = village[~joins]

    district = geo.village_district[village]
    province = geo.district_province[district]
    group_hh = terrain_group(geo.district_terrain[geo.village_district[hh_village]])

    # ethnicity per household: mostly the village's language group
    v_minority = geo.village_minority[hh_village]
    gc = cfg.geography
    flip = rng.random(n_hh) < np.where(v_minority, gc.minority_village_kinh_share, gc.kinh_village_minority_share)
    hh_minority = v_minority ^ flip
    dominant = np.array([next(iter(d.languages)) for d in geo.districts], dtype=object)
    hh_ethnicity = np.where(
        hh_minority,
        np.where(v_minority, geo.village_language[hh_village], dominant[geo.village_district[hh_village]]),
        "Kinh",
    )
    inc = cfg.income
    key = np.char.add(np.char.add(group_hh.astype(str), "_"), np.where(hh_minority, "minority", "kinh"))
    missing = sorted(set(np.unique(key).tolist()) - set(inc.median_vnd))
    if missing:
        raise ConfigError(f"income.median_vnd: no median for {missing}")
    median = pd.Series(key).map(inc.median_vnd).to_numpy(float)
    hh_income = median * rng.lognormal(0.0, inc.sigma, n_hh)

    enrol_month = _enrol_months(cfg, n, start, n_months, rng)
    enrol_year = (start.astype(int) + enrol_month) // 12 + 1970
    lo_age, hi_age = pc.age_range
    age = np.clip(rng.normal(pc.age_mean, pc.age_sd, n), lo_age, hi_age)
    birth_year = np.clip(enrol_year - np.rint(age).astype(np.int64), 1940, 2010)
    female = rng.random(n) < pc.female_share

    group = group_hh[household]
    occupation = np.empty(n, dtype=object)
    for g in ("mountain", "lowland"):
        sel = np.flatnonzero(group == g)
        occupation[sel] = _choice(rng, pc.occupations[g], len(sel))
    bad = set(occupation.tolist()) - set(OCCUPATIONS)
    if bad:
        raise ConfigError(f"population.occupations: unknown occupation(s) {sorted(bad)}; allowed {OCCUPATIONS}")

    modes = tuple(rules.payment_modes)
    mode_names = _choice(rng, pc.payment_modes, n)
    bad = set(mode_names.tolist()) - set(modes)
    if bad:
        raise ConfigError(f"population.payment_modes: unknown mode(s) {sorted(bad)}; allowed {modes}")
    mode = pd.Series(mode_names).map({m: i for i, m in enumerate(modes)}).to_numpy(np.int64)

    at_min = rng.random(n) < np.where(group == "mountain", pc.income_base_at_minimum["mountain"],
                                      pc.income_base_at_minimum["lowland"])
    above = rules.min_income_base * np.exp(np.abs(rng.normal(0.0, pc.income_base_above_sigma, n)))
    above = np.clip(np.round(above / 100_000) * 100_000, rules.min_income_base, rules.max_income_base)
    income_base = np.where(at_min, rules.min_income_base, above).astype(np.int64)

    lo_m, hi_m = pc.prior_compulsory_months
    prior = np.where(rng.random(n) < pc.prior_compulsory_share, rng.integers(lo_m, hi_m + 1, n), 0)
    stock_paid = np.rint(np.maximum(-enrol_month, 0) * pc.stock_paid_share).astype(np.int64)

    lp, oc = cfg.lapse, cfg.outreach
    person_effect = rng.normal(0.0, lp.person_sd, n)
    tardiness = rng.beta(lp.tardiness_beta[0], lp.tardiness_beta[1], n)
    responsiveness = np.where(
        rng.random(n) < oc.unresponsive_share,
        0.0,
        rng.gamma(oc.responsiveness_shape, 1.0 / oc.responsiveness_shape, n),
    )

    # social insurance numbers are issued in order of enrolment within a province
    order = np.lexsort((rng.random(n), enrol_month, province))
    first = np.searchsorted(province[order], np.arange(len(geo.provinces)))
    seq = np.empty(n, dtype=np.int64)
    seq[order] = np.arange(n) - first[province[order]] + 1
    participant_id = geo.province_codes[province].astype(np.int64) * ID_BLOCK + seq
    household_id = 1_000_000 + np.arange(n_hh, dtype=np.int64) + 1

    enrolled_on = (start + enrol_month).astype("datetime64[D]").astype("datetime64[ns]")
    participants = pd.DataFrame(
        {
            "participant_id": participant_id,
            "household_id": household_id[household],
            "village_id": geo.villages["village_id"].to_numpy()[village],
            "birth_year": birth_year.astype(np.int64),
            "sex": pd.Series(np.where(female, "F", "M"), dtype="str"),
            "ethnicity": pd.Series(hh_ethnicity[household], dtype="str"),
            "occupation": pd.Series(occupation, dtype="str"),
            "enrolled_on": enrolled_on,
            "payment_mode": pd.Series(np.array(modes, dtype=object)[mode], dtype="str"),
            "income_base": income_base,
        }
    )
    # from here on people are indexed in participant_id order, the order of every output table
    by_id = np.argsort(participant_id, kind="stable")
    per_person = dict(
        participant_id=participant_id,
        household=household,
        village=village,
        commune=geo.village_commune[village],
        district=district,
        province=province,
        enrol_month=enrol_month,
        birth_year=birth_year,
        female=female,
        minority=hh_minority[household],
        village_worker=occupation == "village_worker",
        mode=mode,
        income_base=income_base,
        prior_paid_months=prior + stock_paid,
        person_effect=person_effect,
        tardiness=tardiness,
        responsiveness=responsiveness,
    )
    return Population(
        **{k: v[by_id] for k, v in per_person.items()},
        modes=modes,
        household_id=household_id,
        household_village=hh_village,
        household_income=hh_income,
        participants=participants.iloc[by_id].reset_index(drop=True),
    )
