"""The score row is defined once (score/output.py); the store, the API and the pages follow it."""

import numpy as np
import pytest

from dropout.errors import ConfigError
from dropout.score.output import (
    BANDS,
    N_REASONS,
    SCORE_COLUMNS,
    band_label_bilingual,
    band_thresholds,
    reason_columns,
    risk_band,
)


def test_the_sql_table_and_readers_follow_the_score_row():
    from dropout.store import scores as scores_table
    from dropout.web.data import REASON_COLUMNS

    assert [c.name for c in scores_table.columns if c.name not in ("run_id", "chunk_no")] == SCORE_COLUMNS
    assert set(REASON_COLUMNS) | {c for c in reason_columns() if c.endswith("_feature")} == set(reason_columns())
    assert len(reason_columns()) == 3 * N_REASONS


def test_the_api_models_carry_the_score_row():
    from dropout.service.models import StoredScore

    fields = set(StoredScore.model_fields)
    shown = {c for c in SCORE_COLUMNS if not c.startswith(("reason_", "action_")) and c != "expected_lapse"}
    assert shown <= fields and "action" in fields  # the action in the asked language
    with pytest.raises(Exception):  # a band outside the score row's bands is refused
        StoredScore.model_validate({**{c: 1 for c in fields}, "risk_band": "extreme"})


def test_bands_come_from_models_scoring_yaml(tmp_path):
    (high, _), (medium, _), (low, _) = band_thresholds()
    assert high > medium > low == 0.0
    bands = risk_band(np.array([0.0, medium - 1e-9, medium, high - 1e-9, high, 1.0]))
    assert bands.tolist() == ["low", "low", "medium", "medium", "high", "high"]
    assert [b for b in BANDS] == ["high", "medium", "low"]
    assert band_label_bilingual("high") == "Cao / High"


@pytest.mark.parametrize("text", [
    "risk_bands: {high: 0.1, medium: 0.2, low: 0.0}",   # not falling
    "risk_bands: {high: 0.3, medium: 0.1}",             # a band missing
    "risk_bands: {high: 1.5, medium: 0.1, low: 0.0}",   # not a probability
    "risk_bands: {high: 0.3, medium: 0.1, low: 0.05}",  # low must start at 0
])
def test_a_bad_band_file_is_refused_with_its_path(tmp_path, text):
    p = tmp_path / "scoring.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="scoring.yaml"):
        band_thresholds(str(p))
