"""Boosting from a monotone-signed logistic regression: exact reasons, signs kept, text + JSON only."""

import numpy as np
import pandas as pd
import pytest

from dropout.model.gbm import DropoutModel
from dropout.model.linear import LinearBase
from dropout.train.config import DEFAULT_LGB_PARAMS


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "cost": rng.normal(size=n),            # risk rises with it (monotone +1)
        "tenure": rng.exponential(24, size=n),  # risk falls with it (monotone -1)
        "gap": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),  # free, often empty
    })
    logit = -2 + 1.2 * X["cost"] - 0.03 * X["tenure"] + 0.8 * X["gap"].fillna(1.5) + 0.7 * (X["cost"] > 1)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y.to_numpy()


def test_linear_base_keeps_the_catalog_signs_even_against_the_data():
    X, y = _data()
    # a wrong-way constraint: the fit must stop at zero instead of going negative
    lb = LinearBase([-1, -1, 0]).fit(X.to_numpy(), y)
    assert lb.coef_[0] <= 0 and lb.coef_[1] <= 0
    free = LinearBase([0, 0, 0]).fit(X.to_numpy(), y)
    assert free.coef_[0] > 0.5 and free.coef_[1] < 0


def test_contributions_add_up_to_the_log_odds_and_survive_a_round_trip(tmp_path):
    X, y = _data()
    tr, va = slice(0, 3000), slice(3000, None)
    params = {**DEFAULT_LGB_PARAMS, "learning_rate": 0.1, "num_leaves": 4, "min_data_in_leaf": 50}
    m = DropoutModel(params, monotone=[1, -1, 0], calibration="platt", num_boost_round=200,
                     early_stopping_rounds=20, linear_weight=0.5).fit(X.iloc[tr], y[tr], X.iloc[va], y[va])
    c = m.contributions(X.iloc[va])
    raw = m.predict_raw(X.iloc[va])
    assert np.allclose(1 / (1 + np.exp(-c.sum(axis=1).to_numpy())), raw, atol=1e-9)
    folder = m.save(tmp_path / "model")
    assert (folder / "linear.json").exists() and not list(folder.glob("*.pkl"))
    again = DropoutModel.load(folder)
    assert np.allclose(again.predict_proba(X.iloc[va]), m.predict_proba(X.iloc[va]), atol=1e-12)
    assert np.allclose(again.contributions(X.iloc[va]).to_numpy(), c.to_numpy(), atol=1e-12)


def test_a_broken_linear_file_is_refused(tmp_path):
    X, y = _data(1500)
    params = {**DEFAULT_LGB_PARAMS, "num_leaves": 4, "min_data_in_leaf": 50}
    folder = DropoutModel(params, monotone=[1, -1, 0], num_boost_round=30, early_stopping_rounds=10,
                          linear_weight=0.5).fit(X[:1000], y[:1000], X[1000:], y[1000:]).save(tmp_path / "m")
    import json

    d = json.loads((folder / "linear.json").read_text())
    d["coef"] = d["coef"][:2]
    (folder / "linear.json").write_text(json.dumps(d))
    with pytest.raises(ValueError, match="linear.json"):
        DropoutModel.load(folder)
