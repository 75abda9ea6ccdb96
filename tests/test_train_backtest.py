"""Backtest on a synthetic frame: test rows only from test blocks, deterministic metrics, report."""

import re

import numpy as np
import pandas as pd
import pytest

from dropout.evaluate.report import render_report
from dropout.train.backtest import ModelSpec, run_backtest
from dropout.train.config import DEFAULT_LGB_PARAMS
from dropout.train.synthetic import synthetic_dataset
from dropout.train.timechop import make_folds

PARAMS = {**DEFAULT_LGB_PARAMS, "learning_rate": 0.1, "min_data_in_leaf": 50}


def _run(seed=0):
    ds = synthetic_dataset(250, seed=seed)
    folds = make_folds(ds.frame["as_of"], folds=3, test_months=4, validation_months=6, gap_days=60, validation_gap_days=60)
    spec = ModelSpec(PARAMS, ds.feature_names, ds.monotone, num_boost_round=80, early_stopping_rounds=10)
    return ds, run_backtest(ds, folds, spec, seed=seed)


@pytest.fixture(scope="module")
def run():
    return _run()


def test_predictions_come_only_from_each_folds_test_block(run):
    ds, res = run
    assert len(res.folds) == 3 and len(res.fold_models) == 3
    for f in res.folds:
        rows = res.predictions[res.predictions["fold"] == f.index]
        assert rows["as_of"].min() >= f.test_start and rows["as_of"].max() < f.test_end
        _, _, test = f.masks(ds.frame["as_of"])
        assert len(rows) == test.sum()


def test_contenders_and_checks(run):
    _, res = run
    assert res.contenders == ["model", "rule_last_missed", "rule_late_last_4", "recency_frequency", "bg_nbd",
                              "logistic", "oracle"]
    assert set(res.checks["beats_auc_detail"]) == set(res.checks["beats_detail"])
    assert set(res.checks["mean_fold_auc"]) == set(res.contenders)
    assert 0 < res.checks["recall_ratio_minority_kinh"] < 5
    assert set(res.checks["beats_detail"]) == {f"fold{i}/{b}" for i in range(3) for b in res.baselines}
    assert 0.5 < res.checks["auc_fraction_of_oracle"] <= 1.05
    for c in res.contenders:
        p = res.predictions[f"p_{c}"]
        assert p.between(0, 1).all()
    assert set(res.group_metrics) == {"ethnic_group", "province", "sex", "poverty_status"}
    # the model clearly beats the two rules on this data
    o = res.overall_metrics
    assert o.loc["model", "auc"] > o.loc["rule_last_missed", "auc"]
    assert o.loc["model", "auc"] > o.loc["recency_frequency", "auc"]


def test_same_seed_and_data_give_identical_metrics(run):
    _, res = run
    _, again = _run()
    pd.testing.assert_frame_equal(res.fold_metrics, again.fold_metrics, check_exact=True)
    pd.testing.assert_frame_equal(res.overall_metrics, again.overall_metrics, check_exact=True)
    assert res.checks == again.checks
    assert res.fingerprint == again.fingerprint


def test_report_is_one_self_contained_file(run):
    ds, res = run
    html = render_report(res, title="synthetic", summary={"rows": len(ds.frame)},
                         importance=res.fold_models[-1].feature_importance(), families={})
    assert html.count("data:image/png;base64,") == 6
    assert not re.search(r"""(src|href)=["'](https?:|//|/)""", html)
    assert "<script" not in html
    for text in ("Must-show checks", "oracle", "calibration", "rule_last_missed", "ethnic_group", "Folds"):
        assert text in html


def test_people_kept_for_validation_never_train_and_alone_validate(monkeypatch):
    """With `validation_people`, the rows that early-stop and calibrate belong to people
    whose rows never reach the fit (a long label would otherwise tie the two together)."""
    from dropout.model.gbm import DropoutModel
    from dropout.train.backtest import split_people

    ds = synthetic_dataset(250, seed=3)
    pid = ds.frame["participant_id"].to_numpy()
    train = np.ones(len(pid), dtype=bool)
    val = ds.frame["as_of"].to_numpy() >= np.sort(ds.frame["as_of"].unique())[-3]
    tr, va = split_people(ds.frame, train, val, 0.3, seed=5)
    assert set(pid[tr]).isdisjoint(pid[va]) and va.any()
    assert not (va & ~val).any() and not (tr & ~train).any()
    held = set(pid) - set(pid[tr])
    assert 0.2 < len(held) / len(set(pid)) < 0.4
    assert split_people(ds.frame, train, val, None, seed=5) == (train, val)
    same = split_people(ds.frame, train, val, 0.3, seed=5)
    assert (same[0] == tr).all() and (same[1] == va).all()

    seen = []
    fit = DropoutModel.fit

    def recording_fit(self, X, y, X_val, y_val, *args, **kwargs):
        seen.append((set(ds.frame.loc[X.index, "participant_id"]), set(ds.frame.loc[X_val.index, "participant_id"])))
        return fit(self, X, y, X_val, y_val, *args, **kwargs)

    monkeypatch.setattr(DropoutModel, "fit", recording_fit)
    folds = make_folds(ds.frame["as_of"], folds=2, test_months=4, validation_months=6, gap_days=60, validation_gap_days=0)
    spec = ModelSpec(PARAMS, ds.feature_names, ds.monotone, num_boost_round=30, early_stopping_rounds=5)
    run_backtest(ds, folds, spec, seed=1, validation_people=0.3)
    scored = [s for s in seen if s[1]]  # the folds' fits (tuning fits are on inner blocks)
    assert len(scored) >= 2
    for trained_on, validated_on in scored[-2:]:
        assert trained_on.isdisjoint(validated_on)
