"""The Dask engine: the same `score_frame` per chunk of whole districts, on a cluster.

A LocalCluster (processes, one thread each) by default, or an existing scheduler by
address. The model travels as its files (LightGBM text + JSON), never pickled, and is
loaded once per worker process; each chunk's raw tables are scattered to the cluster.
Results come back as they complete; the caller decides what to do with each (collect
it, or commit it to the store).
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import pandas as pd

from dropout.schema import Tables
from dropout.score.core import Job, score_frame

DEFAULT_WORKERS = 2
_MODELS: dict[str, object] = {}  # per worker process: model sha256 -> DropoutModel


@contextmanager
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> Iterator:
    """A distributed Client: to `scheduler` if given, else to a fresh LocalCluster."""
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler, timeout="20s")
        try:
            yield client
        finally:
            client.close()
        return
    with LocalCluster(
        n_workers=n_workers or DEFAULT_WORKERS,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster, Client(cluster) as client:
        yield client


def model_files(model) -> dict[str, bytes]:
    """The model's folder as {file name: bytes}: what a worker needs to load it."""
    with tempfile.TemporaryDirectory(prefix="dropout-model-") as tmp:
        folder = model.save(Path(tmp) / "model")
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _load_model(files: dict[str, bytes]):
    from dropout.model.gbm import DropoutModel

    key = hashlib.sha256(b"".join(files[name] for name in sorted(files))).hexdigest()
    if key not in _MODELS:
        with tempfile.TemporaryDirectory(prefix="dropout-model-") as tmp:
            for name, data in files.items():
                (Path(tmp) / name).write_bytes(data)
            _MODELS[key] = DropoutModel.load(tmp)
    return _MODELS[key]


def _score_chunk(chunk_no: int, tables: Tables, job: Job, due: pd.DataFrame, files: dict[str, bytes]):
    return chunk_no, score_frame(tables, job, due, _load_model(files))


def map_chunks(
    client,
    chunks: Iterable[tuple[int, Tables, pd.DataFrame]],
    job: Job,
    model,
) -> Iterator[tuple[int, pd.DataFrame]]:
    """Score each (chunk_no, tables, due) on the cluster; yield (chunk_no, rows) as they finish."""
    from distributed import as_completed

    [files] = client.scatter([model_files(model)], broadcast=True)
    futures = []
    for chunk_no, tables, due in chunks:
        tables_f, due_f = client.scatter([tables, due])
        futures.append(client.submit(_score_chunk, chunk_no, tables_f, job, due_f, files,
                                     key=f"score-chunk-{chunk_no}-{job.as_of:%Y%m%d}-{id(futures)}"))
    try:
        for future in as_completed(futures):
            chunk_no, rows = future.result()
            future.release()
            yield chunk_no, rows
    finally:
        for f in futures:
            f.cancel()
