"""The web pages' own tables in the score store: one engine per URL, tables made on first use.

The score store (`dropout.store`) owns `runs`, `run_chunks` and `scores`; the web pages
add `users`, `web_login_failures` (accounts.py) and `visits` (visits.py) to the same
`MetaData`, as the store intends, and create only their own tables here.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from sqlalchemy.engine import Engine

from dropout.store import make_engine, metadata

__all__ = ["engine_for", "metadata"]

_created: set[str] = set()
_lock = threading.Lock()


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    return make_engine(url)


def web_tables():
    """The tables the web pages own (imported here so they are registered on `metadata`)."""
    from dropout.web.accounts import login_failures, users
    from dropout.web.visits import visits

    return [users, login_failures, visits]


def engine_for(url: str) -> Engine:
    """The engine of `url`, with the web pages' tables created (once per process)."""
    engine = _engine(url)
    if url not in _created:
        with _lock:
            if url not in _created:
                metadata.create_all(engine, tables=web_tables(), checkfirst=True)
                _created.add(url)
    return engine
