"""Targeting evaluation: true gains, baselines costed like plans, and the comparison table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dropout.plan.evaluate import (
    Outcome,
    averted,
    compare_targeting,
    gain_from_shift,
    reach_from_truth,
    to_markdown,
    true_gains,
    visits_in_order,
)
from dropout.plan.optimise import plan_config_from_dict, sigmoid

CONFIG = plan_config_from_dict({
    "home_visit": {"minutes": 60, "relative_reduction": 0.5},
    "evening_session": {"minutes": 120, "relative_reduction": 0.2, "max_people": 10, "count_unscored": False},
    "officer_day": {"hours": 8},
    "optimiser": {"resolution_minutes": 5, "gap_tolerance": 0.0, "exact_max_cells": 10_000_000},
})


def test_gain_from_shift_by_hand():
    # logit(0.5) = 0; a shift of -ln 3 gives sigmoid(-ln 3) = 1/4: 0.25 averted
    assert gain_from_shift(np.array([0.5]), np.array([-np.log(3)]))[0] == pytest.approx(0.25)
    assert gain_from_shift(np.array([0.3]), np.array([0.0]))[0] == pytest.approx(0.0)


def test_true_gains_follow_the_simulator_lapse_model():
    from dropout.simulate import load_preset

    cfg = load_preset("a-luoi")
    lapse, out = cfg.lapse, cfg.outreach
    # a monthly payer (exposure 1, paying): p = sigmoid(logit), the visit shifts the logit
    g = true_gains(np.array([0.0, 0.0]), np.array([1.0, 1.0]), np.array([False, False]), np.array([1.0, 0.0]),
                   lapse, out.home_effect, out.session_effect)
    assert g["p_base"].tolist() == pytest.approx([0.5, 0.5])
    assert g["gain_visit"].iloc[0] == pytest.approx(0.5 - sigmoid(-out.home_effect))
    assert g["gain_session"].iloc[0] == pytest.approx(0.5 - sigmoid(-out.session_effect))
    assert g["gain_both"].iloc[0] == pytest.approx(0.5 - sigmoid(-out.home_effect - out.session_effect))
    assert g.iloc[1][["gain_visit", "gain_session", "gain_both"]].tolist() == [0.0, 0.0, 0.0]  # unresponsive
    # a suspended person: a visit raises the chance to resume, so it averts too
    s = true_gains(np.array([0.5]), np.array([1.0]), np.array([True]), np.array([1.0]), lapse, out.home_effect,
                   out.session_effect)
    assert 0 < s["gain_visit"].iloc[0] < s["gain_both"].iloc[0]


def test_truth_gains_reproduce_the_simulated_probability():
    """Our reading of the simulator: base logit + the visit effect it drew gives back p_lapse."""
    from dropout.simulate import simulate
    from dropout.simulate.lapse import DRIVERS, lapse_logit, p_unpaid

    sim = simulate("a-luoi", participants=300, seed=3, start="2024-01", end="2025-06")
    as_of = "2025-03-01"
    reach = reach_from_truth(sim.truth, sim.tables.participants, sim.config, as_of)
    assert len(reach) > 100 and reach["village_id"].notna().all()
    ti = sim.truth["installments"].merge(sim.tables.participants[["participant_id", "payment_mode"]])
    ti = ti[ti["decision"].notna()]
    drivers = {c: ti[c].to_numpy(float) for c in DRIVERS}
    exposure = ti["payment_mode"].map(sim.config.lapse.exposure_months).to_numpy(float)
    p = p_unpaid(sim.config.lapse, lapse_logit(sim.config.lapse, drivers), exposure,
                 (ti["decision"].astype(object) == "resume").to_numpy())
    np.testing.assert_allclose(p, ti["p_lapse"].to_numpy(float), rtol=1e-4, atol=1e-5)  # drivers are float32
    ok = reach.dropna()
    assert (ok["gain_visit"] >= 0).all() and (ok["gain_both"] >= ok["gain_visit"] - 1e-12).all()


VILLAGES = pd.DataFrame({"village_id": ["A", "B"], "commune": "Hong Thai", "district": "A Luoi",
                         "travel_minutes": [60, 30]})


def test_visits_down_a_list_share_trips_and_skip_what_does_not_fit():
    order = pd.DataFrame({"participant_id": [1, 2, 3, 4], "village_id": ["A", "B", "A", "B"]})
    # 1 in A: 2 x 60 + 60 = 180; 2 in B: 2 x 30 + 60 = 120 (300 = the 5 hours); 3 and 4 join open
    # trips (60 each) but nothing is left
    o = visits_in_order(order, VILLAGES, "A Luoi=5", CONFIG, "risk_rank")
    assert o.visited.tolist() == [1, 2] and o.hours == pytest.approx(5.0)
    # 6 hours: 3 joins the trip to A (60): 360
    o = visits_in_order(order, VILLAGES, "A Luoi=6", CONFIG, "risk_rank")
    assert o.visited.tolist() == [1, 2, 3] and o.hours == pytest.approx(6.0)
    # 3 hours: 1 (180) fits, 2 (120) too, then nothing
    o = visits_in_order(order.iloc[[1, 0, 3]], VILLAGES, "A Luoi=3", CONFIG, "x")
    assert o.visited.tolist() == [2, 4] and o.hours == pytest.approx(3.0)


def test_averted_counts_each_contact_once_and_sessions_reach_the_village():
    reach = pd.DataFrame({"village_id": ["A", "A", "B", "B"], "gain_visit": [0.1, 0.2, 0.3, 0.4],
                          "gain_session": [0.01, 0.02, 0.03, 0.04], "gain_both": [0.15, 0.25, 0.35, 0.45]},
                         index=pd.Index([1, 2, 3, 4], name="participant_id"))
    o = Outcome("x", visited=np.array([1, 3]), session_villages=np.array(["A"], dtype=object), hours=2.0)
    total, reached = averted(o, reach)
    assert total == pytest.approx(0.15 + 0.02 + 0.3) and reached == 3
    total, reached = averted(o, reach, among=np.array([2, 4]))
    assert total == pytest.approx(0.02) and reached == 1


def _world(seed: int = 0):
    """Near villages with many moderate risks, far ones with a single high risk."""
    rng = np.random.default_rng(seed)
    vill = pd.DataFrame({"village_id": [f"N{i}" for i in range(6)] + [f"F{i}" for i in range(6)],
                         "commune": ["Hong Thai"] * 6 + ["Hong Kim"] * 6, "district": "A Luoi",
                         "travel_minutes": [20] * 6 + [170] * 6})
    rows = [(f"N{i}", 0.3) for i in range(6) for _ in range(8)] + [(f"F{i}", 0.6) for i in range(6)]
    scores = pd.DataFrame({"participant_id": np.arange(1, len(rows) + 1), "village_id": [v for v, _ in rows],
                           "risk": [r for _, r in rows], "due_on": pd.Timestamp("2026-03-31")})
    p = scores["risk"].to_numpy()
    resp = rng.gamma(1.5, 1 / 1.5, len(p))
    reach = pd.DataFrame({"village_id": scores["village_id"].to_numpy(), "due_on": scores["due_on"].to_numpy(),
                          "p_base": p, "gain_visit": gain_from_shift(p, -0.8 * resp),
                          "gain_session": gain_from_shift(p, -0.3 * resp),
                          "gain_both": gain_from_shift(p, -1.1 * resp)},
                         index=pd.Index(scores["participant_id"].to_numpy(), name="participant_id"))
    return scores, vill, reach


def test_compare_targeting_table():
    scores, vill, reach = _world()
    table = compare_targeting(scores, vill, "A Luoi=16", CONFIG, reach, seed=1).set_index("strategy")
    assert table.index.tolist() == ["plan", "risk_rank", "random", "oracle"]
    assert (table["officer_hours"] <= 16 + 1e-9).all()
    assert table.loc["risk_rank", "vs_risk_rank"] == pytest.approx(1.0)
    assert table.loc["oracle", "of_oracle"] == pytest.approx(1.0)
    # risk rank drives to the far single people; the plan serves the near groups
    assert table.loc["plan", "vs_risk_rank"] >= 1.5
    assert table.loc["plan", "lapses_averted"] <= table.loc["oracle", "lapses_averted"] + 1e-9
    md = to_markdown(table.reset_index())
    assert md.splitlines()[0].startswith("| strategy | officer_hours") and "| plan |" in md
