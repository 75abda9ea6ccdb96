"""A scoring run that dies at any stage and is started again ends with exactly one row per person.

`test_score_kill.py` kills a real process inside a chunk's transaction; here the run
dies (an exception, as a crash would leave it) before the first chunk, between chunks,
and after the last chunk while the files are written, and is started again each time.
"""

from __future__ import annotations

import pandas as pd
import pytest

import dropout.score.run as run_module
from dropout.score import score_participants
from dropout.store import open_store
from test_score_run import model_ref
from test_score_world import AS_OF, WINDOW, load_model, small_world


class Crash(RuntimeError):
    pass


@pytest.fixture(scope="module")
def model():
    return load_model()


def _crash_after(n_calls: int, real):
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        if calls["n"] >= n_calls:
            raise Crash("the machine went down")
        calls["n"] += 1
        return real(*args, **kwargs)

    return wrapped


@pytest.mark.parametrize("where", ["before_first_chunk", "between_chunks", "writing_files"])
def test_crash_then_restart_gives_one_row_per_person(tmp_path, monkeypatch, model, where):
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    out = tmp_path / "out"
    world = small_world()
    with monkeypatch.context() as m:
        if where == "writing_files":
            m.setattr(run_module, "write_outputs", _crash_after(0, run_module.write_outputs))
        else:
            from dropout.store import ScoreStore

            m.setattr(ScoreStore, "write_chunk", _crash_after(0 if where == "before_first_chunk" else 2,
                                                              ScoreStore.write_chunk))
        with pytest.raises(Crash):
            run_scoring(world, url, out, model)

    store = open_store(url, create=False)
    try:
        (crashed,) = store.list_runs()
        left = store.read_scores(crashed.run_id)
    finally:
        store.dispose()
    assert crashed.status == "failed" and "the machine went down" in crashed.message
    assert len(left) == {"before_first_chunk": 0, "between_chunks": crashed.n_scored, "writing_files": crashed.n_expected}[where]
    assert not (out / crashed.run_id / "scores.parquet").exists()  # files only once the run is whole

    result = run_scoring(world, url, out, model)
    assert result.run.run_id == crashed.run_id
    want = score_participants(world, AS_OF, WINDOW, model)
    assert result.run.status == "finished"
    assert result.chunks_resumed == {"before_first_chunk": 0, "between_chunks": 2, "writing_files": 4}[where]
    store = open_store(url, create=False)
    try:
        got = store.read_scores(result.run.run_id)
    finally:
        store.dispose()
    assert got["participant_id"].is_unique and len(got) == len(want)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(out / result.run.run_id / "scores.parquet"), want, check_exact=True)


def run_scoring(world, url, out, model):
    return run_module.run_scoring(world, AS_OF, WINDOW, model_ref(model), store_url=url, out_dir=out,
                                  chunk_size=1, excel=False)
