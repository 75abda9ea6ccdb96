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
VISIT_OUTCOMES = ("promised", "paid", "refused", "not_home", "moved_away")
REFUSAL_REASONS = ("cannot_afford", "no_trust", "no_benefit_soon", "family_decides", "other")
WEB_VISIT_ID_OFFSET = 10**12
CONTRACT_COLUMNS = ["visit_id", "participant_id", "village_id", "visited_on", "kind", "language", "outcome_note",
                    "outcome", "promised_on"]
# Columns added to the visits table after stores were first made: added on first use.
_ADDED = {"outcome": "VARCHAR(16)", "promised_on": "DATE", "refusal_reason": "VARCHAR(32)"}
_UPGRADED: set[str] = set()


def _upgrade(url: str) -> None:
    """Add the outcome columns to a visits table made before they existed (once per store)."""
    if url in _UPGRADED:
        return
    engine = engine_for(url)
    inspector = sa.inspect(engine)
    if inspector.has_table("visits"):
        have = {c["name"] for c in inspector.get_columns("visits")}
        with engine.begin() as conn:
            for name, kind in _ADDED.items():
                if name not in have:
                    conn.execute(sa.text(f"ALTER TABLE visits ADD COLUMN {name} {kind}"))
    _UPGRADED.add(url)

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
    outcome: str | None = None
    promised_on: date | None = None
    refusal_reason: str | None = None

    def __post_init__(self):
        if self.kind not in VISIT_KINDS:
            raise ValueError(f"visits.kind {self.kind!r}: must be one of {VISIT_KINDS}")
        if self.outcome is not None and self.outcome not in VISIT_OUTCOMES:
            raise ValueError(f"visits.outcome {self.outcome!r}: must be one of {VISIT_OUTCOMES}")
        if (self.outcome == "promised") != (self.promised_on is not None):
            raise ValueError("visits.promised_on: give the date exactly when the outcome is 'promised'")
        if self.refusal_reason is not None and (self.outcome != "refused" or self.refusal_reason not in REFUSAL_REASONS):
            raise ValueError(f"visits.refusal_reason: one of {REFUSAL_REASONS}, only when the outcome is 'refused'")
        if self.kind == "home_visit" and self.participant_id is None:
            raise ValueError("visits.participant_id: a home_visit needs a participant")


def record_visit(store_url: str, visit: NewVisit) -> int:
    """Insert one visit; returns its contract `visit_id`."""
    _upgrade(store_url)
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
                outcome=visit.outcome,
                promised_on=visit.promised_on,
                refusal_reason=visit.refusal_reason,
            )
        )
        return WEB_VISIT_ID_OFFSET + int(result.inserted_primary_key[0])


def _frame(rows, extra: bool) -> pd.DataFrame:
    df = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=["id", "participant_id", "village_id", "visited_on", "kind", "language", "outcome_note", "recorded_by",
                 "outcome", "promised_on", "refusal_reason"],
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
            "outcome": df["outcome"].astype(object).where(df["outcome"].notna(), None),
            "promised_on": pd.to_datetime(df["promised_on"]).astype("datetime64[ns]"),
        }
    )
    if extra:
        out["recorded_by"] = df["recorded_by"].astype(str)
        out["refusal_reason"] = df["refusal_reason"].astype(object).where(df["refusal_reason"].notna(), None)
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
    visits.c.outcome,
    visits.c.promised_on,
    visits.c.refusal_reason,
)


def recorded_visits(store_url: str) -> pd.DataFrame:
    """Every visit recorded on the web pages, in the contract's visits columns.

    Returns: visit_id (int64), participant_id (Int64, null for a village-wide evening
    session), village_id, visited_on (datetime64[ns]), kind, language, outcome_note,
    outcome, promised_on.
    """
    _upgrade(store_url)
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(sa.select(*_COLUMNS).order_by(visits.c.id)).all()
    return _frame(rows, extra=False)[CONTRACT_COLUMNS]


def visits_of_participant(store_url: str, participant_id: int) -> pd.DataFrame:
    """Recorded visits of one person (with `recorded_by`, `refusal_reason`), newest first."""
    _upgrade(store_url)
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(
            sa.select(*_COLUMNS)
            .where(visits.c.participant_id == int(participant_id))
            .order_by(visits.c.visited_on.desc(), visits.c.id.desc())
        ).all()
    return _frame(rows, extra=True)


def last_visits(store_url: str, district: str | None = None) -> pd.DataFrame:
    """The latest recorded home visit per participant of a district (None: every district):
    participant_id, visited_on, outcome, promised_on."""
    _upgrade(store_url)
    query = (sa.select(visits.c.participant_id, visits.c.visited_on, visits.c.outcome, visits.c.promised_on)
             .where(visits.c.participant_id.is_not(None))
             .order_by(visits.c.participant_id, visits.c.visited_on, visits.c.id))
    if district is not None:
        query = query.where(visits.c.district == district)
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(query).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=["participant_id", "visited_on", "outcome", "promised_on"])
    df = df.drop_duplicates("participant_id", keep="last").reset_index(drop=True)
    df["participant_id"] = df["participant_id"].astype("int64")
    df["visited_on"] = pd.to_datetime(df["visited_on"]).astype("datetime64[ns]")
    df["promised_on"] = pd.to_datetime(df["promised_on"]).astype("datetime64[ns]")
    return df


def visits_key(store_url: str) -> tuple:
    """What changes when a visit is recorded: (rows, largest id)."""
    with engine_for(store_url).connect() as conn:
        if not sa.inspect(conn).has_table("visits"):
            return ()
        return tuple(conn.execute(sa.select(sa.func.count(), sa.func.max(visits.c.id))).one())
