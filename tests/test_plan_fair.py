"""The fair comparison (issue 15): same planner for every contender, sessions for those who come."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dropout.plan.evaluate import gain_from_shift
from dropout.plan.fair import compare_fair, oracle_effect_gains, true_reach
from test_plan_evaluate import CONFIG, _world


def test_turnout_scales_sessions_and_keeps_the_home_visit():
    reach = pd.DataFrame({"village_id": ["A", "A"], "p_base": [0.5, 0.5], "gain_visit": [0.2, 0.2],
                          "gain_session": [0.1, 0.1], "gain_both": [0.25, 0.25]},
                         index=pd.Index([1, 2], name="participant_id"))
    truth = {"participants": pd.DataFrame({"participant_id": [1, 2], "session_turnout": [0.4, 1.0]})}
    out = true_reach(reach, truth)
    # 1: comes with 0.4: session 0.4 x 0.1; both: 0.4 x 0.25 + 0.6 x 0.2 (only the home visit works)
    assert out.loc[1, "gain_session"] == pytest.approx(0.04)
    assert out.loc[1, "gain_both"] == pytest.approx(0.1 + 0.12)
    assert out.loc[2, "gain_both"] == pytest.approx(0.25) and out.loc[1, "gain_visit"] == 0.2
    # a preset without turnout credits everyone (as its simulator does)
    plain = true_reach(reach, {"participants": pd.DataFrame({"participant_id": [1, 2]})})
    pd.testing.assert_frame_equal(plain.drop(columns="turnout"), reach)


def test_oracle_effects_on_the_true_risk_are_the_true_gains():
    p = np.array([0.1, 0.5, 0.9])
    truth = pd.DataFrame({"p_base": p, "gain_visit": gain_from_shift(p, -0.8),
                          "gain_session": gain_from_shift(p, -0.2), "gain_both": gain_from_shift(p, -1.0)})
    np.testing.assert_allclose(oracle_effect_gains(p, truth).to_numpy(), truth.iloc[:, 1:].to_numpy(), atol=1e-9)
    # on another risk the same log-odds change
    r = np.array([0.3, 0.3, 0.3])
    np.testing.assert_allclose(oracle_effect_gains(r, truth)["gain_visit"], gain_from_shift(r, -0.8), atol=1e-9)


def test_every_contender_plans_within_the_same_hours():
    scores, vill, reach = _world()
    learned = oracle_effect_gains(scores["risk"].to_numpy(), reach.reset_index(drop=True))
    table = compare_fair(scores, vill, "A Luoi=16", CONFIG, reach, learned=learned, seed=1,
                         more={"twin": learned}).set_index("strategy")
    assert table.index.tolist() == ["risk_rank", "random", "plan_assumed", "plan_effect", "oracle", "oracle_truth",
                                    "twin"]
    assert (table["officer_hours"] <= 16 + 1e-9).all()
    assert table.loc["oracle", "of_oracle"] == pytest.approx(1.0)
    assert table.loc["risk_rank", "vs_risk_rank"] == pytest.approx(1.0)
    # learned effects equal to the true ones plan like the oracle
    assert table.loc["plan_effect", "averted_due"] == pytest.approx(table.loc["oracle", "averted_due"])
    assert (table["averted_all"] >= table["averted_due"] - 1e-12).all()
