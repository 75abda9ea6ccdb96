"""Re-running a finished job never unpublishes it: the new rows go to a staging run and
are swapped in within one transaction; a killed re-run leaves the previous rows readable;
only one process scores a run id at a time (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

from dropout.store import ScoreStore
from dropout.store.scores import RunBusyError
from test_store import run_values, score_rows, store  # noqa: F401  (the store fixture: sqlite, postgresql)


def _finished(store: ScoreStore, pids=(11, 12, 13, 14, 15, 16), seed=0) -> pd.DataFrame:
    store.begin_run(run_values())
    rows = score_rows(list(pids), seed=seed)
    store.write_chunk("r1", 0, rows.iloc[:3])
    store.write_chunk("r1", 1, rows.iloc[3:])
    store.finish_run("r1")
    return store.read_scores("r1")


def test_a_rerun_killed_midway_leaves_the_previous_rows_readable(store: ScoreStore):
    before = _finished(store)
    staging, done = store.begin_run(run_values(model_name="model", model_version=None))
    new_rows = score_rows([11, 12, 13, 14, 15, 16], seed=1)
    store.write_chunk(staging.run_id, 0, new_rows.iloc[:3])
    # ... the process dies here: nothing of the finished run has changed
    pd.testing.assert_frame_equal(store.read_scores("r1"), before)
    run = store.get_run("r1")
    assert run.status == "finished" and run.model_name == "dropout-lapse" and run.model_version == "3"
    assert store.latest_run().run_id == "r1"

    # started again: the staging run resumes, then the swap publishes it in one go
    staging, done = store.begin_run(run_values(model_name="model", model_version=None))
    assert staging.run_id == "r1.next" and done == {0}
    store.write_chunk(staging.run_id, 1, new_rows.iloc[3:])
    published = store.finish_run(staging.run_id)
    assert published.run_id == "r1" and published.status == "finished" and published.n_scored == 6
    assert published.model_name == "dropout-lapse" and published.model_version == "3"  # not overwritten
    after = store.read_scores("r1")
    assert after["participant_id"].is_unique and len(after) == 6
    assert not after["risk"].equals(before["risk"])
    assert [r.run_id for r in store.list_runs()] == ["r1"]


def test_a_rerun_with_replace_restarts_its_staging_run_but_not_the_published_one(store: ScoreStore):
    before = _finished(store)
    staging, _ = store.begin_run(run_values())
    store.write_chunk(staging.run_id, 0, score_rows([11, 12, 13], seed=2))
    staging, done = store.begin_run(run_values(), replace=True)
    assert staging.run_id == "r1.next" and done == set()
    pd.testing.assert_frame_equal(store.read_scores("r1"), before)


def test_one_process_at_a_time_scores_a_run_id(store: ScoreStore, tmp_path):
    """A second process asking for the lock of a run being scored is refused at once."""
    holder = textwrap.dedent(f"""
        import sys, time
        from dropout.store import ScoreStore
        s = ScoreStore({store.url!r}, schema={store.schema!r})
        with s.run_lock("r1"):
            print("locked", flush=True)
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(RunBusyError, match="being scored by another process"):
            with store.run_lock("r1"):
                pass
        with store.run_lock("r2"):  # another run id is free
            pass
    finally:
        proc.kill()
        proc.wait()
    with store.run_lock("r1"):  # a dead holder's lock is gone with it
        pass


@pytest.mark.slow
def test_kill_9_during_a_rerun_keeps_the_finished_run_published(tmp_path):
    from dropout.score.run import CHUNK_DELAY_ENV
    from test_score_world import AS_OF, WINDOW, write_world

    data, model = write_world(tmp_path)
    db, out = tmp_path / "scores.db", tmp_path / "out"
    cmd = [sys.executable, "-m", "dropout.cli", "score", "--data", str(data), "--as-of", AS_OF,
           "--window", f"{WINDOW}d", "--model", str(model), "--store", f"sqlite:///{db}", "--out", str(out),
           "--chunk-size", "1", "--no-excel"]
    first = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr

    def query(sql):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    (run_id, n_expected), = query("select run_id, n_expected from runs where status = 'finished'")
    before = query(f"select participant_id, risk from scores where run_id = '{run_id}' order by 1")
    proc = subprocess.Popen(cmd, env={**os.environ, CHUNK_DELAY_ENV: "2"}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 180
    while not query(f"select 1 from run_chunks where run_id = '{run_id}.next'"):
        assert proc.poll() is None and time.monotonic() < deadline, "the re-run ended before the kill"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert query(f"select status from runs where run_id = '{run_id}'") == [("finished",)]
    assert query(f"select participant_id, risk from scores where run_id = '{run_id}' order by 1") == before
    assert len(before) == n_expected

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert query("select run_id, status from runs") == [(run_id, "finished")]
    assert query(f"select participant_id, risk from scores where run_id = '{run_id}' order by 1") == before
