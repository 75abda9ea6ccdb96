"""DropoutModel: fit, calibrated probabilities, contributions, text-only persistence."""

import json

import numpy as np
import pandas as pd
import pytest

from dropout.train.config import DEFAULT_LGB_PARAMS
from dropout.model.gbm import DropoutModel, ModelInputError, monotone_constraints
from dropout.train.synthetic import CATALOG, synthetic_dataset

PARAMS = {**DEFAULT_LGB_PARAMS, "learning_rate": 0.1, "min_data_in_leaf": 50}


def _slices(ds):
    a = ds.frame["as_of"]
    tr, va, te = a < "2024-06-01", (a >= "2024-09-01") & (a < "2025-03-01"), a >= "2025-06-01"
    X = ds.frame[ds.feature_names]
    y = ds.frame["label"]
    return X[tr], y[tr], X[va], y[va], X[te], y[te]


@pytest.fixture(scope="module")
def fitted():
    ds = synthetic_dataset(300, seed=1)
    Xtr, ytr, Xva, yva, Xte, yte = _slices(ds)
    m = DropoutModel(PARAMS, feature_names=ds.feature_names, monotone=ds.monotone, num_boost_round=150,
                     early_stopping_rounds=15, metadata={"target": "lapse"}).fit(Xtr, ytr, Xva, yva)
    return m, ds, Xte, yte


def test_predict_proba_is_a_probability_per_row(fitted):
    m, _, Xte, _ = fitted
    p = m.predict_proba(Xte)
    assert p.shape == (len(Xte),)
    assert np.all((p >= 0) & (p <= 1))
    assert 0 < m.best_iteration_ <= 150


def test_calibration_is_monotone_in_the_raw_score(fitted):
    m, _, Xte, _ = fitted
    raw = m.predict_raw(Xte)
    order = np.argsort(raw)
    assert np.all(np.diff(m.predict_proba(Xte)[order]) >= -1e-12)


def test_contributions_sum_to_the_raw_log_odds(fitted):
    m, _, Xte, _ = fitted
    c = m.contributions(Xte.head(50))
    assert list(c.columns) == [*m.feature_names, "bias"]
    raw = m.predict_raw(Xte.head(50))
    assert np.allclose(c.sum(axis=1), np.log(raw / (1 - raw)), atol=1e-6)
    assert c.index.equals(Xte.head(50).index)


def test_monotone_constraints_hold(fitted):
    m, ds, Xte, _ = fitted
    base = Xte.head(200).copy()
    for f, sign in zip(m.feature_names, m.monotone):
        if sign == 0:
            continue
        lo, hi = base.copy(), base.copy()
        lo[f], hi[f] = Xte[f].quantile(0.1), Xte[f].quantile(0.9)
        diff = (m.predict_raw(hi) - m.predict_raw(lo)) * sign
        assert (diff >= -1e-12).all(), f


def test_save_load_predicts_identically_and_writes_no_pickle(fitted, tmp_path):
    m, _, Xte, _ = fitted
    folder = m.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["calibration.json", "digest.json", "features.json", "metadata.json",
                                                        "model.txt"]
    for p in folder.iterdir():
        assert p.read_bytes()[:2] not in (b"\x80\x04", b"\x80\x05")
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["model_sha256"] == m.sha256
    back = DropoutModel.load(folder)
    assert np.array_equal(back.predict_proba(Xte), m.predict_proba(Xte))
    assert back.feature_names == m.feature_names and back.monotone == m.monotone
    assert back.metadata["target"] == "lapse"
    assert np.allclose(back.contributions(Xte.head(5)).to_numpy(), m.contributions(Xte.head(5)).to_numpy())


def test_load_refuses_a_changed_model_file(fitted, tmp_path):
    m, *_ = fitted
    folder = m.save(tmp_path / "model")
    text = (folder / "model.txt").read_text()
    (folder / "model.txt").write_text(text.replace("learning_rate", "learning_rate ", 1))
    with pytest.raises(ValueError, match="sha256"):
        DropoutModel.load(folder)


def test_same_data_and_seed_give_the_same_model():
    ds = synthetic_dataset(200, seed=2)
    Xtr, ytr, Xva, yva, Xte, _ = _slices(ds)
    a, b = (DropoutModel(PARAMS, feature_names=ds.feature_names, monotone=ds.monotone, num_boost_round=60,
                         early_stopping_rounds=10).fit(Xtr, ytr, Xva, yva) for _ in range(2))
    assert a.sha256 == b.sha256
    assert np.array_equal(a.predict_proba(Xte), b.predict_proba(Xte))


def test_input_is_checked_at_the_door(fitted):
    m, _, Xte, _ = fitted
    with pytest.raises(ModelInputError, match="lacks 1 model feature"):
        m.predict_proba(Xte.drop(columns=["noise"]))
    with pytest.raises(ModelInputError, match="columns in catalog order"):
        m.predict_proba(np.zeros((3, 2)))
    # numpy input in catalog order is accepted; column order of a DataFrame does not matter
    assert np.array_equal(m.predict_proba(Xte[m.feature_names].to_numpy()), m.predict_proba(Xte[m.feature_names[::-1]]))
    with pytest.raises(ModelInputError, match="not fitted"):
        DropoutModel().predict_proba(Xte)


def test_monotone_constraints_from_the_catalog():
    names = [e["name"] for e in CATALOG]
    assert monotone_constraints(CATALOG, names) == [1, 1, -1, 1, 0, 0, 0]
    with pytest.raises(ModelInputError, match="not in the catalog"):
        monotone_constraints(CATALOG, ["nope"])


def test_monotone_constraints_from_the_project_catalog():
    catalog = pytest.importorskip("dropout.features.catalog").load_catalog()
    names = [f.name for f in catalog.features]
    cons = monotone_constraints(catalog, names)
    expected = [f.monotone_constraint for f in catalog.features]
    assert cons == expected
