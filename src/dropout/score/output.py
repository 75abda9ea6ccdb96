"""The score row: what a scoring run writes for each person, defined once.

Everything that holds or shows score rows derives from this module: the scorer's
output frame, the SQL table of the store, the service's response models, the Excel
workbooks, the officers' pages and the visit plan. Change a column here and they follow.

A row, in order: the person and their place, the installment due in the window, the
calibrated risk with its band and ranks, the expected-lapse share, and `N_REASONS`
reasons in each of `LANGS` plus the feature each reason names, and the suggested action
of the first reason in each language.

Risk bands are calibrated-probability thresholds kept in `models/scoring.yaml`.

This module must stay light (no pandas, no model code): the store and the service
import it at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

N_REASONS = 4
LANGS = ("vi", "en")  # the order reason columns are written in
BANDS = ("high", "medium", "low")  # highest first
STATUSES = ("paying", "in_arrears")
STATUS_LABELS: dict[str, dict[str, str]] = {
    "paying": {"vi": "Đang đóng", "en": "Paying"},
    "in_arrears": {"vi": "Đang nợ (tạm dừng)", "en": "In arrears (suspended)"},
}
BAND_LABELS: dict[str, dict[str, str]] = {
    "high": {"vi": "Cao", "en": "High"},
    "medium": {"vi": "Trung bình", "en": "Medium"},
    "low": {"vi": "Thấp", "en": "Low"},
}


@dataclass(frozen=True)
class ScoreColumn:
    """One column of the score row.

    kind: int, float, str, date. `text` marks free text (sentences) as opposed to codes
    and names, which have a bounded length (`length`) in SQL.
    """

    name: str
    kind: str
    nullable: bool = False
    length: int | None = None
    text: bool = False


def reason_columns(n: int = N_REASONS, langs=LANGS) -> list[str]:
    """reason_1_vi..reason_n_vi, reason_1_en..reason_n_en, reason_1_feature..reason_n_feature."""
    return [*(f"reason_{k}_{lang}" for lang in langs for k in range(1, n + 1)),
            *(f"reason_{k}_feature" for k in range(1, n + 1))]


def reason_text_columns(lang: str, n: int = N_REASONS) -> list[str]:
    """The sentence columns of one language, reason 1 first."""
    return [f"reason_{k}_{lang}" for k in range(1, n + 1)]


def reason_feature_columns(n: int = N_REASONS) -> list[str]:
    return [f"reason_{k}_feature" for k in range(1, n + 1)]


PLACE = (
    ScoreColumn("participant_id", "int"),
    ScoreColumn("village_id", "str", length=64),
    ScoreColumn("commune", "str", length=200),
    ScoreColumn("district", "str", length=200),
)
INSTALLMENT = (
    ScoreColumn("due_on", "date"),
    ScoreColumn("amount_due", "int"),
    # What the person pays after state and provincial support (the subsidy family's
    # next_net_amount_vnd): what an officer tells them.
    ScoreColumn("net_amount", "float"),
    # Paying, or in arrears (suspended: the latest installment that fell due is unpaid),
    # and what is owed in all (older gaps included, paying or not): what a make-up
    # payment would cover. The people an officer can still bring back.
    ScoreColumn("status", "str", length=16),
    ScoreColumn("arrears_installments", "int"),
    ScoreColumn("arrears_vnd", "int"),
    # Months those installments cover, and the deadline of the oldest one (empty when
    # nothing is owed): a member 12 months outside insurance may take the lump sum.
    ScoreColumn("arrears_months", "int"),
    ScoreColumn("arrears_since", "date", nullable=True),
)
RISK = (
    ScoreColumn("risk", "float"),
    ScoreColumn("risk_band", "str", length=16),
    ScoreColumn("rank_in_district", "int"),
    ScoreColumn("rank_in_commune", "int"),
    ScoreColumn("expected_lapse", "float"),
)
REASONS = tuple(
    ScoreColumn(c, "str", nullable=True, length=100 if c.endswith("_feature") else None,
                text=not c.endswith("_feature"))
    for c in reason_columns()
)


def action_columns(langs=LANGS) -> list[str]:
    """action_vi, action_en: the suggested action of the first reason's group (catalog)."""
    return [f"action_{lang}" for lang in langs]


ACTIONS = tuple(ScoreColumn(c, "str", nullable=True, text=True) for c in action_columns())

#: The score row, in order.
SCORE_ROW: tuple[ScoreColumn, ...] = (*PLACE, *INSTALLMENT, *RISK, *REASONS, *ACTIONS)
#: Its column names, in order.
SCORE_COLUMNS: list[str] = [c.name for c in SCORE_ROW]
PLACE_COLUMNS: list[str] = [c.name for c in PLACE]
INSTALLMENT_COLUMNS: list[str] = [c.name for c in INSTALLMENT]
TEXT_COLUMNS: list[str] = [c.name for c in SCORE_ROW if c.kind == "str"]


#: The columns of a commune's sheet in the district workbook, in the order an officer reads them.
EXCEL_COLUMNS: list[str] = [
    "rank_in_commune", "participant_id", "village_id", "due_on", "amount_due", "net_amount", "status",
    "arrears_months", "arrears_vnd", "risk", "risk_band", "rank_in_district", *reason_text_columns("vi"),
    "action_vi",
]


def column(name: str) -> ScoreColumn:
    for c in SCORE_ROW:
        if c.name == name:
            return c
    raise KeyError(f"{name!r} is not a column of the score row; columns: {SCORE_COLUMNS}")


# ---------------------------------------------------------------- risk bands


@lru_cache(maxsize=4)
def band_thresholds(path: str | None = None) -> tuple[tuple[float, str], ...]:
    """(threshold, band) pairs, highest first, from models/scoring.yaml (or `path`)."""
    from pathlib import Path

    import yaml

    from dropout.errors import ConfigError
    from dropout.paths import models_dir

    p = Path(path) if path else models_dir() / "scoring.yaml"
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    bands = raw.get("risk_bands")
    if not isinstance(bands, dict) or set(bands) != set(BANDS):
        raise ConfigError(f"{p}: risk_bands must give a threshold for each of {list(BANDS)}, got {bands!r}")
    out = []
    for name in BANDS:
        value = bands[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
            raise ConfigError(f"{p}: risk_bands.{name} must be a probability in [0, 1], got {value!r}")
        out.append((float(value), name))
    thresholds = [t for t, _ in out]
    if thresholds != sorted(thresholds, reverse=True) or thresholds[-1] != 0.0:
        raise ConfigError(f"{p}: risk_bands must fall from high to low and end at low: 0.0, got {bands!r}")
    return tuple(out)


def risk_band(risk):
    """'high' / 'medium' / 'low' by the calibrated probability (models/scoring.yaml)."""
    import numpy as np

    bands = band_thresholds()
    risk = np.asarray(risk, dtype=np.float64)
    out = np.full(len(risk), bands[-1][1], dtype=object)
    for threshold, name in reversed(bands[:-1]):
        out[risk >= threshold] = name
    return out


def band_label(band: str, lang: str) -> str:
    """The band's word in `lang` ('vi' or 'en'); an unknown code is returned as is."""
    return BAND_LABELS.get(band, {}).get(lang, band)


def band_label_bilingual(band: str) -> str:
    """'Cao / High': for sheets read by officers in either language."""
    labels = BAND_LABELS.get(band)
    return f"{labels['vi']} / {labels['en']}" if labels else band
