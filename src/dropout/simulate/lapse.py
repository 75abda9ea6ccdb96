"""The oracle: the probability that an installment goes unpaid by its deadline.

For a participant who is paying (decision `pay`), a monthly lapse hazard h is

    logit(h) = intercept
             + b_cost    x net_cost_share   (net monthly contribution / this month's income)
             + b_disaster x disaster_shock  (the commune's decaying disaster shock)
             + b_subsidy x subsidy_loss     (support rate lost in the last months, fading)
             + b_habit   x habit            (moving average of the person's own past lapses)
             + tenure_effect + age_effect + distance_effect + neighbour_effect
             + pension_effect + visit_effect + person_effect        (already in log-odds)

and the installment is missed with p_lapse = 1 - (1 - h) ** exposure, where exposure
(`lapse.exposure_months`) grows with the months one payment covers: a yearly payment is
one big decision that weighs like several monthly ones.

For a suspended participant (decision `resume`) the same drivers set a resume hazard
logit(r) = resume_intercept - resume_scale x (logit(h) - intercept), and the installment
stays unpaid with p_lapse = (1 - r) ** exposure. Both are written to truth/installments
with the drivers (float32), so `p_lapse` can be recomputed from the truth table and the
preset to ~1e-5 (tests do).

Numbers (preset `lapse` section) are calibrated, not estimated: with the A Luoi preset
they give a yearly lapse of ~35 % in the first year of membership and ~10 % from the
sixth year on (summary.yearly_lapse_by_tenure), the pattern of issue 2 ("a few tens of
percent among new low-income participants, lower among long-tenured"); the signs follow
DESIGN.md. Replace them with estimates when real exports arrive.
"""

from __future__ import annotations

import numpy as np

from dropout.simulate.config import LapseConfig

DRIVERS = (
    "net_cost_share",
    "disaster_shock",
    "subsidy_loss",
    "habit",
    "tenure_effect",
    "age_effect",
    "distance_effect",
    "neighbour_effect",
    "pension_effect",
    "visit_effect",
    "person_effect",
)
PAY, RESUME = 1, 2
DECISIONS = {PAY: "pay", RESUME: "resume"}


def drivers(
    cfg: LapseConfig,
    *,
    net_cost_share: np.ndarray,
    disaster_shock: np.ndarray,
    subsidy_loss: np.ndarray,
    habit: np.ndarray,
    tenure_months: np.ndarray,
    age: np.ndarray,
    travel_minutes: np.ndarray,
    village_lapse_rate: np.ndarray,
    years_to_pension: np.ndarray,
    visit_effect: np.ndarray,
    person_effect: np.ndarray,
) -> dict[str, np.ndarray]:
    """The latent drivers of one batch of decisions (raw values and log-odds effects)."""
    return {
        "net_cost_share": net_cost_share,
        "disaster_shock": disaster_shock,
        "subsidy_loss": subsidy_loss,
        "habit": habit,
        # new participants have not yet made paying a routine
        "tenure_effect": cfg.tenure * np.exp(-tenure_months / cfg.tenure_months),
        # the young see the pension as far away
        "age_effect": cfg.youth * np.clip((cfg.youth_below_age - age) / cfg.youth_span_years, 0.0, 1.0),
        # paying means a trip to the commune or the post office
        "distance_effect": cfg.distance_per_hour * travel_minutes / 60.0,
        # what neighbours did lately (lagged village lapse rate)
        "neighbour_effect": cfg.neighbour * village_lapse_rate,
        # close to a pension, stopping throws it away
        "pension_effect": -cfg.pension * np.clip(1.0 - years_to_pension / cfg.pension_horizon_years, 0.0, 1.0),
        "visit_effect": visit_effect,
        "person_effect": person_effect,
    }


def lapse_logit(cfg: LapseConfig, d: dict[str, np.ndarray]) -> np.ndarray:
    """logit of the monthly lapse hazard of an active participant."""
    return (
        cfg.intercept
        + cfg.net_cost_share * d["net_cost_share"]
        + cfg.disaster_shock * d["disaster_shock"]
        + cfg.subsidy_loss * d["subsidy_loss"]
        + cfg.habit * d["habit"]
        + d["tenure_effect"]
        + d["age_effect"]
        + d["distance_effect"]
        + d["neighbour_effect"]
        + d["pension_effect"]
        + d["visit_effect"]
        + d["person_effect"]
    )


def p_unpaid(cfg: LapseConfig, logit: np.ndarray, exposure: np.ndarray, suspended: np.ndarray) -> np.ndarray:
    """Probability that the installment is not paid by its deadline (the oracle)."""
    h = 1.0 / (1.0 + np.exp(-logit))
    r = 1.0 / (1.0 + np.exp(-(cfg.resume_intercept - cfg.resume_scale * (logit - cfg.intercept))))
    return np.where(suspended, (1.0 - r) ** exposure, 1.0 - (1.0 - h) ** exposure)
