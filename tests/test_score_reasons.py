"""Reason codes: only features pushing risk up, largest first, sentences with the actual values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dropout.score.output import action_columns
from dropout.score.reasons import explain, reason_columns, top_features, top_reasons


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
    assert list(out.columns) == reason_columns() + action_columns()
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
    specs = [catalog[n] for n in ("missed_12m", "paid_late_6m", "suspensions_total")]
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


def test_a_reason_group_is_named_once_by_its_strongest_feature():
    groups = ["routine", "routine", "routine", "cost", "visits"]
    contrib = np.array([
        [0.3, 0.25, 0.2, 0.5, 0.1],    # routine sums to 0.75 > cost 0.5 > visits 0.1; routine by f0
        [0.4, -0.5, 0.0, 0.2, 0.15],   # routine sums to -0.1: not a reason, though f0 alone is +0.4
        [-0.1, 0.05, 0.3, 0.0, 0.0],   # routine 0.25, named by f2 (its largest)
    ])
    idx, valid = top_reasons(contrib, 4, groups)
    assert idx[0, :3].tolist() == [0, 3, 4] and valid[0].tolist() == [True, True, True, False]
    assert idx[1, :2].tolist() == [3, 4] and valid[1].tolist() == [True, True, False, False]
    assert idx[2, 0] == 2 and valid[2].tolist() == [True, False, False, False]
    # without groups, every feature is its own reason
    plain, _ = top_reasons(contrib, 4)
    assert plain[0].tolist() == top_features(contrib, 4)[0][0].tolist() == [3, 0, 1, 2]


def test_grouped_reasons_equal_a_row_by_row_reference():
    rng = np.random.default_rng(5)
    n, f = 300, 10
    groups = list("aabbbcdeef")
    contrib = rng.normal(0, 1, (n, f))
    idx, valid = top_reasons(contrib, 4, groups)
    for i in range(n):
        sums = {g: contrib[i, [j for j in range(f) if groups[j] == g]].sum() for g in dict.fromkeys(groups)}
        ranked = [g for g in sorted(sums, key=lambda g: -sums[g]) if sums[g] > 0][:4]
        expected = [max((j for j in range(f) if groups[j] == g), key=lambda j: contrib[i, j]) for g in ranked]
        assert idx[i, : len(expected)].tolist() == expected and valid[i].sum() == len(expected)


def test_catalog_reasons_for_a_new_member_are_not_four_ways_of_saying_zero():
    from dropout.features.catalog import load_catalog, reason_sentence

    catalog = load_catalog()
    assert "0" not in reason_sentence("on_time_streak", 0, "en")
    assert "0" not in reason_sentence("paid_on_time_12m", 0, "vi")
    assert reason_sentence("paid_on_time_12m", 2, "en") == "Paid 2 installment(s) on time in the last 12 months"
    routine = {"on_time_streak", "paid_on_time_12m", "installments_due_12m"}
    assert len({g for n, g in zip(catalog.names(), catalog.reason_groups()) if n in routine}) == 1


def test_an_empty_value_counts_toward_its_missing_group():
    groups = ["routine", "late", "cost"]
    missing = [None, "routine", None]  # no lateness recorded yet = new to paying
    contrib = np.array([[0.3, 0.25, 0.4],
                        [0.3, 0.25, 0.4]])
    values = np.array([[0.0, np.nan, 1.0],   # late is empty: routine 0.55 > cost 0.4
                       [0.0, 3.0, 1.0]])     # late has a value: cost 0.4 > routine 0.3 > late 0.25
    idx, valid = top_reasons(contrib, 4, groups, values, missing)
    assert idx[0, :2].tolist() == [0, 2] and valid[0].tolist() == [True, True, False, False]
    assert idx[1, :3].tolist() == [2, 0, 1] and valid[1].tolist() == [True, True, True, False]
    # without values the groups stay as given
    assert top_reasons(contrib, 4, groups)[0][0, :3].tolist() == [2, 0, 1]


@pytest.mark.parametrize("seed", [0, 3])
def test_explain_as_lists_equals_its_categoricals(seed):
    """The service's plain lists (`as_lists`) are the batch's categorical columns, decoded:
    real catalog, reason groups and variants, empty values, rows with few or no reasons."""
    from dropout.features.catalog import load_catalog, reason_sentence
    from dropout.score.core import _reason_groups

    catalog = load_catalog()
    names = catalog.names()[:60]  # some are never shown as a reason
    rng = np.random.default_rng(seed)
    rows = 30
    contrib = rng.normal(0, 0.3, (rows, len(names)))
    contrib[0] = -1.0  # no reason at all
    values = rng.integers(0, 13, (rows, len(names))).astype(np.float64)
    values[rng.random(values.shape) < 0.2] = np.nan
    groups, missing = _reason_groups(tuple(names))
    sentence = lambda f, v, lang: reason_sentence(f, v, lang, catalog=catalog)  # noqa: E731
    frame = explain(contrib, values, names, sentence, groups=groups, groups_missing=missing)
    for langs in (("en", "vi"), ("vi",)):
        lists = explain(contrib, values, names, sentence, groups=groups, groups_missing=missing,
                        langs=langs, as_lists=True)
        for c, got in lists.items():
            want = [None if pd.isna(v) else v for v in frame[c].tolist()]
            assert got == want, c
        assert sorted(lists) == sorted(c for c in frame.columns if c.endswith(("feature", *langs)))
