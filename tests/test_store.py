"""The score store on SQLite and on a real PostgreSQL: runs, chunks, one row per person.

PostgreSQL tests use a fresh schema dropped afterwards. When DROPOUT_REQUIRE_POSTGRES=1
(CI) an unreachable server fails these tests instead of skipping them.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from dropout.store import (
    SCORE_COLUMNS,
    ScoreStore,
    StoreError,
    latest_run,
    make_run_id,
    open_store,
    read_scores,
)

PG_URL = os.environ.get("DROPOUT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def score_rows(pids, district="A Luoi", seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(pids)
    risk = rng.random(n)
    df = pd.DataFrame({
        "participant_id": np.asarray(pids, dtype=np.int64),
        "village_id": [f"V{p % 3}" for p in pids],
        "commune": ["Hong Thai" if p % 2 else "A Ngo" for p in pids],
        "district": district,
        "due_on": pd.to_datetime("2025-07-31"),
        "amount_due": np.full(n, 330_000, dtype=np.int64),
        "net_amount": np.full(n, 264_000.0),
        "status": np.where(np.arange(n) % 3 == 0, "in_arrears", "paying"),
        "arrears_installments": np.where(np.arange(n) % 3 == 0, 2, 0),
        "arrears_vnd": np.where(np.arange(n) % 3 == 0, 660_000, 0),
        "arrears_months": np.where(np.arange(n) % 3 == 0, 2, 0),
        "arrears_since": pd.to_datetime(["2025-05-31" if k % 3 == 0 else None for k in range(n)]),
        "risk": risk,
        "risk_band": np.where(risk >= 0.5, "high", "low"),
        "rank_in_district": np.argsort(np.argsort(-risk)) + 1,
        "rank_in_commune": np.arange(1, n + 1),
        "expected_lapse": risk,
    })
    for k in range(1, 5):
        df[f"reason_{k}_vi"] = [f"Đã lỡ {k} kỳ\t\"trích\" \\ ok" if k <= 2 else None for _ in pids]
        df[f"reason_{k}_en"] = [f"Missed {k}\nline" if k <= 2 else None for _ in pids]
        df[f"reason_{k}_feature"] = ["missed_last_4" if k <= 2 else None for _ in pids]
    df["action_vi"] = "Hướng dẫn đóng bù"
    df["action_en"] = "Help with a make-up payment"
    return df[SCORE_COLUMNS]


def run_values(run_id="r1", n_expected=6, n_chunks=2, **extra) -> dict:
    return {"run_id": run_id, "as_of": "2025-07-01", "window_days": 30, "model_name": "dropout-lapse",
            "model_version": "3", "model_sha256": "ab" * 32, "data_fingerprint": "cd" * 32, "engine": "pandas",
            "chunk_size": 3, "n_chunks": n_chunks, "n_expected": n_expected, **extra}


def _postgres_or_skip():
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as err:  # noqa: BLE001 - any connection failure
        if os.environ.get("DROPOUT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL at {PG_URL} is unreachable and DROPOUT_REQUIRE_POSTGRES=1: {err}")
        pytest.skip(f"PostgreSQL at {PG_URL} is unreachable: {type(err).__name__}")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = open_store(f"sqlite:///{tmp_path / 'scores.db'}")
        yield s
        s.dispose()
        return
    _postgres_or_skip()
    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    s = open_store(PG_URL, schema=schema)
    try:
        yield s
    finally:
        s.dispose()
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def test_run_id_is_fixed_by_what_determines_the_result():
    a = make_run_id("2025-07-01", 30, "ab" * 32, "cd" * 32)
    assert a == make_run_id(pd.Timestamp("2025-07-01"), 30, "ab" * 32, "cd" * 32)
    assert a.startswith("20250701-30d-")
    assert len({a, make_run_id("2025-07-01", 31, "ab" * 32, "cd" * 32),
                make_run_id("2025-07-01", 30, "ef" * 32, "cd" * 32),
                make_run_id("2025-07-01", 30, "ab" * 32, "00" * 32)}) == 4


def test_chunks_commit_rows_and_markers_and_finish(store: ScoreStore):
    store.create_all()  # idempotent
    run, done = store.begin_run(run_values())
    assert run.status == "running" and done == set() and run.n_scored == 0
    store.write_chunk("r1", 0, score_rows([11, 12, 13]))
    store.write_chunk("r1", 1, score_rows([21, 22, 23], district="Nam Dong", seed=1))
    finished = store.finish_run("r1")
    assert finished.status == "finished" and finished.n_scored == 6 and finished.finished_at is not None
    got = store.read_scores("r1")
    assert len(got) == 6 and got["participant_id"].is_unique
    assert list(got.columns) == SCORE_COLUMNS
    assert got["district"].tolist() == ["A Luoi"] * 3 + ["Nam Dong"] * 3
    want = pd.concat([score_rows([11, 12, 13]), score_rows([21, 22, 23], "Nam Dong", 1)])
    want = want.sort_values(["district", "rank_in_district"]).reset_index(drop=True)
    pd.testing.assert_series_equal(got["risk"], want["risk"])  # floats round-trip exactly
    assert got.loc[0, "reason_1_vi"] == "Đã lỡ 1 kỳ\t\"trích\" \\ ok"  # tabs, quotes, backslashes survive
    assert got.loc[0, "reason_2_en"] == "Missed 2\nline" and pd.isna(got.loc[0, "reason_3_en"])
    assert got["due_on"].dtype == "datetime64[ns]" and got["participant_id"].dtype == np.int64
    assert sorted(store.read_scores("r1", commune="Hong Thai")["participant_id"]) == [11, 13, 21, 23]


def test_a_chunk_is_all_or_nothing(store: ScoreStore):
    store.begin_run(run_values())

    def boom():
        raise RuntimeError("killed between insert and commit")

    with pytest.raises(RuntimeError):
        store.write_chunk("r1", 0, score_rows([11, 12, 13]), before_commit=boom)
    _, done = store.begin_run(run_values())  # the run resumes: nothing of chunk 0 remains
    assert done == set()
    assert store.read_scores("r1").empty and store.get_run("r1").n_scored == 0


def test_resume_keeps_committed_chunks_and_never_duplicates(store: ScoreStore):
    store.begin_run(run_values())
    store.write_chunk("r1", 0, score_rows([11, 12, 13]))
    run, done = store.begin_run(run_values())  # restarted
    assert done == {0} and run.n_scored == 3
    store.write_chunk("r1", 0, score_rows([11, 12, 13]))  # a chunk written twice replaces itself
    store.write_chunk("r1", 1, score_rows([21, 22, 23]))
    assert store.finish_run("r1").n_scored == 6
    with pytest.raises(sa.exc.IntegrityError):  # one row per (run, participant), enforced by the database
        store.write_chunk("r1", 2, score_rows([11]))


def test_finish_refuses_missing_rows_and_mismatched_resume(store: ScoreStore):
    store.begin_run(run_values())
    store.write_chunk("r1", 0, score_rows([11, 12, 13]))
    with pytest.raises(StoreError, match="3 score rows in 1 chunks, expected 6 in 2"):
        store.finish_run("r1")
    with pytest.raises(StoreError, match="same id should mean the same job"):
        store.begin_run(run_values(n_expected=7))


def test_finished_run_started_again_is_replaced_only_when_the_new_one_finishes(store: ScoreStore):
    store.begin_run(run_values(n_expected=3, n_chunks=1))
    store.write_chunk("r1", 0, score_rows([11, 12, 13]))
    store.finish_run("r1")
    run, done = store.begin_run(run_values(n_expected=3, n_chunks=1))
    assert done == set() and run.status == "running" and run.run_id == "r1.next" and run.publishes == "r1"
    assert len(store.read_scores("r1")) == 3 and store.get_run("r1").status == "finished"


def test_latest_run_and_read_scores_by_url(store: ScoreStore, tmp_path):
    for run_id, as_of in (("r1", "2025-06-01"), ("r2", "2025-07-01")):
        store.begin_run(run_values(run_id=run_id, n_expected=3, n_chunks=1, as_of=as_of))
        store.write_chunk(run_id, 0, score_rows([11, 12, 13]))
        store.finish_run(run_id)
    store.begin_run(run_values(run_id="r3", n_expected=3, n_chunks=1))  # unfinished: never "latest"
    assert store.latest_run().run_id == "r2"
    assert store.latest_run(as_of="2025-06-01").run_id == "r1"
    assert store.latest_run(model_name="other") is None
    if store.schema is None:  # the module-level readers take a URL
        assert latest_run(store.url).run_id == "r2"
        assert len(read_scores(store.url, "r2")) == 3
        with pytest.raises(StoreError, match="not finished"):
            read_scores(store.url, "r3")
        with pytest.raises(StoreError, match="not in the store"):
            read_scores(store.url, "nope")
        assert latest_run(f"sqlite:///{tmp_path / 'empty.db'}") is None


def test_postgres_copy_is_used_for_big_chunks(store: ScoreStore):
    n = 5000
    store.begin_run(run_values(n_expected=n, n_chunks=1))
    store.write_chunk("r1", 0, score_rows(list(range(1, n + 1))))
    assert store.finish_run("r1").n_scored == n
    assert store.read_scores("r1", district="A Luoi", limit=10)["rank_in_district"].tolist() == list(range(1, 11))


def test_prepared_reads_give_read_scores_rows(store: ScoreStore):
    """The service's prepared reads (`store/reads.py`) return `read_scores`' rows, in its order."""
    from dropout.store.reads import ScoreReads

    reads = ScoreReads(store)
    assert reads.run() is None
    store.begin_run(run_values())
    store.write_chunk("r1", 0, score_rows([11, 12, 13, 14]))
    store.write_chunk("r1", 1, score_rows([21, 22], district="Nam Dong", seed=1))
    assert reads.run() is None  # not finished yet
    store.finish_run("r1")
    assert reads.has_runs() and reads.run().run_id == "r1" and reads.run("r1").status == "finished"
    assert reads.run("nope") is None
    for filters in ({"participant_ids": [22, 11, 99]}, {"commune": "Hong Thai"}, {"district": "Nam Dong"},
                    {"commune": "Hong Thai", "district": "A Luoi", "limit": 1}, {"limit": 3}, {}):
        want = store.read_scores("r1", **filters)
        got = reads.rows("r1", **filters)
        assert [r["participant_id"] for r in got] == want["participant_id"].tolist(), filters
        for r, (_, w) in zip(got, want.iterrows()):
            assert list(r) == SCORE_COLUMNS
            assert r["risk"] == w["risk"] and r["due_on"] == w["due_on"].date() and r["status"] == w["status"]
            assert r["reason_1_vi"] == w["reason_1_vi"] and (r["reason_3_en"] is None) == pd.isna(w["reason_3_en"])
            assert (r["arrears_since"] is None) == pd.isna(w["arrears_since"])
