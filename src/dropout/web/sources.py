"""The real data behind the pages: the score store, the raw data folder, the visit plan.

`StoreData` implements `WebData` by loading, for each district, the scores of the latest
finished run that covers it (`dropout.store`), the raw tables of `data_dir`
(`dropout.io.load_tables`), and the visit plan (a `dropout plan` output, or planned
in-process with `dropout.plan.plan_visits`). It checks the store for a newer run at most
every `refresh_seconds` and rebuilds only when the set of finished runs changed. Nothing
is read before the first page asks (or `preload()`), so importing the service that mounts
the pages (e.g. `bentoml build`) touches no data.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from dropout.errors import InputError
from dropout.io import load_tables
from dropout.schema import Tables
from dropout.web.data import RUN_COLUMNS, SCORE_COLUMNS, InMemoryData, ParticipantRecord, RunInfo

log = logging.getLogger("dropout.web")


def latest_runs_by_district(store_url: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The latest finished run of every district, and those runs' score rows.

    Returns:
        runs (RUN_COLUMNS, one row per district) and scores (run_id + the store's
        score columns), both empty when the store has no finished run.
    """
    from dropout.store import open_store, runs as runs_table, scores as scores_table

    store = open_store(store_url, create=False)
    try:
        with store.engine.connect() as conn:
            if not sa.inspect(conn).has_table("runs"):
                return pd.DataFrame(columns=RUN_COLUMNS), pd.DataFrame(columns=["run_id", *SCORE_COLUMNS])
            finished = conn.execute(
                sa.select(runs_table)
                .where(runs_table.c.status == "finished")
                .order_by(runs_table.c.finished_at.desc(), runs_table.c.run_id.desc())
            ).all()
            chosen: dict[str, object] = {}
            for run in finished:  # newest first: a district takes the first run that covers it
                districts = conn.execute(
                    sa.select(scores_table.c.district).where(scores_table.c.run_id == run.run_id).distinct()
                ).scalars()
                for d in districts:
                    chosen.setdefault(d, run)
        parts, run_rows = [], []
        for district, run in sorted(chosen.items()):
            rows = store.read_scores(run.run_id, district=district)
            parts.append(rows.assign(run_id=run.run_id))
            model = run.model_name + (f" v{run.model_version}" if run.model_version else "")
            run_rows.append((run.run_id, district, pd.Timestamp(run.as_of), run.window_days, model,
                             pd.Timestamp(run.finished_at)))
    finally:
        store.dispose()
    runs = pd.DataFrame(run_rows, columns=RUN_COLUMNS)
    scores = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run_id", *SCORE_COLUMNS])
    return runs, scores


def finished_runs_key(store_url: str) -> tuple:
    """What changes when a run finishes or is replaced: (run_id, finished_at) of every finished run."""
    from dropout.store import open_store, runs as runs_table

    store = open_store(store_url, create=False)
    try:
        with store.engine.connect() as conn:
            if not sa.inspect(conn).has_table("runs"):
                return ()
            rows = conn.execute(
                sa.select(runs_table.c.run_id, runs_table.c.finished_at).where(runs_table.c.status == "finished")
            ).all()
    finally:
        store.dispose()
    return tuple(sorted((r.run_id, str(r.finished_at)) for r in rows))


def read_plan(path: Path) -> pd.DataFrame:
    """A plan written by `dropout plan`: plan.parquet (or .csv), or the folder holding it."""
    path = Path(path)
    if path.is_dir():
        for name in ("plan.parquet", "plan.csv"):
            if (path / name).exists():
                path = path / name
                break
        else:
            raise FileNotFoundError(f"{path}: no plan.parquet or plan.csv in this folder")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise InputError(f"{path}: a plan is read from .parquet or .csv")


def plan_in_process(scores: pd.DataFrame, runs: pd.DataFrame, tables: Tables, capacity: str) -> pd.DataFrame:
    """The visits table of `dropout.plan.plan_visits` for these scores, as `dropout plan` makes it."""
    from dropout.plan import load_plan_config, plan_visits, villages_with_enrolled

    villages = villages_with_enrolled(tables, runs["as_of"].max())
    return plan_visits(scores, villages, capacity, load_plan_config()).visits


class StoreData:
    """`WebData` from the score store and the data folder, reloaded when a run finishes."""

    def __init__(self, store_url: str, data_dir: Path | None = None, plan_path: Path | None = None,
                 plan_capacity: str | None = None, refresh_seconds: int = 60, test_data: bool = False):
        self.store_url = store_url
        self.data_dir = Path(data_dir) if data_dir else None
        self.plan_path = Path(plan_path) if plan_path else None
        self.plan_capacity = plan_capacity
        self.refresh_seconds = refresh_seconds
        self.test_data = test_data
        self._lock = threading.Lock()
        self._inner: InMemoryData | None = None
        self._key: tuple | None = None
        self._checked = float("-inf")
        self._tables: Tables | None = None
        self._tables_loaded = False

    def preload(self) -> None:
        """Read the store and the data folder now (a bad folder is refused here, not on a page)."""
        self._checked = float("-inf")
        self._current()

    def _plan_key(self) -> float | None:
        return self.plan_path.stat().st_mtime if self.plan_path and self.plan_path.exists() else None

    def _activity_key(self) -> tuple:
        """What changes when payments are merged or a visit is recorded."""
        from dropout.store.payments import payments_key
        from dropout.store.visits import visits_key

        return payments_key(self.store_url), visits_key(self.store_url)

    def _current(self) -> InMemoryData:
        now = time.monotonic()
        if self._inner is not None and now - self._checked < self.refresh_seconds:
            return self._inner
        with self._lock:
            if self._inner is None or now - self._checked >= self.refresh_seconds:
                key = (finished_runs_key(self.store_url), self._plan_key(), self._activity_key())
                if key != self._key or self._inner is None:
                    self._inner = self._load()
                    self._key = key
                self._checked = now
        return self._inner

    def _load(self) -> InMemoryData:
        if not self._tables_loaded and self.data_dir is not None:
            self._tables = load_tables(self.data_dir)
        self._tables_loaded = True
        from dropout.store.payments import paid_after_scoring
        from dropout.store.visits import last_visits

        runs, scores = latest_runs_by_district(self.store_url)
        payments, payments_as_of = paid_after_scoring(self.store_url)
        visits = last_visits(self.store_url)
        data = InMemoryData(scores=scores, runs=runs, tables=self._tables, test_data=self.test_data,
                            payments=payments, payments_as_of=payments_as_of, visits=visits)
        plan = None
        if self.plan_path is not None:
            plan = read_plan(self.plan_path)
        elif self.plan_capacity and self._tables is not None and len(scores):
            # People done since scoring (paid, visited) leave, and the plan is made again
            # for those still to see.
            done = set()
            for d in data.districts():
                s = data.scores(d)
                if "done" in s.columns:
                    done |= set(s.loc[s["done"], "participant_id"].astype("int64"))
            open_scores = scores[~scores["participant_id"].astype("int64").isin(done)]
            if len(open_scores):
                plan = plan_in_process(open_scores, runs, self._tables, self.plan_capacity)
        log.info("web data loaded: %d district(s) with a finished run", len(runs))
        return InMemoryData(scores=scores, runs=runs, tables=self._tables, plan=plan, test_data=self.test_data,
                            payments=payments, payments_as_of=payments_as_of, visits=visits)

    # ------------------------------------------------------------ WebData, delegated

    def districts(self) -> list[str]:
        return self._current().districts()

    def latest_run(self, district: str) -> RunInfo | None:
        return self._current().latest_run(district)

    def scores(self, district: str) -> pd.DataFrame:
        return self._current().scores(district)

    def villages(self, district: str) -> pd.DataFrame:
        return self._current().villages(district)

    def participant(self, participant_id: int) -> ParticipantRecord | None:
        return self._current().participant(participant_id)

    def district_of(self, participant_id: int) -> str | None:
        return self._current().district_of(participant_id)

    def plan(self, district: str) -> pd.DataFrame:
        return self._current().plan(district)

    def reference_day(self, district: str) -> pd.Timestamp:
        return self._current().reference_day(district)

    @property
    def payments_as_of(self) -> pd.Timestamp | None:
        """The extraction day of the newest export merged by `dropout refresh`."""
        return self._current().payments_as_of
