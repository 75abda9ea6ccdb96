"""The score store's reads for the service, as statements prepared once.

`/score_ids` and `/ranked` ask the same few questions many times a second: the latest
finished run (or one run by id), and its rows for some people, a commune or a district.
`ScoreReads` builds each statement once with bound parameters (SQLAlchemy compiles it
once and keeps it in its cache), runs it on the store's pooled engine and returns plain
rows (`dict`s of Python values, dates as `datetime.date`), without pandas: for one
person, building and typing a frame cost many times the query.

Row order is that of `ScoreStore.read_scores`: by district and rank in district, or by
rank in the commune when a commune is asked for.
"""

from __future__ import annotations

import threading
from typing import Iterable

from sqlalchemy import bindparam, inspect, select

from dropout.store.scores import RunRecord, ScoreStore
from dropout.store.tables import SCORE_COLUMNS, runs, scores


class ScoreReads:
    """Prepared reads of one store (see the module docstring)."""

    def __init__(self, store: ScoreStore):
        self.store = store
        c = scores.c
        rows = select(*(c[name] for name in SCORE_COLUMNS)).where(c.run_id == bindparam("run_id"))
        by_district = (c.district, c.rank_in_district, c.participant_id)
        by_commune = (c.rank_in_commune, c.participant_id)
        self._rows = {
            "ids": rows.where(c.participant_id.in_(bindparam("ids", expanding=True))).order_by(*by_district),
            "commune": rows.where(c.commune == bindparam("commune")).order_by(*by_commune),
            "commune_district": rows.where(c.commune == bindparam("commune"), c.district == bindparam("district"))
                                    .order_by(*by_commune),
            "district": rows.where(c.district == bindparam("district")).order_by(*by_district),
            "all": rows.order_by(*by_district),
        }
        self._limited = {k: q.limit(bindparam("limit")) for k, q in self._rows.items()}
        self._latest = (select(runs).where(runs.c.status == "finished")
                        .order_by(runs.c.finished_at.desc(), runs.c.run_id.desc()).limit(1))
        self._run = select(runs).where(runs.c.run_id == bindparam("run_id"))
        self._has_runs = False
        self._lock = threading.Lock()

    def has_runs(self) -> bool:
        """Whether the store holds a `runs` table (checked until it does, then remembered)."""
        if not self._has_runs:
            with self._lock, self.store.engine.connect() as conn:
                self._has_runs = inspect(conn).has_table("runs", schema=self.store.schema)
        return self._has_runs

    def run(self, run_id: str | None = None) -> RunRecord | None:
        """Run `run_id`, or the latest finished run; None when there is none."""
        with self.store.engine.connect() as conn:
            row = conn.execute(self._run, {"run_id": run_id}).first() if run_id else conn.execute(self._latest).first()
        return RunRecord.from_row(row) if row else None

    def rows(self, run_id: str, participant_ids: Iterable[int] | None = None, commune: str | None = None,
             district: str | None = None, limit: int | None = None) -> list[dict]:
        """A run's score rows (SCORE_COLUMNS) for these people, or this commune and/or district."""
        params: dict = {"run_id": run_id}
        if participant_ids is not None:
            kind, params["ids"] = "ids", [int(p) for p in participant_ids]
        elif commune is not None:
            kind = "commune_district" if district is not None else "commune"
            params["commune"] = commune
            if district is not None:
                params["district"] = district
        elif district is not None:
            kind, params["district"] = "district", district
        else:
            kind = "all"
        if limit is not None:
            params["limit"] = int(limit)
        statement = (self._limited if limit is not None else self._rows)[kind]
        with self.store.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(statement, params)]
