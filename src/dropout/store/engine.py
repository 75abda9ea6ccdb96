"""The store's database engine: SQLite file by default, PostgreSQL (or any SQLAlchemy URL) by URL.

`make_engine(url)` gives a new engine; `engine_for(url)` one shared per process with
every table of the store created once (the web pages and the service use it).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

DEFAULT_STORE_URL = "sqlite:///out/scores.db"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # WAL keeps readers (web page, service) unblocked while a run writes; NORMAL sync is
    # durable against a killed process (the case we resume from), not a power cut.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def shown_url(url: str | None) -> str:
    """The store URL as it may be printed: the default filled in, any password hidden."""
    return make_url(url or DEFAULT_STORE_URL).render_as_string(hide_password=True)


def make_engine(url: str | None = None, schema: str | None = None) -> Engine:
    """A SQLAlchemy engine for `url` (default: the SQLite file out/scores.db).

    `schema` puts every table in that PostgreSQL schema (tests use a fresh one).
    """
    url = url or DEFAULT_STORE_URL
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if schema:
        engine = engine.execution_options(schema_translate_map={None: schema})
    return engine


_created: set[str] = set()
_lock = threading.Lock()


@lru_cache(maxsize=8)
def _shared_engine(url: str) -> Engine:
    return make_engine(url)


def engine_for(url: str) -> Engine:
    """The process's shared engine of `url`, with every table of the store created (once)."""
    from dropout.store.tables import metadata

    engine = _shared_engine(url)
    if url not in _created:
        with _lock:
            if url not in _created:
                metadata.create_all(engine, checkfirst=True)
                _created.add(url)
    return engine
