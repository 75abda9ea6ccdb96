"""Hyperparameters are chosen inside the training window only, never on validation or test rows."""

import numpy as np
import pandas as pd
import pytest

from dropout.model.baselines import BetaGeoRanking
from dropout.model.btyd import BetaGeoNBD
from dropout.train.backtest import ModelSpec, run_backtest
from dropout.train.config import DEFAULT_LGB_PARAMS
from dropout.train.synthetic import synthetic_dataset
from dropout.train.timechop import make_folds
from dropout.train.tuning import choose, inner_split


@pytest.fixture(scope="module")
def data():
    ds = synthetic_dataset(participants=600, seed=3)
    folds = make_folds(ds.frame["as_of"], folds=2, test_months=6, validation_months=6, gap_days=90,
                       validation_gap_days=90)
    return ds, folds


def _spec(ds, candidates):
    params = {**DEFAULT_LGB_PARAMS, "learning_rate": 0.1, "num_leaves": 4, "min_data_in_leaf": 50}
    return ModelSpec(params, ds.feature_names, ds.monotone, "platt", 200, 20, candidates=candidates,
                     inner_validation_months=4)


def test_inner_split_lies_inside_the_training_block_with_a_gap(data):
    ds, folds = data
    as_of = ds.frame["as_of"]
    for f in folds:
        train, val, test = f.masks(as_of)
        inner_train, inner_val = inner_split(as_of, train, 4, 90)
        assert inner_train.any() and inner_val.any()
        assert not (inner_train & inner_val).any()
        assert not ((inner_train | inner_val) & (val | test)).any()  # never the fold's validation or test rows
        assert ((inner_train | inner_val) <= train).all()
        gap = (pd.to_datetime(as_of[inner_val]).min() - pd.to_datetime(as_of[inner_train]).max()).days
        assert gap >= 90


def test_candidates_never_see_validation_or_test_rows(data, monkeypatch):
    ds, folds = data
    seen = []
    from dropout.model.gbm import DropoutModel

    real_fit = DropoutModel.fit

    def spy(self, X_train, y_train, X_val, y_val, **kw):
        seen.append((set(X_train.index), set(X_val.index), self.params["num_leaves"]))
        return real_fit(self, X_train, y_train, X_val, y_val, **kw)

    monkeypatch.setattr(DropoutModel, "fit", spy)
    spec = _spec(ds, [{"num_leaves": 2}, {"num_leaves": 8}])
    f = folds[0]
    train, val, test = f.masks(ds.frame["as_of"])
    X, y = ds.frame[ds.feature_names], ds.frame["label"].to_numpy()
    tuned = choose(spec, X, y, ds.frame["as_of"], train, gap_days=90)
    forbidden = set(np.flatnonzero(val | test))
    assert len(seen) == 2 and all(not (tr | va) & forbidden for tr, va, _ in seen)
    assert tuned.chosen in spec.candidates
    best = max(tuned.scores, key=lambda s: s["auc"])
    assert tuned.chosen == best["params"]


def test_the_blend_weight_is_chosen_on_the_validation_slice(data):
    from sklearn.metrics import roc_auc_score

    ds, folds = data
    spec = _spec(ds, [{"num_leaves": 4}])
    spec.linear_weights = [0.0, 0.5, 0.75]
    train, val, _ = folds[0].masks(ds.frame["as_of"])
    X, y = ds.frame[ds.feature_names], ds.frame["label"].to_numpy()
    m = spec.build().fit(X[train], y[train], X[val], y[val])
    aucs = m.metadata["linear_weight_validation_auc"]
    assert set(aucs) == {"0.0", "0.5", "0.75"}
    assert m.linear_weight == float(max(aucs, key=aucs.get))
    if m.linear_weight > 0:
        assert (roc_auc_score(y[val], m.predict_raw(X[val])) == pytest.approx(aucs[str(m.linear_weight)], abs=1e-12))


def test_the_backtest_records_what_each_fold_chose(data):
    ds, folds = data
    res = run_backtest(ds, folds, _spec(ds, [{"num_leaves": 2}, {"num_leaves": 6}]), seed=1)
    assert set(res.tuning) == {"fold0", "fold1"}
    for fold_name, t in res.tuning.items():
        assert t["chosen"] in ({"num_leaves": 2}, {"num_leaves": 6})
        assert len(t["candidates"]) == 2 and all(0.5 < c["auc"] <= 1 for c in t["candidates"])
    for m, f in zip(res.fold_models, folds):
        assert m.params["num_leaves"] == res.tuning[f.name]["chosen"]["num_leaves"]


def test_bg_nbd_baseline_fits_one_row_per_participant():
    ctx = pd.DataFrame({
        "participant_id": [1, 1, 2, 2, 3],
        "as_of": pd.to_datetime(["2024-01-01", "2024-06-01", "2024-01-01", "2024-06-01", "2024-06-01"]),
        "repeat_payment_days": [3, 5, 0, 0, 10],
        "months_first_to_last_payment": [3.0, 5.0, 0.0, 0.0, 11.0],
        "months_since_first_payment": [4.0, 9.0, 2.0, 7.0, 12.0],
    })
    b = BetaGeoRanking(horizon_days=90).fit(None, np.zeros(5), context=ctx)
    latest = ctx.iloc[[1, 3, 4]]
    direct = BetaGeoNBD().fit(latest["repeat_payment_days"].to_numpy(), latest["months_first_to_last_payment"].to_numpy(),
                             latest["months_since_first_payment"].to_numpy())
    assert b.model_.params_ == pytest.approx(direct.params_)
    s = b.score(None, context=ctx)
    assert ((0 <= s) & (s <= 1)).all()
    # long silence since the last payment: more likely to stay silent
    probe = ctx.iloc[[1, 1]].copy()
    probe["months_since_first_payment"] = [9.0, 20.0]
    assert np.diff(b.score(None, context=probe))[0] > 0
