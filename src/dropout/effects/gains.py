"""From learned effects to what the planner needs: expected lapses averted per person.

Per person and kind of visit, the learned log-odds change (with its standard error) is
combined with the ASSUMED one of models/plan.yaml by precision: the assumption counts
as a measurement with standard error `fallback.assumed_sd`. Where visits of a kind are
too few to learn from (`fallback.min_treated`) the assumed effect is kept whole. Each
person's effect is called `learned` when the data weigh more than the assumption, else
`assumed`: the plan says which.

    gain = risk - sigmoid(logit(risk) + delta)

the same form as `log_odds_change` in plan.yaml; a home visit and a session together
add their log-odds changes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.effects.config import EffectsConfig
from dropout.effects.estimate import VisitEffects
from dropout.maths import logit, sigmoid

LEARNED, ASSUMED = "learned", "assumed"
HELP_LINES = {
    "helps": ("Thăm nhà có khả năng giúp người này đóng tiếp", "a visit is likely to help"),
    "little": ("Thăm nhà khó thay đổi nhiều", "a visit is unlikely to change much"),
}


def _clip(p):
    return np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)


def shift_of_gain(risk: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """The log-odds change that turns `risk` into `risk - gain` (an assumed gain as a log-odds prior)."""
    p = _clip(risk)
    return logit(_clip(p - np.asarray(gain, dtype=np.float64))) - logit(p)


def combine(delta: np.ndarray, se: np.ndarray, prior: np.ndarray, prior_sd: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision-weighted (learned, assumed): (delta, its sd, weight of the learned part)."""
    ok = np.isfinite(delta) & np.isfinite(se) & (se > 0)
    w_l = np.where(ok, 1.0 / np.where(ok, se, 1.0) ** 2, 0.0)
    w_p = 1.0 / prior_sd**2
    post = (w_l * np.where(ok, delta, 0.0) + w_p * prior) / (w_l + w_p)
    return post, 1.0 / np.sqrt(w_l + w_p), w_l / (w_l + w_p)


def effect_gains(effects: VisitEffects, features: pd.DataFrame, risk: np.ndarray, assumed: pd.DataFrame,
                 config: EffectsConfig) -> pd.DataFrame:
    """Per row of `features` (aligned with `risk` and `assumed`, the planner's assumed gains):
    gain_visit, gain_session, gain_both for the planner, and for people:
    delta_home, se_home, delta_session, se_session (log-odds, learned or combined),
    source_home, source_session (learned / assumed), gain_visit_sd, visit_line_vi, visit_line_en."""
    p = _clip(risk)
    out = {}
    for kind, short, col in (("home_visit", "home", "gain_visit"), ("evening_session", "session", "gain_session")):
        prior = shift_of_gain(p, assumed[col].to_numpy())
        eff = effects.kinds.get(kind)
        if eff is not None and eff.learned:
            d, se = eff.predict(features)
        else:
            d, se = np.full(len(p), np.nan), np.full(len(p), np.nan)
        post, sd, weight = combine(d, se, prior, config.fallback.assumed_sd)
        out[f"delta_{short}"], out[f"se_{short}"] = post, sd
        out[f"source_{short}"] = np.where(weight >= 0.5, LEARNED, ASSUMED)
    dv, ds = out["delta_home"], out["delta_session"]
    x = logit(p)
    frame = pd.DataFrame(out)
    frame["gain_visit"] = p - sigmoid(x + dv)
    frame["gain_session"] = p - sigmoid(x + ds)
    frame["gain_both"] = p - sigmoid(x + dv + ds)
    after = sigmoid(x + dv)
    frame["gain_visit_sd"] = after * (1 - after) * out["se_home"]  # delta method
    helps = frame["gain_visit"].to_numpy() >= config.help_line.likely_helps
    frame["visit_line_vi"] = np.where(helps, HELP_LINES["helps"][0], HELP_LINES["little"][0])
    frame["visit_line_en"] = np.where(helps, HELP_LINES["helps"][1], HELP_LINES["little"][1])
    return frame


def fallback_notes(effects: VisitEffects, gains: pd.DataFrame) -> list[str]:
    """What the plan should say about where its effects come from."""
    notes = [e.note for e in effects.kinds.values() if not e.learned and e.note]
    for short, name in (("home", "home visits"), ("session", "evening sessions")):
        learned = float((gains[f"source_{short}"] == LEARNED).mean()) if len(gains) else 0.0
        notes.append(f"effects of {name}: learned from recorded visits for {learned:.0%} of the people listed, "
                     f"the assumed effect (models/plan.yaml) weighs more for the rest")
    return notes
