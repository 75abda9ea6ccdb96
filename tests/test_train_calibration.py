"""Calibration: monotone, inside [0, 1], and identical after a JSON round trip."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dropout.model.calibration import Calibrator


def _data(seed, n=2000):
    rng = np.random.default_rng(seed)
    raw = rng.beta(1, 4, n)
    y = (rng.random(n) < np.clip(raw * 1.5, 0, 1)).astype(int)
    return raw, y


@pytest.mark.parametrize("method", ["isotonic", "platt"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), probe=st.lists(st.floats(-0.5, 1.5), min_size=2, max_size=200))
def test_monotone_and_in_unit_interval(method, seed, probe):
    raw, y = _data(seed)
    cal = Calibrator(method).fit(raw, y)
    x = np.sort(np.asarray(probe + [0.0, 1.0]))
    out = cal.transform(x)
    assert np.all(np.diff(out) >= -1e-12)
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_json_round_trip_gives_the_same_numbers(method):
    raw, y = _data(3)
    cal = Calibrator(method).fit(raw, y)
    back = Calibrator.from_dict(json.loads(cal.to_json()))
    probe = np.linspace(0, 1, 101)
    assert np.array_equal(cal.transform(probe), back.transform(probe))


def test_isotonic_matches_scikit_learn():
    from sklearn.isotonic import IsotonicRegression

    raw, y = _data(5)
    probe = np.linspace(-0.1, 1.1, 301)
    ref = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(raw, y).predict(probe)
    assert np.allclose(Calibrator("isotonic").fit(raw, y).transform(probe), ref)


def test_bad_json_is_refused():
    with pytest.raises(ValueError, match="not non-decreasing"):
        Calibrator.from_dict({"method": "isotonic", "x": [0, 0.5, 1], "y": [0.1, 0.05, 0.3]})
    with pytest.raises(ValueError, match="must be > 0"):
        Calibrator.from_dict({"method": "platt", "a": -1.0, "b": 0.0})
    with pytest.raises(ValueError, match="one class"):
        Calibrator("isotonic").fit(np.array([0.1, 0.2]), np.array([0, 0]))
