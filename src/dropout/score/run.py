"""The batch run: score everyone due, chunk by chunk into the store, then write the files.

A run is fixed by (as_of, window, model sha256, data fingerprint); its id is derived
from them (store.make_run_id). Everything that can be refused (as-of, window, model,
an empty window) is checked before the store or the output folder is touched, so a
refused run writes nothing.

Resumable: the people due are split into chunks of whole districts
(core.plan_chunks, deterministic); each chunk's rows and its marker are committed in
one transaction. Started again after a kill, the run skips the chunks with a marker,
scores the rest, checks that every person due has exactly one row and only then writes
the files and marks the run finished. A finished run started again is scored into a
staging run while its rows stay published, then swapped in within one transaction
(store.ScoreStore.finish_run); one process at a time scores a run id (run_lock).

Outputs in `OUT/<run_id>/`: scores.parquet (all columns), scores.csv, one Excel
workbook per district in excel/ (a sheet per commune, highest risk first), run.json.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dropout.io import write_csv, write_json, write_parquet
from dropout.provenance import code_version
from dropout.schema import Tables, tables_fingerprint
from dropout.model import ModelRef
from dropout.score import DEFAULT_CHUNK_SIZE, ENGINES, finalize
from dropout.score.output import EXCEL_COLUMNS, band_label_bilingual
from dropout.score.core import (
    Job,
    ScoringInputError,
    check_job,
    due_participants,
    feature_context,
    plan_chunks,
    population,
    score_frame,
    split_tables,
)
from dropout.store import RunRecord, ScoreStore, make_run_id, open_store

DEFAULT_OUT = Path("out/score")
#: Test hook: seconds to wait inside each chunk's transaction before it commits, so a
#: test can kill the process while a chunk is half written.
CHUNK_DELAY_ENV = "DROPOUT_SCORE_CHUNK_DELAY"



@dataclass
class RunResult:
    run: RunRecord
    out_dir: Path
    files: dict[str, Path]
    by_district: pd.DataFrame  # district, people, high_risk, expected_lapses
    chunks_total: int
    chunks_resumed: int
    seconds: float = 0.0
    scores: pd.DataFrame | None = field(default=None, repr=False)


def run_scoring(
    tables: Tables,
    as_of,
    window_days,
    model: ModelRef,
    *,
    store_url: str | None = None,
    out_dir: str | os.PathLike = DEFAULT_OUT,
    engine: str = "pandas",
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    replace: bool = False,
    excel: bool = True,
    progress=None,
    data_fingerprint: str | None = None,
    store_schema: str | None = None,
    data_dir: str | os.PathLike | None = None,
) -> RunResult:
    """Score everyone due in the window into the store and the output files; resumable.

    Returns the finished run, the files written and a per-district summary.
    Raises ScoringInputError / EmptyWindowError before anything is written.
    """
    t0 = time.perf_counter()
    if engine not in ENGINES:
        raise ScoringInputError(f"engine {engine!r} is unknown; use one of {', '.join(ENGINES)}")
    job = check_job(tables, as_of, window_days)
    context = feature_context(tables)
    due = due_participants(tables, job, context=context)
    counts = population(tables, job, context=context)
    del context
    chunks = plan_chunks(due, chunk_size)
    if data_fingerprint is None:
        data_fingerprint = tables_fingerprint(tables)
    run_id = make_run_id(job.as_of, job.window_days, model.sha256, data_fingerprint)

    # -- from here on we write
    store = open_store(store_url, schema=store_schema)
    try:
        with store.run_lock(run_id):
            run, done = store.begin_run({
                "run_id": run_id, "as_of": job.as_of, "window_days": job.window_days,
                "model_name": model.name, "model_version": model.version, "model_sha256": model.sha256,
                "target": (getattr(model.model, "metadata", None) or {}).get("target"),
                "data_fingerprint": data_fingerprint,
                "data_dir": str(Path(data_dir).resolve()) if data_dir is not None else None,
                "engine": engine, "chunk_size": int(chunk_size),
                "n_chunks": len(chunks), "n_expected": int(len(due)),
                "n_population": counts["population"], "left_out": json.dumps(counts["left_out"]),
                "code_version": code_version(),
            }, replace=replace)
            working = run.run_id  # run_id, or its staging run when run_id is finished already
            try:
                parts = _score_chunks(store, working, tables, job, due, chunks, done, model, engine, scheduler,
                                      progress)
                if done:
                    parts.append(store.read_scores(working, chunk_nos=sorted(done)))
                scores = finalize(parts)
                if len(scores) != len(due) or scores["participant_id"].duplicated().any():
                    raise RuntimeError(f"run {run_id}: {len(scores)} rows for {len(due)} people due")
                folder = Path(out_dir) / run_id
                files = write_outputs(scores, folder, excel=excel, progress=progress)
                run = store.finish_run(working)
                files["run"] = write_json(_run_json(run, files), folder / "run.json")
            except BaseException as err:
                store.fail_run(working, f"{type(err).__name__}: {err}")
                raise
    finally:
        store.dispose()
    return RunResult(run, folder, files, district_summary(scores), len(chunks), len(done),
                     time.perf_counter() - t0, scores)


def _score_chunks(store: ScoreStore, run_id: str, tables: Tables, job: Job, due: pd.DataFrame,
                  chunks: list[list[str]], done: set[int], model: ModelRef, engine: str,
                  scheduler: str | None, progress) -> list[pd.DataFrame]:
    """Score and commit every chunk not yet done; returns the rows scored here."""
    todo = [i for i in range(len(chunks)) if i not in done]
    task = None
    if progress is not None:
        task = progress.add_task(f"scoring {len(due):,} people in {len(chunks)} chunks ({engine})",
                                 total=len(chunks), completed=len(done))
    delay = float(os.environ.get(CHUNK_DELAY_ENV, "0") or 0)
    hook = (lambda: time.sleep(delay)) if delay > 0 else None
    chunk_due = {i: due[due["district"].isin(chunks[i])] for i in todo}

    def work():
        wanted = set(todo)
        for i, sub in enumerate(split_tables(tables, chunks)):
            if i in wanted:
                yield i, sub, chunk_due[i]

    parts = []
    if engine == "pandas":
        results = ((i, score_frame(sub, job, d, model.model)) for i, sub, d in work())
        for i, rows in results:
            store.write_chunk(run_id, i, rows, before_commit=hook)
            parts.append(rows)
            if task is not None:
                progress.advance(task)
        return parts

    from dropout.score.engine_dask import dask_client, map_chunks

    if not todo:
        return parts
    with dask_client(scheduler) as client:
        for i, rows in map_chunks(client, work(), job, model.model):
            store.write_chunk(run_id, i, rows, before_commit=hook)
            parts.append(rows)
            if task is not None:
                progress.advance(task)
    return parts


def district_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per district: people scored, of them in arrears, high-risk count, expected lapses."""
    g = scores.groupby("district", sort=True)
    return pd.DataFrame({
        "people": g.size(),
        "in_arrears": g["status"].agg(lambda s: int((s == "in_arrears").sum())),
        "high_risk": g["risk_band"].agg(lambda s: int((s == "high").sum())),
        "expected_lapses": g["expected_lapse"].sum(),
    }).reset_index()


def excel_sheets(district_scores: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One sheet per commune, highest risk first, the columns an officer reads."""
    sheets = {}
    for commune, rows in district_scores.groupby("commune", sort=True):
        sheet = rows.sort_values("rank_in_commune", kind="stable")[EXCEL_COLUMNS].reset_index(drop=True)
        sheet["risk_band"] = sheet["risk_band"].map(band_label_bilingual)
        sheets[str(commune)] = sheet
    return sheets


def write_outputs(scores: pd.DataFrame, folder: Path, excel: bool = True, progress=None) -> dict[str, Path]:
    """scores.parquet, scores.csv and excel/<district>.xlsx, each written atomically."""
    folder = Path(folder)
    files = {"parquet": write_parquet(scores, folder / "scores.parquet"),
             "csv": write_csv(scores, folder / "scores.csv")}
    if excel:
        from dropout.excel import write_workbook

        districts = scores.groupby("district", sort=True)
        task = progress.add_task("Excel workbooks", total=districts.ngroups) if progress is not None else None
        for district, rows in districts:
            write_workbook(excel_sheets(rows), folder / "excel" / f"{_file_name(district)}.xlsx")
            if task is not None:
                progress.advance(task)
        files["excel"] = folder / "excel"
    return files


def _file_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in " -_" else "-" for ch in str(name)).strip() or "district"


def _run_json(run: RunRecord, files: dict[str, Path]) -> dict:
    return {
        "run_id": run.run_id, "as_of": run.as_of.date().isoformat(), "window_days": run.window_days,
        "model_name": run.model_name, "model_version": run.model_version, "model_sha256": run.model_sha256,
        "model_digest": run.model_sha256, "code_version": run.code_version,
        "data_fingerprint": run.data_fingerprint, "data_dir": run.data_dir, "target": run.target,
        "n_population": run.n_population, "n_scored": run.n_scored,
        "left_out": json.loads(run.left_out) if run.left_out else {}, "status": run.status,
        "started_at": str(run.started_at), "finished_at": str(run.finished_at),
        "files": {k: str(v) for k, v in files.items()},
    }


__all__ = ["RunResult", "run_scoring", "write_outputs", "district_summary", "excel_sheets", "DEFAULT_OUT"]
