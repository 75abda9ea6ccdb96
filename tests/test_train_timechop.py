"""Temporal folds: blocks never overlap, the gap holds, no test label is visible in training."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dropout.errors import ConfigError
from dropout.train.timechop import check_no_leak, final_fold, make_folds

MONTHLY = pd.date_range("2021-06-01", "2026-03-01", freq="MS")


def _folds(**kw):
    args = dict(folds=3, test_months=6, validation_months=6, gap_days=90, validation_gap_days=90)
    args.update(kw)
    return make_folds(MONTHLY, **args)


def test_blocks_are_ordered_disjoint_and_gapped():
    folds = _folds()
    assert len(folds) == 3
    for f in folds:
        assert f.train_start < f.train_end <= f.val_start < f.val_end < f.test_start < f.test_end
        assert (f.test_start - f.val_end).days >= 90
        assert (f.val_start - f.train_end).days >= 90
        train, val, test = f.masks(MONTHLY)
        assert not (train & val).any() and not (train & test).any() and not (val & test).any()
        assert train.any() and val.any() and test.any()
    # test blocks are consecutive, never overlap, and end with the last as-of date
    for a, b in zip(folds, folds[1:]):
        assert a.test_end == b.test_start
    assert folds[-1].masks(MONTHLY)[2][-1]


def test_hand_computed_fold():
    f = _folds()[-1]
    assert f.test_start == pd.Timestamp("2025-10-01") and f.test_end == pd.Timestamp("2026-04-01")
    assert f.val_end == pd.Timestamp("2025-10-01") - pd.Timedelta(days=90)  # 2025-07-03
    test = f.masks(MONTHLY)[2]
    assert list(MONTHLY[test].strftime("%Y-%m")) == ["2025-10", "2025-11", "2025-12", "2026-01", "2026-02", "2026-03"]


@settings(max_examples=60, deadline=None)
@given(
    folds=st.integers(1, 4), test_months=st.integers(1, 6), val_months=st.integers(1, 6),
    horizon=st.integers(1, 120), extra_gap=st.integers(0, 60), vgap=st.integers(0, 120),
)
def test_no_label_of_training_or_validation_reaches_the_test_block(folds, test_months, val_months, horizon, extra_gap, vgap):
    """Every training/validation label is settled before its fold's first test as_of."""
    try:
        fs = make_folds(MONTHLY, folds=folds, test_months=test_months, validation_months=val_months,
                        gap_days=horizon + extra_gap, validation_gap_days=vgap, min_train_months=1)
    except ConfigError:
        return  # history too short for this combination: refused, which is fine
    as_of = pd.Series(np.repeat(MONTHLY, 3))
    known = as_of + pd.to_timedelta(np.tile([0, horizon // 2, horizon], len(MONTHLY)), unit="D")
    for f in fs:
        check_no_leak(f, as_of, known)  # raises on a leak
        train, val, test = f.masks(as_of)
        assert (known[train | val] < f.test_start).all()
        assert not ((train | val) & test).any()
    tests = [f.masks(MONTHLY)[2] for f in fs]
    assert (np.sum(tests, axis=0) <= 1).all()  # test blocks never overlap


def test_check_no_leak_catches_a_horizon_longer_than_the_gap():
    f = _folds(gap_days=30, validation_gap_days=30)[0]
    as_of = pd.Series(MONTHLY)
    with pytest.raises(AssertionError, match="settled on or after the test start"):
        check_no_leak(f, as_of, as_of + pd.Timedelta(days=90))


def test_too_short_history_is_refused_with_a_useful_message():
    with pytest.raises(ConfigError, match="history too short"):
        make_folds(MONTHLY[:14], folds=3, test_months=6, validation_months=6, gap_days=90, validation_gap_days=90)


def test_final_fold_validates_on_the_last_months():
    f = final_fold(MONTHLY, validation_months=6, validation_gap_days=90)
    train, val, test = f.masks(MONTHLY)
    assert val[-1] and val.sum() == 6 and not test.any()
    assert MONTHLY[train].max() + pd.Timedelta(days=90) <= MONTHLY[val].min()
