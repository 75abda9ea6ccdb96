"""The Dask engine gives the pandas engine's rows, row for row, value for value."""

from __future__ import annotations

import pandas as pd
import pytest

from dropout.score import score_participants
from dropout.score.engine_dask import dask_client
from dropout.model import ModelRef
from dropout.score.run import run_scoring
from dropout.store import open_store
from test_score_world import AS_OF, WINDOW, load_model, small_world

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def pandas_scores(model):
    return score_participants(small_world(), AS_OF, WINDOW, model)


def test_dask_local_cluster_equals_pandas(model, pandas_scores):
    # chunk_size=1: every district is a partition of its own (4 partitions)
    got = score_participants(small_world(), AS_OF, WINDOW, model, engine="dask", chunk_size=1)
    pd.testing.assert_frame_equal(got, pandas_scores, check_exact=True)


def test_dask_run_on_a_given_scheduler_equals_pandas(tmp_path, model, pandas_scores):
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    ref = ModelRef(model, "test-model", "1", model.digest, "memory")
    with dask_client() as client:
        result = run_scoring(small_world(), AS_OF, WINDOW, ref, store_url=url, out_dir=tmp_path / "out",
                             engine="dask", scheduler=client.scheduler.address, chunk_size=10, excel=False)
    assert result.run.status == "finished" and result.chunks_total > 1
    pd.testing.assert_frame_equal(open_store(url).read_scores(result.run.run_id), pandas_scores, check_exact=True)
    pd.testing.assert_frame_equal(pd.read_parquet(result.files["parquet"]), pandas_scores, check_exact=True)
