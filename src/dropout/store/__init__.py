"""The store: every SQL table of the project and the engine they live in.

SQLite file by default (`out/scores.db`), PostgreSQL by URL. One `MetaData`
(`tables.py`) holds every table; nothing outside this package defines one.

    engine.py   engines: make_engine, the shared engine_for(url), shown_url
    tables.py   runs, run_chunks, scores; users, web_login_failures; visits
    scores.py   scoring runs and their rows: ScoreStore, read_scores, latest_run
    reads.py    the service's reads of runs and rows as prepared statements (ScoreReads)
    visits.py   visits officers record on the pages, read back in the contract's columns
"""

from dropout.store.engine import DEFAULT_STORE_URL, engine_for, make_engine, shown_url
from dropout.store.scores import (
    RunRecord,
    ScoreStore,
    StoreError,
    latest_run,
    make_run_id,
    open_store,
    read_scores,
)
from dropout.store.tables import SCORE_COLUMNS, metadata, run_chunks, runs, scores

__all__ = [
    "DEFAULT_STORE_URL", "RunRecord", "SCORE_COLUMNS", "ScoreStore", "StoreError", "engine_for", "latest_run",
    "make_engine", "make_run_id", "metadata", "open_store", "read_scores", "run_chunks", "runs", "scores",
    "shown_url",
]
