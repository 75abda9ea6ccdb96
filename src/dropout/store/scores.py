"""Scoring runs and their score rows, through SQLAlchemy 2 Core.

SQLite file by default (`out/scores.db`), PostgreSQL by URL
(`postgresql+psycopg://user@host:5432/db`).

A run's rows are written chunk by chunk, each chunk's rows and its marker in one
transaction. A process killed at any point leaves whole chunks only, so a restart
redoes exactly the chunks without a marker; an unfinished run resumes.

A finished run is never unpublished: run again, it scores into a staging run
(`<run_id>.next`, itself resumable) while the finished rows stay readable, and
`finish_run` swaps the new rows in within one transaction. Only one process scores a
given run id at a time (`run_lock`: a PostgreSQL advisory lock, or a lock on a file
beside the SQLite database); a second one is refused with a clear message.

Readers (plan, service, web page) call `read_scores(store_url, run_id)` and
`latest_run(store_url, ...)`.
"""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Connection

from dropout.errors import DropoutError
from dropout.store.engine import DEFAULT_STORE_URL, make_engine, shown_url
from dropout.store.tables import DATE_COLUMNS, SCORE_COLUMNS, SCORE_ROW, metadata, run_chunks, runs, scores


class StoreError(DropoutError):
    """The score store refuses an operation (unknown run, counts that do not add up...)."""


class RunBusyError(StoreError):
    """Another process is scoring the same run id right now."""


STAGING_SUFFIX = ".next"
#: Columns of `runs` a staging run hands over to the run it publishes.
_PUBLISHED = ("started_at", "engine", "chunk_size", "n_chunks", "n_expected", "n_scored", "n_population",
              "left_out", "data_dir", "target", "code_version")


@dataclass(frozen=True)
class RunRecord:
    """One row of `runs`."""

    run_id: str
    as_of: pd.Timestamp
    window_days: int
    model_name: str
    model_version: str | None
    model_sha256: str
    target: str | None
    data_fingerprint: str
    data_dir: str | None
    engine: str | None
    chunk_size: int | None
    n_chunks: int | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    n_expected: int
    n_scored: int
    n_population: int | None
    left_out: str | None
    message: str | None
    code_version: str | None = None
    publishes: str | None = None

    @classmethod
    def from_row(cls, row) -> "RunRecord":
        values = dict(row._mapping)
        values["as_of"] = pd.Timestamp(values["as_of"])
        return cls(**{f.name: values.get(f.name) for f in fields(cls)})


def make_run_id(as_of, window_days: int, model_sha256: str, data_fingerprint: str) -> str:
    """A readable id fixed by what determines the result: `20250701-30d-<12 hex>`."""
    as_of = pd.Timestamp(as_of)
    key = f"{as_of.date().isoformat()}|{int(window_days)}|{model_sha256}|{data_fingerprint}"
    return f"{as_of:%Y%m%d}-{int(window_days)}d-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ScoreStore:
    """Runs and scores in one SQL database.

    Args:
        url: SQLAlchemy URL; default `sqlite:///out/scores.db`.
        schema: PostgreSQL schema to hold the tables (created if missing).
    """

    def __init__(self, url: str | None = None, schema: str | None = None):
        self.url = url or DEFAULT_STORE_URL
        self.schema = schema
        self.engine = make_engine(self.url, schema)

    def __repr__(self) -> str:
        return f"ScoreStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def create_all(self) -> None:
        """Create every table of `metadata` that does not exist yet (idempotent).

        Raises:
            StoreError: a table exists with columns missing (made by an older version).
        """
        from sqlalchemy import inspect

        with self.engine.begin() as conn:
            if self.schema and conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            inspector = inspect(conn)
            for table in metadata.sorted_tables:
                if not inspector.has_table(table.name, schema=self.schema):
                    continue
                have = {c["name"] for c in inspector.get_columns(table.name, schema=self.schema)}
                missing = [c.name for c in table.columns if c.name not in have]
                for name in [m for m in missing if table.c[m].nullable and not table.c[m].primary_key]:
                    # a column added since (all such are nullable): add it in place
                    kind = table.c[name].type.compile(dialect=conn.dialect)
                    where = f'"{self.schema}".' if self.schema else ""
                    conn.exec_driver_sql(f'ALTER TABLE {where}"{table.name}" ADD COLUMN "{name}" {kind}')
                    missing.remove(name)
                if missing:
                    raise StoreError(
                        f"the store {shown_url(self.url)} has a table {table.name!r} without the column(s) "
                        f"{missing} this version writes: it was made by an older version of dropout. "
                        "Use a new store URL (or move the old file away) and score again."
                    )
            metadata.create_all(conn)

    # ------------------------------------------------------------------ runs

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(runs).where(runs.c.run_id == run_id)).first()
        return RunRecord.from_row(row) if row else None

    def list_runs(self) -> list[RunRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.started_at.desc())).all()
        return [RunRecord.from_row(r) for r in rows]

    def begin_run(self, run: dict, replace: bool = False) -> tuple[RunRecord, set[int]]:
        """Register a run or pick up the existing one; returns the run to write into and
        its committed chunks.

        An unfinished run with the same id resumes (its committed chunks are kept), or
        starts again from nothing when `replace`. A finished run is left as it is: the
        returned run is its staging run `<run_id>.next` (resumed, or afresh when
        `replace`), which `finish_run` publishes in its place.
        """
        run_id = run["run_id"]
        with self.engine.begin() as conn:
            existing = conn.execute(select(runs).where(runs.c.run_id == run_id).with_for_update()).first()
            target = None
            if existing is not None and existing.status == "finished":
                target, run_id = run_id, run_id + STAGING_SUFFIX
                run = {**run, "run_id": run_id, "publishes": target}
                existing = conn.execute(select(runs).where(runs.c.run_id == run_id).with_for_update()).first()
            if existing is not None and replace:
                _delete_run(conn, run_id)
                existing = None
            if existing is None:
                values = {**run, "status": "running", "n_scored": 0, "started_at": _now(),
                          "finished_at": None, "message": None}
                values["as_of"] = pd.Timestamp(values["as_of"]).date()
                conn.execute(insert(runs).values(**values))
                done: set[int] = set()
            else:
                if existing.n_expected != run["n_expected"] or existing.n_chunks != run.get("n_chunks"):
                    raise StoreError(
                        f"run {run_id}: the stored run expects {existing.n_expected} people in "
                        f"{existing.n_chunks} chunks, this one {run['n_expected']} in {run.get('n_chunks')}; "
                        "the same id should mean the same job (pass replace=True to start over)"
                    )
                if existing.model_sha256 != run.get("model_sha256", existing.model_sha256):
                    raise StoreError(f"run {run_id}: the stored run was scored with another model "
                                     "(digest differs); one run never mixes two models")
                done = {r.chunk_no for r in conn.execute(
                    select(run_chunks.c.chunk_no).where(run_chunks.c.run_id == run_id))}
                conn.execute(update(runs).where(runs.c.run_id == run_id).values(status="running", message=None))
            record = RunRecord.from_row(conn.execute(select(runs).where(runs.c.run_id == run_id)).one())
        return record, done

    @contextmanager
    def run_lock(self, run_id: str) -> Iterator[None]:
        """Hold the right to score `run_id` (one process at a time); raise RunBusyError
        at once if another process holds it. Released when the block ends or the
        process dies (the lock belongs to a connection or an open file)."""
        busy = RunBusyError(
            f"run {run_id} is being scored by another process right now; wait until it finishes "
            "(`dropout score` started again then finds the finished run) or stop that process")
        key = int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big", signed=True)
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect() as conn:
                if not conn.execute(sql_text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                    raise busy
                conn.commit()
                try:
                    yield
                finally:
                    conn.execute(sql_text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
            return
        database = self.engine.url.database
        if self.engine.dialect.name != "sqlite" or not database or database == ":memory:":
            yield
            return
        import fcntl

        offset = key & 0x7FFFFFFF  # one byte of a lock file per run id
        with open(f"{database}.lock", "a+b") as handle:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
            except OSError:
                raise busy from None
            try:
                yield
            finally:
                fcntl.lockf(handle, fcntl.LOCK_UN, 1, offset)

    def write_chunk(self, run_id: str, chunk_no: int, rows: pd.DataFrame,
                    before_commit: Callable[[], None] | None = None) -> int:
        """Insert one chunk's score rows and its marker in a single transaction.

        A chunk written again replaces its earlier rows and marker (same transaction), so
        a retry never duplicates. Returns the number of rows.
        """
        missing = [c for c in SCORE_COLUMNS if c not in rows.columns]
        if missing:
            raise StoreError(f"run {run_id} chunk {chunk_no}: score rows lack columns {missing}")
        chunk = (run_chunks.c.run_id == run_id) & (run_chunks.c.chunk_no == chunk_no)
        with self.engine.begin() as conn:
            previous = conn.execute(select(run_chunks.c.n_rows).where(chunk)).scalar_one_or_none() or 0
            conn.execute(delete(scores).where(scores.c.run_id == run_id, scores.c.chunk_no == chunk_no))
            conn.execute(delete(run_chunks).where(chunk))
            _insert_scores(conn, run_id, chunk_no, rows)
            conn.execute(insert(run_chunks).values(run_id=run_id, chunk_no=chunk_no, n_rows=len(rows),
                                                   committed_at=_now()))
            conn.execute(update(runs).where(runs.c.run_id == run_id)
                         .values(n_scored=runs.c.n_scored - previous + len(rows)))
            if before_commit is not None:
                before_commit()
        return len(rows)

    def finish_run(self, run_id: str) -> RunRecord:
        """Check that every expected person has exactly one row, then mark the run
        finished; a staging run is published in place of its finished run in the same
        transaction (readers see the old rows until it commits, then the new ones).
        Returns the finished (published) run."""
        with self.engine.begin() as conn:
            run = conn.execute(select(runs).where(runs.c.run_id == run_id).with_for_update()).first()
            if run is None:
                raise StoreError(f"run {run_id} is not in the store")
            n_rows = conn.execute(select(func.count()).select_from(scores).where(scores.c.run_id == run_id)).scalar_one()
            n_chunks = conn.execute(
                select(func.count()).select_from(run_chunks).where(run_chunks.c.run_id == run_id)).scalar_one()
            if n_rows != run.n_expected or (run.n_chunks is not None and n_chunks != run.n_chunks):
                raise StoreError(
                    f"run {run_id}: {n_rows} score rows in {n_chunks} chunks, expected {run.n_expected} "
                    f"in {run.n_chunks}; not marking it finished"
                )
            conn.execute(update(runs).where(runs.c.run_id == run_id)
                         .values(status="finished", finished_at=_now(), n_scored=n_rows))
            if run.publishes:
                run_id = _publish(conn, run)
            return RunRecord.from_row(conn.execute(select(runs).where(runs.c.run_id == run_id)).one())

    def fail_run(self, run_id: str, message: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(runs).where(runs.c.run_id == run_id, runs.c.status != "finished")
                         .values(status="failed", message=message[:2000]))

    # ------------------------------------------------------------------ reading

    def latest_run(self, as_of=None, window_days: int | None = None, model_name: str | None = None,
                   status: str | None = "finished") -> RunRecord | None:
        """The most recently finished (or started, with status=None) run matching the filters."""
        q = select(runs)
        if status:
            q = q.where(runs.c.status == status)
        if as_of is not None:
            q = q.where(runs.c.as_of == pd.Timestamp(as_of).date())
        if window_days is not None:
            q = q.where(runs.c.window_days == int(window_days))
        if model_name is not None:
            q = q.where(runs.c.model_name == model_name)
        order = runs.c.finished_at if status == "finished" else runs.c.started_at
        q = q.order_by(order.desc(), runs.c.run_id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(q).first()
        return RunRecord.from_row(row) if row else None

    def read_scores(self, run_id: str, district: str | None = None, commune: str | None = None,
                    participant_ids: Iterable[int] | None = None, limit: int | None = None,
                    chunk_nos: Iterable[int] | None = None) -> pd.DataFrame:
        """A run's score rows, ordered by district and rank (SCORE_COLUMNS, typed)."""
        q = select(*(scores.c[c] for c in SCORE_COLUMNS)).where(scores.c.run_id == run_id)
        if chunk_nos is not None:
            q = q.where(scores.c.chunk_no.in_([int(c) for c in chunk_nos]))
        if district is not None:
            q = q.where(scores.c.district == district)
        if commune is not None:
            q = q.where(scores.c.commune == commune)
        if participant_ids is not None:
            q = q.where(scores.c.participant_id.in_([int(p) for p in participant_ids]))
        if commune is not None:
            q = q.order_by(scores.c.rank_in_commune, scores.c.participant_id)
        else:
            q = q.order_by(scores.c.district, scores.c.rank_in_district, scores.c.participant_id)
        if limit is not None:
            q = q.limit(int(limit))
        with self.engine.connect() as conn:
            result = conn.execute(q)
            df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
        return _typed_scores(df)


def _delete_run(conn: Connection, run_id: str) -> None:
    conn.execute(delete(scores).where(scores.c.run_id == run_id))
    conn.execute(delete(run_chunks).where(run_chunks.c.run_id == run_id))
    conn.execute(delete(runs).where(runs.c.run_id == run_id))


def _publish(conn: Connection, staging) -> str:
    """Within the caller's transaction: the staging run's rows replace those of the run
    it publishes; the run keeps its id and its registry name and version unless the
    staging run knows better. Returns the published run id."""
    target_id = staging.publishes
    target = conn.execute(select(runs).where(runs.c.run_id == target_id).with_for_update()).first()
    if target is None:
        raise StoreError(f"run {staging.run_id} publishes {target_id}, which is not in the store")
    conn.execute(delete(scores).where(scores.c.run_id == target_id))
    conn.execute(delete(run_chunks).where(run_chunks.c.run_id == target_id))
    conn.execute(update(scores).where(scores.c.run_id == staging.run_id).values(run_id=target_id))
    conn.execute(update(run_chunks).where(run_chunks.c.run_id == staging.run_id).values(run_id=target_id))
    values = {c: getattr(staging, c) for c in _PUBLISHED}
    if staging.model_version is not None or target.model_version is None:
        values.update(model_name=staging.model_name, model_version=staging.model_version)
    conn.execute(update(runs).where(runs.c.run_id == target_id)
                 .values(**values, status="finished", finished_at=_now(), message=None, publishes=None))
    conn.execute(delete(runs).where(runs.c.run_id == staging.run_id))
    return target_id


def _typed_scores(df: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for col in SCORE_ROW:
        c = col.name
        s = df[c] if c in df.columns else pd.Series([None] * len(df))
        if col.kind == "date":
            out[c] = pd.to_datetime(s).astype("datetime64[ns]")
        elif col.kind == "int":
            out[c] = s.astype(np.int64)
        elif col.kind == "float":
            out[c] = s.astype(np.float64)
        else:
            out[c] = s.astype("str").where(s.notna(), None) if len(s) else s.astype("str")
    return out


def _python_columns(run_id: str, chunk_no: int, rows: pd.DataFrame, date_as_text: bool) -> list[list]:
    """Each column of `scores` as a list of plain Python values (None for null), in table order."""
    n = len(rows)
    cols: list[list] = [[run_id] * n, [int(chunk_no)] * n]
    for c in SCORE_COLUMNS:
        s = rows[c]
        if c in DATE_COLUMNS:
            d = pd.to_datetime(s)
            values = d.dt.strftime("%Y-%m-%d") if date_as_text else d.dt.date
            cols.append(values.astype(object).where(d.notna(), None).tolist())
        elif pd.api.types.is_integer_dtype(s):
            cols.append(s.to_numpy(np.int64).tolist())
        elif pd.api.types.is_float_dtype(s):
            cols.append(s.to_numpy(np.float64).tolist())
        else:
            cols.append(s.astype(object).where(s.notna(), None).tolist())
    return cols


def _insert_scores(conn: Connection, run_id: str, chunk_no: int, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        _copy_scores(conn, run_id, chunk_no, rows)
    elif conn.dialect.name == "sqlite" and conn.dialect.driver == "pysqlite":
        # The DBAPI cursor on the same connection (so the same transaction) with plain
        # tuples: ~10x faster than SQLAlchemy's executemany of dicts. Dates are stored as
        # the 'YYYY-MM-DD' text SQLAlchemy's Date type reads back.
        names = [c.name for c in scores.columns]
        schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
        target = f'"{schema}"."{scores.name}"' if schema else f'"{scores.name}"'
        sql = f"INSERT INTO {target} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        by_name = dict(zip(["run_id", "chunk_no", *SCORE_COLUMNS],
                           _python_columns(run_id, chunk_no, rows, date_as_text=True)))
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.executemany(sql, zip(*(by_name[c] for c in names)))
        except conn.dialect.dbapi.IntegrityError as err:  # as SQLAlchemy would raise it
            from sqlalchemy.exc import IntegrityError

            raise IntegrityError(sql, None, err) from err
        finally:
            cursor.close()
    else:
        names = ["run_id", "chunk_no", *SCORE_COLUMNS]
        cols = _python_columns(run_id, chunk_no, rows, date_as_text=False)
        conn.execute(insert(scores), [dict(zip(names, r)) for r in zip(*cols)])


def _copy_scores(conn: Connection, run_id: str, chunk_no: int, rows: pd.DataFrame) -> None:
    """PostgreSQL COPY in text format: several times faster than INSERT for big chunks."""
    cols = ["run_id", "chunk_no", *SCORE_COLUMNS]
    text = {"run_id": pd.Series(run_id, index=rows.index), "chunk_no": pd.Series(str(int(chunk_no)), index=rows.index)}
    for c in SCORE_COLUMNS:
        s = rows[c]
        if c in DATE_COLUMNS:
            t = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif pd.api.types.is_float_dtype(s):
            t = pd.Series(np.char.mod("%.17g", s.to_numpy(dtype=np.float64)), index=rows.index)
        elif pd.api.types.is_integer_dtype(s):
            t = s.astype(np.int64).astype(str)
        else:
            # Text COPY: backslash, tab and line breaks must be escaped; null is \N.
            t = (s.astype(object).astype(str).str.replace("\\", "\\\\", regex=False)
                 .str.replace("\t", "\\t", regex=False).str.replace("\n", "\\n", regex=False)
                 .str.replace("\r", "\\r", regex=False))
        text[c] = t.astype(object).where(s.notna().to_numpy(), "\\N")
    lines = text[cols[0]].astype(str).str.cat([text[c].astype(str) for c in cols[1:]], sep="\t")
    payload = "\n".join(lines.tolist()) + "\n"
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    target = f'"{schema}"."{scores.name}"' if schema else f'"{scores.name}"'
    col_list = ", ".join(f'"{c}"' for c in cols)
    import psycopg
    from sqlalchemy.exc import IntegrityError

    statement = f"COPY {target} ({col_list}) FROM STDIN"
    raw = conn.connection.driver_connection
    try:
        with raw.cursor() as cur:
            with cur.copy(statement) as copy:
                copy.write(payload)
    except psycopg.errors.IntegrityError as err:  # the same exception type as an INSERT would raise
        raise IntegrityError(statement, None, err) from err


# ---------------------------------------------------------------- module-level readers


def open_store(url: str | None = None, schema: str | None = None, create: bool = True) -> ScoreStore:
    """A ScoreStore for `url`, its tables created unless `create` is False."""
    store = ScoreStore(url, schema)
    if create:
        store.create_all()
    return store


def read_scores(store_url: str | None, run_id: str, **filters) -> pd.DataFrame:
    """One run's score rows (see ScoreStore.read_scores for `district`, `commune`, ...).

    Raises:
        StoreError: if the run is not in the store or is not finished.
    """
    store = open_store(store_url, create=False)
    try:
        run = store.get_run(run_id)
        if run is None:
            known = [r.run_id for r in store.list_runs()[:5]]
            raise StoreError(f"run {run_id!r} is not in the store {store!r}; recent runs: {known}")
        if run.status != "finished":
            raise StoreError(f"run {run_id} is {run.status}, not finished ({run.n_scored}/{run.n_expected} scored)")
        return store.read_scores(run_id, **filters)
    finally:
        store.dispose()


def latest_run(store_url: str | None = None, as_of=None, window_days: int | None = None,
               model_name: str | None = None) -> RunRecord | None:
    """The latest finished run matching the filters, or None."""
    store = open_store(store_url, create=False)
    try:
        from sqlalchemy import inspect

        with store.engine.connect() as conn:
            if not inspect(conn).has_table("runs", schema=store.schema):
                return None
        return store.latest_run(as_of=as_of, window_days=window_days, model_name=model_name)
    finally:
        store.dispose()
