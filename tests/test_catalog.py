"""The catalog and the built features agree; reason sentences read well in both languages."""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from factories import random_tables

from dropout.features import FAMILIES, build_features, feature_names
from dropout.features.catalog import CatalogError, load_catalog, parse_catalog, reason_sentence
from dropout.paths import features_dir


@pytest.fixture(scope="module")
def built():
    return build_features(random_tables(0, 30), ["2024-03-01", "2025-10-01"])


def test_every_built_feature_is_in_the_catalog_and_back(built):
    catalog = load_catalog()
    assert list(built.columns) == ["participant_id", "as_of", *catalog.names()]
    assert set(catalog.families) == set(FAMILIES)
    for fam in FAMILIES:
        only = build_features(random_tables(1, 10), ["2025-06-01"], families=[fam])
        assert list(only.columns[2:]) == catalog.names([fam]) == feature_names([fam])


def test_features_are_numeric(built):
    for name in built.columns[2:]:
        assert pd.api.types.is_numeric_dtype(built[name]) and not pd.api.types.is_bool_dtype(built[name]), name
    assert built["participant_id"].dtype == np.int64
    assert built["as_of"].dtype == "datetime64[ns]"


def test_flags_and_categories_hold_codes(built):
    catalog = load_catalog()
    for spec in catalog.features:
        values = set(built[spec.name].dropna().unique().tolist())
        if spec.kind == "flag":
            assert values <= {0, 1}, spec.name
        if spec.format == "label":
            assert values <= set(spec.labels_en), spec.name
    assert catalog.categorical() == ["poverty_last_change_direction", "next_deadline_month"]
    assert len(catalog.monotone_constraints()) == len(catalog.names())
    assert catalog["missed_3m"].monotone_constraint == 1
    assert catalog["on_time_streak"].monotone_constraint == -1


def test_reason_sentences_in_both_languages():
    assert reason_sentence("lapses_last_4", 3, "en") == "Did not pay on time 3 of the last 4 installments"
    assert reason_sentence("lapses_last_4", 3, "vi") == "Không đóng đúng hạn 3 trong 4 kỳ gần nhất"
    assert reason_sentence("arrears_vnd", 660000, "en") == "Owes 660,000 VND in overdue contributions"
    assert reason_sentence("arrears_vnd", 660000, "vi") == "Đang nợ 660.000 đồng tiền đóng quá hạn"
    assert reason_sentence("net_cost_share_poverty_line", 0.099, "en").endswith("is 10% of the poverty line")
    assert reason_sentence("subsidy_rate_change_12m", -0.1, "vi").endswith("-10 điểm phần trăm trong 12 tháng qua")
    assert reason_sentence("net_monthly_cost_change_12m_vnd", 33000, "en") == (
        "The monthly contribution after support changed by +33,000 VND in 12 months")
    assert reason_sentence("next_deadline_month", 9, "en") == "The next deadline falls in September"
    assert reason_sentence("next_deadline_month", 9, "vi") == "Hạn đóng tiếp theo rơi vào tháng 9"
    assert reason_sentence("left_poverty_list_12m", 1, "en").startswith("The household left the poor")
    assert reason_sentence("mean_days_late_12m", 12.34, "vi").endswith("chậm 12,3 ngày so với hạn")
    assert reason_sentence("days_since_home_visit", float("nan"), "en") == "Has never had a home visit"
    assert reason_sentence("days_since_home_visit", np.float32("nan"), "vi") == "Chưa từng được cán bộ đến thăm tại nhà"


def test_every_feature_has_a_sentence_for_its_values(built):
    catalog = load_catalog()
    for spec in catalog.features:
        sample = built[spec.name].drop_duplicates().head(5).tolist() + [np.nan]
        for value in sample:
            for lang in ("en", "vi"):
                text = reason_sentence(spec.name, value, lang)
                assert "{" not in text and "nan" not in text.lower().split(), (spec.name, value, text)
                if isinstance(value, float) and math.isnan(value) or spec.format == "label":
                    continue
                if spec.reason_en_zero is not None and value == 0:
                    assert text == getattr(spec, f"reason_{lang}_zero"), (spec.name, text)
                else:
                    assert any(ch.isdigit() for ch in text) or spec.format == "month", (spec.name, text)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["features"][0].update(direction="sideways"), "direction"),
        (lambda d: d["features"][0].update(monotone=True, direction="unknown"), "monotone"),
        (lambda d: d["features"][0].pop("reason_vi"), "missing field"),
        (lambda d: d["features"][0].update(reason_en="Missed {n} payments"), "placeholder"),
        (lambda d: d["features"][0].update(reason_vi="Da tham gia {value} thang"), "diacritics"),
        (lambda d: d["features"].append(copy.deepcopy(d["features"][0])), "duplicate"),
        (lambda d: d["features"][0].update(family="profile"), "family"),
        (lambda d: d["features"][0].update(format="roman"), "format"),
    ],
)
def test_malformed_catalog_is_refused_with_the_feature_named(change, message):
    data = yaml.safe_load((features_dir() / "catalog.yaml").read_text(encoding="utf-8"))
    change(data)
    with pytest.raises(CatalogError, match=message):
        parse_catalog(data)


def test_unknown_feature_or_language():
    with pytest.raises(KeyError, match="not in the catalog"):
        reason_sentence("shoe_size", 42, "en")
    with pytest.raises(ValueError, match="lang"):
        reason_sentence("lapses_last_4", 1, "fr")
