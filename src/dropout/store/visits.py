"""Visits officers record on the web pages, in the store's `visits` table.

`recorded_visits(store_url)` hands them back in the data contract's visits columns
(docs/data.md); `dropout.recorded_visits.with_recorded_visits` appends them to the raw
`visits` table before a feature build (`dropout features`, `dropout score`), so the
outreach features see them from their day on: this closes the loop for retraining.

Their `visit_id` is `WEB_VISIT_ID_OFFSET` + the row id, so they never collide with the
ids of an office export (which count up from 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

import pandas as pd
import sqlalchemy as sa

from dropout.store.engine import engine_for
from dropout.store.tables import visits

VISIT_KINDS = ("home_visit", "evening_session")
WEB_VISIT_ID_OFFSET = 10**12
CONTRACT_COLUMNS = ["visit_id", "participant_id", "village_id", "visited_on", "kind", "language", "outcome_note"]

@dataclass(frozen=True)
class NewVisit:
    """A visit as an officer records it (validated by the page before it gets here)."""

    participant_id: int | None
    village_id: str
    district: str
    visited_on: date
    kind: str
    language: str
    outcome_note: str | None
    recorded_by: str

    def __post_init__(self):
        if self.kind not in VISIT_KINDS:
            raise ValueError(f"visits.kind {self.kind!r}: must be one of {VISIT_KINDS}")
        if self.kind == "home_visit" and self.participant_id is None:
            raise ValueError("visits.participant_id: a home_visit needs a participant")


def record_visit(store_url: str, visit: NewVisit) -> int:
    """Insert one visit; returns its contract `visit_id`."""
    with engine_for(store_url).begin() as conn:
        result = conn.execute(
            visits.insert().values(
                participant_id=visit.participant_id,
                village_id=visit.village_id,
                district=visit.district,
                visited_on=visit.visited_on,
                kind=visit.kind,
                language=visit.language,
                outcome_note=visit.outcome_note or None,
                recorded_by=visit.recorded_by,
                recorded_at=datetime.now(timezone.utc),
            )
        )
        return WEB_VISIT_ID_OFFSET + int(result.inserted_primary_key[0])


def _frame(rows, extra: bool) -> pd.DataFrame:
    df = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=["id", "participant_id", "village_id", "visited_on", "kind", "language", "outcome_note", "recorded_by"],
    )
    out = pd.DataFrame(
        {
            "visit_id": (df["id"].astype("int64") + WEB_VISIT_ID_OFFSET).astype("int64"),
            "participant_id": pd.array(df["participant_id"], dtype="Int64"),
            "village_id": df["village_id"].astype(str),
            "visited_on": pd.to_datetime(df["visited_on"]).astype("datetime64[ns]"),
            "kind": df["kind"].astype(str),
            "language": df["language"].astype(str),
            "outcome_note": df["outcome_note"].astype(object).where(df["outcome_note"].notna(), None),
        }
    )
    if extra:
        out["recorded_by"] = df["recorded_by"].astype(str)
    return out


_COLUMNS = (
    visits.c.id,
    visits.c.participant_id,
    visits.c.village_id,
    visits.c.visited_on,
    visits.c.kind,
    visits.c.language,
    visits.c.outcome_note,
    visits.c.recorded_by,
)


def recorded_visits(store_url: str) -> pd.DataFrame:
    """Every visit recorded on the web pages, in the contract's visits columns.

    Returns: visit_id (int64), participant_id (Int64, null for a village-wide evening
    session), village_id, visited_on (datetime64[ns]), kind, language, outcome_note.
    """
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(sa.select(*_COLUMNS).order_by(visits.c.id)).all()
    return _frame(rows, extra=False)[CONTRACT_COLUMNS]


def visits_of_participant(store_url: str, participant_id: int) -> pd.DataFrame:
    """Recorded visits of one person (with `recorded_by`), newest first."""
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(
            sa.select(*_COLUMNS)
            .where(visits.c.participant_id == int(participant_id))
            .order_by(visits.c.visited_on.desc(), visits.c.id.desc())
        ).all()
    return _frame(rows, extra=True)


def last_visits(store_url: str, district: str) -> pd.DataFrame:
    """The latest recorded visit day per participant of a district: participant_id, visited_on."""
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(
            sa.select(visits.c.participant_id, sa.func.max(visits.c.visited_on))
            .where(visits.c.district == district, visits.c.participant_id.is_not(None))
            .group_by(visits.c.participant_id)
        ).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["participant_id", "visited_on"])
    df["participant_id"] = df["participant_id"].astype("int64")
    df["visited_on"] = pd.to_datetime(df["visited_on"]).astype("datetime64[ns]")
    return df
