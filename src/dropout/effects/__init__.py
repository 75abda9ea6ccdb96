"""Visit effects learned from recorded visits and the payments that followed.

`learn_effects(tables, as_of)` builds the visit panel before `as_of` (panel.py), fits
per kind of visit an effect that corrects for who gets visited, with an uncertainty per
person (estimate.py); `effect_gains` turns the effects into the planner's expected
lapses averted, falling back to the assumed effects where data are thin (gains.py).
Config: models/effects.yaml.
"""

from __future__ import annotations

from dropout.effects.config import EffectsConfig, load_effects_config
from dropout.effects.estimate import KindEffect, VisitEffects, fit_effects, fit_kind, weighted_logit
from dropout.effects.gains import effect_gains, fallback_notes

__all__ = ["EffectsConfig", "KindEffect", "VisitEffects", "effect_gains", "fallback_notes", "fit_effects",
           "fit_kind", "learn_effects", "load_effects_config", "weighted_logit", "person_features"]


def learn_effects(tables, as_of, config: EffectsConfig | None = None) -> VisitEffects:
    """Fit the visit effects on what was known by `as_of` (visits and deadlines before it)."""
    from dropout.effects.panel import visit_panel

    config = config or load_effects_config()
    panel = visit_panel(tables, as_of, config.panel.horizon_days, config.panel.min_history_months)
    return fit_effects(panel, config)


def person_features(tables, as_of, participant_ids):
    """The features at `as_of` of these participants (aligned with them), for `KindEffect.predict`."""
    import pandas as pd

    from dropout.effects.panel import feature_families
    from dropout.features import build_features

    f = build_features(tables, [pd.Timestamp(as_of)], families=feature_families())
    f = f.drop_duplicates("participant_id").set_index("participant_id")
    return f.reindex(pd.Index(participant_ids, name="participant_id")).reset_index()
