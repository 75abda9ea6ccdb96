"""The web pages' own tables in the score store: one engine per URL, tables made on first use.

The score store (dropout.store) owns `runs` and `scores`; the web pages add `users`,
`web_login_failures` (accounts.py) and `visits` (visits.py) to the same database, on
their own MetaData so neither side creates or drops the other's tables.
"""

from __future__ import annotations

import threading
from functools import lru_cache

import sqlalchemy as sa
from sqlalchemy.engine import Engine

metadata = sa.MetaData()
_created: set[str] = set()
_lock = threading.Lock()


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        from pathlib import Path

        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"timeout": 30})
    return sa.create_engine(url, pool_pre_ping=True)


def engine_for(url: str) -> Engine:
    """The engine of `url` with the web tables created (once per process)."""
    engine = _engine(url)
    if url not in _created:
        with _lock:
            if url not in _created:
                # Importing registers the tables on `metadata`.
                import dropout.web.accounts  # noqa: F401
                import dropout.web.visits  # noqa: F401

                metadata.create_all(engine, checkfirst=True)
                _created.add(url)
    return engine
