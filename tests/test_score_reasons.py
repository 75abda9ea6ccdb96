"""Reason codes: only features pushing risk up, largest first, sentences with the actual values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dropout.score.reasons import explain, reason_columns, top_features


def fake_sentence(feature: str, value, lang: str) -> str:
    return f"[{lang}] {feature} = {value}"


def test_top_features_hand_computed():
    contrib = np.array([
        [0.5, -1.0, 0.2, 0.9, 0.0, 0.1],   # positives: f3 0.9, f0 0.5, f2 0.2, f5 0.1
        [-0.1, -0.2, 0.3, 0.0, -0.5, 0.0],  # one positive: f2
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],     # none
        [0.2, 0.2, 0.7, 0.2, 0.2, 0.1],     # ties: lower position first
    ])
    idx, valid = top_features(contrib, 4)
    assert idx[0].tolist() == [3, 0, 2, 5] and valid[0].all()
    assert idx[1, 0] == 2 and valid[1].tolist() == [True, False, False, False]
    assert not valid[2].any()
    assert idx[3].tolist() == [2, 0, 1, 3]


def test_fewer_features_than_reasons():
    idx, valid = top_features(np.array([[0.3, 0.4]]), 4)
    assert idx.shape == (1, 4) and idx[0, :2].tolist() == [1, 0] and valid[0].tolist() == [True, True, False, False]


def test_explain_names_only_risk_raising_features_with_their_values():
    names = ["missed", "arrears", "visits", "tenure"]
    contrib = np.array([[0.8, -0.3, 0.1, -0.2], [-0.4, 0.6, 0.0, 0.2]])
    values = np.array([[3.0, 0.0, 1.0, 40.0], [0.0, 1.5, 2.0, 7.0]])
    out = explain(contrib, values, names, fake_sentence)
    assert list(out.columns) == reason_columns()
    assert out.loc[0, "reason_1_en"] == "[en] missed = 3"  # a whole number reads as 3, not 3.0
    assert out.loc[0, "reason_2_vi"] == "[vi] visits = 1"
    assert pd.isna(out.loc[0, "reason_3_en"]) and pd.isna(out.loc[0, "reason_3_feature"])
    assert out.loc[1, "reason_1_en"] == "[en] arrears = 1.5"
    assert out.loc[1, "reason_2_feature"] == "tenure"
    assert pd.isna(out.loc[1, "reason_3_vi"])  # a zero contribution is not a reason


def test_explain_equals_a_row_by_row_reference():
    rng = np.random.default_rng(3)
    n, f = 400, 9
    names = [f"f{i}" for i in range(f)]
    contrib = rng.normal(0, 1, (n, f))
    values = rng.integers(0, 5, (n, f)).astype(float)
    values[rng.random((n, f)) < 0.1] = np.nan
    out = explain(contrib, values, names, fake_sentence)
    for i in range(n):
        order = [j for j in np.argsort(-contrib[i], kind="stable") if contrib[i, j] > 0][:4]
        for k in range(4):
            got = out.loc[i, f"reason_{k + 1}_en"]
            if k < len(order):
                v = values[i, order[k]]
                v = int(v) if not np.isnan(v) else float("nan")
                assert got == fake_sentence(names[order[k]], v, "en")
                assert out.loc[i, f"reason_{k + 1}_feature"] == names[order[k]]
                assert contrib[i, order[k]] > 0
            else:
                assert pd.isna(got)


def test_explain_with_the_real_catalog_fills_in_values():
    from dropout.features.catalog import load_catalog, reason_sentence

    catalog = load_catalog()
    specs = [s for s in catalog.features if s.format == "integer"][:3]
    names = [s.name for s in specs]
    contrib = np.array([[0.4, 0.3, 0.2]])
    values = np.array([[7.0, 2.0, 12.0]])
    out = explain(contrib, values, names, lambda f, v, lang: reason_sentence(f, v, lang, catalog=catalog))
    for k, (spec, v) in enumerate(zip(specs, (7, 2, 12)), start=1):
        assert out.loc[0, f"reason_{k}_en"] == spec.reason_en.replace("{value}", str(v))
        assert out.loc[0, f"reason_{k}_vi"] == spec.reason_vi.replace("{value}", str(v))


def test_explain_refuses_misaligned_inputs():
    with pytest.raises(ValueError, match="bias"):
        explain(np.zeros((2, 4)), np.zeros((2, 3)), ["a", "b", "c"], fake_sentence)
