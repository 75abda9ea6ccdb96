"""Monitoring in the store: outcomes joined to score rows, and each run's monitoring result.

- `monitor_outcomes`: one row per (run, participant) whose installment's deadline has
  passed in an export: lapsed or kept, the day paid, the export it was read from.
  Backfilling is idempotent: the same export twice changes nothing, a newer export
  replaces what an older one said (a payment recorded late but dated in time), an
  older one never overwrites a newer.
- `monitor_results`: one row per scoring run, replaced at each `dropout monitor`: the
  status (ok / alert), the alerts, and the estimated, realised and drift numbers as
  JSON (by district inside), read by the report, the pages and the service.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import sqlalchemy as sa

from dropout.store.engine import engine_for
from dropout.store.tables import metadata

monitor_outcomes = sa.Table(
    "monitor_outcomes",
    metadata,
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("participant_id", sa.BigInteger, nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("lapsed", sa.Integer, nullable=False),
    sa.Column("paid_on", sa.Date, nullable=True),
    sa.Column("extracted_on", sa.Date, nullable=False),
    sa.PrimaryKeyConstraint("run_id", "participant_id", name="monitor_outcomes_run_participant"),
    sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
)

monitor_results = sa.Table(
    "monitor_results",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("model_name", sa.String(200), nullable=True),
    sa.Column("model_version", sa.String(50), nullable=True),
    sa.Column("model_sha256", sa.String(64), nullable=True),
    sa.Column("extracted_on", sa.Date, nullable=False),  # the export monitored with
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("n_scored", sa.Integer, nullable=False),
    sa.Column("n_outcomes", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # ok | alert
    sa.Column("alerts", sa.Text, nullable=False),  # JSON list of {kind, scope, message_en, message_vi, ...}
    sa.Column("payload", sa.Text, nullable=False),  # JSON: estimated, realised, drift, by group
    sa.ForeignKeyConstraint(["run_id"], ["runs.run_id"], ondelete="CASCADE"),
)

MONITOR_TABLES = [monitor_outcomes, monitor_results]


def _engine(store_url: str):
    engine = engine_for(store_url)
    metadata.create_all(engine, tables=MONITOR_TABLES, checkfirst=True)
    return engine


def backfill_outcomes(store_url: str, run_id: str, outcomes: pd.DataFrame, extracted_on) -> dict[str, int]:
    """Store the outcomes of one run's rows read from the export of `extracted_on`.

    Returns counts: added (new rows), updated (a newer export changed them), kept.
    """
    extracted = pd.Timestamp(extracted_on).date()
    engine = _engine(store_url)
    counts = {"added": 0, "updated": 0, "kept": 0}
    if outcomes.empty:
        return counts
    with engine.begin() as conn:
        stored = conn.execute(sa.select(monitor_outcomes.c.participant_id, monitor_outcomes.c.lapsed,
                                        monitor_outcomes.c.paid_on, monitor_outcomes.c.extracted_on)
                              .where(monitor_outcomes.c.run_id == run_id)).all()
        have = {int(r.participant_id): r for r in stored}
        new_rows, stale = [], []
        for r in outcomes.itertuples(index=False):
            pid = int(r.participant_id)
            paid = None if pd.isna(r.paid_on) else pd.Timestamp(r.paid_on).date()
            row = {"run_id": run_id, "participant_id": pid, "due_on": pd.Timestamp(r.due_on).date(),
                   "lapsed": int(r.lapsed), "paid_on": paid, "extracted_on": extracted}
            old = have.get(pid)
            if old is None:
                new_rows.append(row)
                counts["added"] += 1
            elif old.extracted_on < extracted and (int(old.lapsed) != row["lapsed"] or old.paid_on != paid):
                stale.append(pid)
                new_rows.append(row)
                counts["updated"] += 1
            else:
                counts["kept"] += 1
        for start in range(0, len(stale), 500):
            conn.execute(monitor_outcomes.delete().where(
                (monitor_outcomes.c.run_id == run_id) & monitor_outcomes.c.participant_id.in_(stale[start:start + 500])))
        if new_rows:
            conn.execute(monitor_outcomes.insert(), new_rows)
    return counts


def read_outcomes(store_url: str, run_id: str) -> pd.DataFrame:
    """participant_id, due_on, lapsed, paid_on, extracted_on of one run's known outcomes."""
    engine = _engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(monitor_outcomes.c.participant_id, monitor_outcomes.c.due_on,
                                      monitor_outcomes.c.lapsed, monitor_outcomes.c.paid_on,
                                      monitor_outcomes.c.extracted_on)
                            .where(monitor_outcomes.c.run_id == run_id)).all()
    df = pd.DataFrame([tuple(r) for r in rows],
                      columns=["participant_id", "due_on", "lapsed", "paid_on", "extracted_on"])
    df["participant_id"] = df["participant_id"].astype(np.int64)
    df["lapsed"] = df["lapsed"].astype(np.int8)
    for c in ("due_on", "paid_on", "extracted_on"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
    return df


def save_result(store_url: str, run, extracted_on, n_scored: int, n_outcomes: int, alerts: list[dict],
                payload: dict) -> None:
    """Replace the monitoring result of one run (`run`: its `RunRecord`)."""
    engine = _engine(store_url)
    row = {
        "run_id": run.run_id, "as_of": pd.Timestamp(run.as_of).date(), "model_name": run.model_name,
        "model_version": run.model_version, "model_sha256": run.model_sha256,
        "extracted_on": pd.Timestamp(extracted_on).date(), "computed_at": datetime.now(timezone.utc),
        "n_scored": int(n_scored), "n_outcomes": int(n_outcomes), "status": "alert" if alerts else "ok",
        "alerts": json.dumps(alerts, ensure_ascii=False, allow_nan=False, default=_plain),
        "payload": json.dumps(payload, ensure_ascii=False, default=_plain),
    }
    with engine.begin() as conn:
        conn.execute(monitor_results.delete().where(monitor_results.c.run_id == run.run_id))
        conn.execute(monitor_results.insert().values(**row))


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def read_results(store_url: str) -> list[dict]:
    """Every run's monitoring result, oldest as-of first (alerts and payload decoded)."""
    engine = _engine(store_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(monitor_results).order_by(monitor_results.c.as_of,
                                                                monitor_results.c.run_id)).all()
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["alerts"] = json.loads(d["alerts"])
        d["payload"] = json.loads(d["payload"])
        out.append(d)
    return out


def latest_status(store_url: str) -> dict | None:
    """The newest run's monitoring status (as-of, status, alerts, when), or None."""
    engine = _engine(store_url)
    with engine.connect() as conn:
        r = conn.execute(sa.select(monitor_results.c.run_id, monitor_results.c.as_of, monitor_results.c.status,
                                   monitor_results.c.alerts, monitor_results.c.computed_at,
                                   monitor_results.c.extracted_on, monitor_results.c.model_version,
                                   monitor_results.c.n_outcomes)
                         .order_by(monitor_results.c.as_of.desc(), monitor_results.c.computed_at.desc())
                         .limit(1)).first()
    if r is None:
        return None
    return {"run_id": r.run_id, "as_of": str(r.as_of), "status": r.status, "alerts": json.loads(r.alerts),
            "computed_at": r.computed_at.isoformat() if r.computed_at else None,
            "monitored_with_export_of": str(r.extracted_on), "model_version": r.model_version,
            "outcomes_known": int(r.n_outcomes)}
