"""Visit effects: the estimator on synthetic data with a known effect and confounded visits,
the treatment window on hand-made tables, the fallbacks to the assumed effects, exploration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dropout.effects import effect_gains, fit_kind, load_effects_config, weighted_logit
from dropout.effects.estimate import KindEffect, VisitEffects
from dropout.effects.gains import ASSUMED, LEARNED, combine, shift_of_gain
from dropout.effects.panel import add_treatments
from dropout.maths import sigmoid
from dropout.plan import plan_visits
from dropout.plan.optimise import assumed_gains, plan_config_from_dict
from factories import TablesBuilder

CONFIG = load_effects_config()
FAST = CONFIG.model_copy(update={"nuisance": CONFIG.nuisance.model_copy(update={"num_boost_round": 25})})


def confounded(n: int, seed: int):
    """Officers visit the people at risk (x1); a visit cuts the log-odds by 0.8 at z = 0, less where z is high."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < sigmoid(-1.5 + 1.8 * x[:, 0])).astype(float)
    delta = -0.8 + 0.5 * x[:, 1]
    y = (rng.random(n) < sigmoid(-1.0 + 1.5 * x[:, 0] + 0.5 * x[:, 1] + t * delta)).astype(float)
    return x, t, y, delta


def test_estimator_corrects_what_the_naive_difference_gets_wrong():
    x, t, y, delta = confounded(4000, seed=3)
    eff = fit_kind(x, y, t, np.zeros(len(t)), np.zeros(len(t)), x[:, 1:2], np.arange(len(t)), FAST,
                   modifiers=["x2"])
    # the visited lapse more: the naive difference says visits do harm
    assert eff.naive_difference > 0.1
    se = np.sqrt(np.diag(eff.cov))
    # ours: the effect at the mean of z and how it varies with z, within 3 standard errors
    z_mean = x[:, 1].mean()
    assert abs(eff.coef[0] - (-0.8 + 0.5 * z_mean)) < 3 * se[0]
    assert abs(eff.coef[1] / x[:, 1].std() - 0.5) < 3 * se[1] / x[:, 1].std()
    assert eff.coef[0] < -0.4 and se[0] < 0.2
    d, s = eff.predict(pd.DataFrame({"x2": x[:, 1]}))
    assert np.corrcoef(d, delta)[0, 1] > 0.95 and np.all(s > 0)


def test_weighted_logit_recovers_coefficients_and_weights_act_like_copies():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(4000), rng.normal(size=4000)])
    y = (rng.random(4000) < sigmoid(X @ np.array([-0.5, 1.0]))).astype(float)
    b, V = weighted_logit(X, y, np.ones(4000), np.arange(4000))
    assert np.allclose(b, [-0.5, 1.0], atol=3 * np.sqrt(np.diag(V)).max())
    b2, _ = weighted_logit(X, y, np.full(4000, 2.0), np.arange(4000))
    assert np.allclose(b, b2, atol=1e-6)


def test_too_few_visits_keep_the_assumed_effect_and_say_so():
    x, t, y, _ = confounded(2000, seed=1)
    t[:] = 0
    t[:5] = 1
    eff = fit_kind(x, y, t, np.zeros(len(t)), np.zeros(len(t)), x[:, 1:2], np.arange(len(t)), FAST,
                   modifiers=["x2"])
    assert not eff.learned and "assumed" in eff.note
    risk = np.array([0.1, 0.4, 0.8])
    plan_cfg = plan_config_from_dict(PLAN_RAW)
    assumed = assumed_gains(risk, plan_cfg)
    g = effect_gains(VisitEffects({"home_visit": eff}), pd.DataFrame({"x2": [0.0, 1.0, 2.0]}), risk, assumed, CONFIG)
    assert (g["source_home"] == ASSUMED).all() and (g["source_session"] == ASSUMED).all()
    assert np.allclose(g["gain_visit"], assumed["gain_visit"], atol=1e-9)
    assert np.allclose(g["gain_session"], assumed["gain_session"], atol=1e-9)


def test_precise_learned_effects_win_and_vague_ones_fall_back():
    risk = np.full(2, 0.5)
    prior = np.full(2, -0.6)
    post, _, w = combine(np.array([-2.0, -2.0]), np.array([0.01, 10.0]), prior, 0.5)
    assert w[0] > 0.99 and abs(post[0] + 2.0) < 0.01  # precise: learned
    assert w[1] < 0.01 and abs(post[1] + 0.6) < 0.01  # vague: assumed
    assert np.allclose(shift_of_gain(risk, risk - sigmoid(np.log(1.0) - 0.6)), -0.6)
    eff = KindEffect("home_visit", ["x2"], np.zeros(1), np.ones(1), np.array([-1.5, 0.5]), np.eye(2) * 1e-4,
                     float("nan"), 100, 100, 0.3)
    g = effect_gains(VisitEffects({"home_visit": eff}), pd.DataFrame({"x2": [-1.0, 1.0]}), risk,
                     assumed_gains(risk, plan_config_from_dict(PLAN_RAW)), CONFIG)
    assert (g["source_home"] == LEARNED).all() and (g["source_session"] == ASSUMED).all()
    assert g["gain_visit"][0] > g["gain_visit"][1]  # responds more where the learned effect is larger
    assert g["visit_line_en"][0] == "a visit is likely to help"


def test_treatment_window_is_previous_deadline_to_this_one():
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", ethnic_language="Ta Oi")
    p = b.participant(village_id="V1", ethnicity="Ta Oi", enrolled_on="2025-01-01")
    q = b.participant(village_id="V1", ethnicity="Ta Oi", enrolled_on="2025-01-01")
    for m in range(1, 12):
        b.installment(p, f"2025-{m:02d}-01", paid_on=f"2025-{m:02d}-10")
        b.installment(q, f"2025-{m:02d}-01", paid_on=f"2025-{m:02d}-10")
    b.visit("2025-05-15", participant_id=p, language="Vietnamese")  # before the May deadline
    b.visit("2025-07-31", participant_id=q)  # on the July deadline: counts for July
    b.visit("2025-09-02", village_id="V1")  # a session: everyone's September installment
    tables = b.build()
    frame = pd.DataFrame({"participant_id": [p, p, p, q, q, q],
                          "label_due_on": pd.to_datetime(["2025-05-31", "2025-06-30", "2025-09-30"] * 2)})
    frame.loc[3, "label_due_on"] = pd.Timestamp("2025-07-31")
    out = add_treatments(frame, tables)
    assert out["t_home"].tolist() == [1, 0, 0, 1, 0, 0]
    assert out["home_not_own_language"].tolist() == [1, 0, 0, 0, 0, 0]
    assert out["t_session"].tolist() == [0, 0, 1, 0, 0, 1]


PLAN_RAW = {
    "home_visit": {"minutes": 60, "log_odds_change": -0.6},
    "evening_session": {"minutes": 120, "log_odds_change": -0.2, "max_people": 10, "count_unscored": False},
    "officer_day": {"hours": 8},
    "optimiser": {"resolution_minutes": 5, "gap_tolerance": 0.0, "exact_max_cells": 1_000_000},
}


def test_exploration_marks_random_visits_within_capacity():
    rng = np.random.default_rng(0)
    n = 60
    villages = pd.DataFrame({"village_id": [f"V{i}" for i in range(6)], "commune": "C", "district": "A Luoi",
                             "travel_minutes": [30, 40, 50, 60, 70, 80], "ethnic_language": "Ta Oi"})
    scores = pd.DataFrame({"participant_id": np.arange(1, n + 1), "village_id": [f"V{i % 6}" for i in range(n)],
                           "risk": rng.uniform(0.05, 0.9, n)})
    cfg = plan_config_from_dict(PLAN_RAW)
    base = plan_visits(scores, villages, "30", cfg)
    plan = plan_visits(scores, villages, "30", cfg, explore=0.3, seed=1)
    assert "explore" in plan.visits.columns and plan.visits["explore"].sum() >= 1
    assert plan.officer_hours <= 30 + 1e-9
    assert plan.expected_averted < base.expected_averted + 1e-9  # exploration costs expected lapses ...
    assert plan.expected_averted < n  # ... reported without the exploration's priority
    assert any("exploration" in note for note in plan.notes)
    other = plan_visits(scores, villages, "30", cfg, explore=0.3, seed=2)
    assert set(plan.visits.loc[plan.visits["explore"], "participant_id"]) != set(
        other.visits.loc[other.visits["explore"], "participant_id"])
    with pytest.raises(Exception, match="explore"):
        plan_visits(scores, villages, "30", cfg, explore=1.5)


@pytest.mark.slow
def test_visit_response_scenario_writes_its_truth_and_effects_learn_from_it():
    from dropout.effects import learn_effects
    from dropout.simulate import simulate

    sim = simulate("a-luoi", participants=400, seed=2, scenarios=["visit-response"])
    tp = sim.truth["participants"]
    assert "session_turnout" in tp and tp["session_turnout"].between(0, 1).all()
    assert abs(tp["responsiveness"].mean() - 1.0) < 1e-9
    plain = simulate("a-luoi", participants=400, seed=2)
    assert "session_turnout" not in plain.truth["participants"]
    effects = learn_effects(sim.tables, sim.tables.extracted_on, FAST)
    home = effects.kinds["home_visit"]
    # a small district: visits are learned from, the naive difference shows the officers' targeting
    assert home.learned and home.naive_difference > 0 and np.isfinite(home.cov).all()
    assert not effects.kinds["evening_session"].learned  # a few sessions: the assumed effect stays


@pytest.mark.slow
def test_train_effects_writes_plain_numbers_and_logs_them_to_the_run(tmp_path, monkeypatch):
    import json

    import dropout.registry.tracking as tracking
    from dropout.simulate import simulate
    from dropout.train.effects import train_effects

    class Client:  # what the MLflow client is asked (a real tracking database takes a minute to create)
        def __init__(self):
            self.metrics, self.artifacts = {}, []

        def log_metric(self, run_id, key, value):
            self.metrics[(run_id, key)] = value

        def log_artifact(self, run_id, path):
            self.artifacts.append((run_id, path))

    fake = Client()
    monkeypatch.setattr(tracking, "client", lambda uri=None: fake)
    tables = simulate("a-luoi", participants=400, seed=2, scenarios=["visit-response"]).tables
    effects, path = train_effects(tables, tmp_path, "run-1", "sqlite:///unused.db")
    again = VisitEffects.from_dict(json.loads(path.read_text(encoding="utf-8")))
    assert np.allclose(again.kinds["home_visit"].coef, effects.kinds["home_visit"].coef)
    assert fake.metrics[("run-1", "effects_home_visit_recorded")] == effects.kinds["home_visit"].n_treated
    assert ("run-1", "effects_evening_session_learned") in fake.metrics
    assert fake.artifacts == [("run-1", str(path))]
