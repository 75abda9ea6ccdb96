"""kill -9 a real `dropout score` process mid-run, start it again: one row per person, finished.

The first process waits inside each chunk's transaction (DROPOUT_SCORE_CHUNK_DELAY), so
the kill lands while a chunk is half written; the restart must skip the committed
chunks, redo the rest, and end with exactly the rows of an uninterrupted run.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from dropout.schedule import next_installment
from dropout.score import score_participants
from dropout.score.run import CHUNK_DELAY_ENV
from dropout.store import open_store
from test_score_world import AS_OF, WINDOW, load_model, small_world, write_world

pytestmark = pytest.mark.slow


def _query(db, sql):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _committed_chunks(db) -> int:
    if not db.exists():
        return 0
    try:
        return _query(db, "select count(*) from run_chunks")[0][0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def test_kill_9_mid_run_then_restart_gives_one_row_per_participant(tmp_path):
    data, model = write_world(tmp_path)
    db, out = tmp_path / "scores.db", tmp_path / "out"
    cmd = [sys.executable, "-m", "dropout.cli", "score", "--data", str(data), "--as-of", AS_OF,
           "--window", f"{WINDOW}d", "--model", str(model), "--store", f"sqlite:///{db}", "--out", str(out),
           "--chunk-size", "1"]  # one district per chunk: 4 chunks
    proc = subprocess.Popen(cmd, env={**os.environ, CHUNK_DELAY_ENV: "3"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while _committed_chunks(db) < 1:
        if proc.poll() is not None:
            pytest.fail(f"the scoring process ended before the kill:\n{proc.stdout.read().decode()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no chunk committed within 180 s")
        time.sleep(0.05)
    time.sleep(1.0)  # the next chunk's rows are inserted, its transaction still open
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()

    (run_id, status, n_expected, n_scored, n_chunks), = _query(
        db, "select run_id, status, n_expected, n_scored, n_chunks from runs")
    committed = dict(_query(db, "select chunk_no, committed_at from run_chunks"))
    rows = _query(db, "select count(*), count(distinct participant_id) from scores")[0]
    assert status == "running" and n_chunks == 4 and 1 <= len(committed) < n_chunks
    assert rows[0] == rows[1] == n_scored == sum(  # only whole chunks survive the kill
        n for (n,) in _query(db, "select n_rows from run_chunks")) < n_expected
    assert not (out / run_id / "scores.parquet").exists()  # files only once every chunk is in

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"resumed: {len(committed)} of 4 chunks" in again.stdout + again.stderr

    n_due = len(next_installment(small_world(), [AS_OF], WINDOW))
    (status, n_expected, n_scored), = _query(db, "select status, n_expected, n_scored from runs")
    count, distinct = _query(db, "select count(*), count(distinct participant_id) from scores")[0]
    assert status == "finished" and count == distinct == n_scored == n_expected == n_due
    assert _query(db, "select count(*) from runs")[0][0] == 1
    after = dict(_query(db, "select chunk_no, committed_at from run_chunks"))
    assert len(after) == 4 and all(after[c] == t for c, t in committed.items())  # not redone

    want = score_participants(small_world(), AS_OF, WINDOW, load_model())
    pd.testing.assert_frame_equal(open_store(f"sqlite:///{db}").read_scores(run_id), want, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out / run_id / "scores.parquet"), want, check_exact=True)
    assert len(list((out / run_id / "excel").glob("*.xlsx"))) == 4
