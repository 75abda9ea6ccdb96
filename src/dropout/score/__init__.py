"""Score: everyone whose next installment falls due within a window, ranked, with reasons.

`score_participants` is the one scoring function: the batch run (`dropout score`,
score/run.py) and the service call it or its per-chunk core (`score_frame`). It
returns one row per person due, columns `OUTPUT_COLUMNS`, ordered by district and rank:

    participant_id, village_id, commune, district, due_on, amount_due (gross VND),
    net_amount (VND after state and provincial support),
    risk (calibrated P(lapse)), risk_band (high/medium/low), rank_in_district,
    rank_in_commune (1 = highest risk), expected_lapse (the person's share of the
    expected lapse count, = risk), reason_1_vi..reason_4_vi, reason_1_en..reason_4_en
    (sentences, null when fewer features push risk up), reason_1_feature..reason_4_feature.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dropout.schema import Tables
from dropout.score.output import TEXT_COLUMNS
from dropout.score.core import (
    OUTPUT_COLUMNS,
    EmptyWindowError,
    Job,
    ScoringInputError,
    check_job,
    due_participants,
    order_rows,
    parse_window,
    plan_chunks,
    score_frame,
    score_matrix,
    split_tables,
)

DEFAULT_CHUNK_SIZE = 50_000
ENGINES = ("pandas", "dask")

__all__ = [
    "OUTPUT_COLUMNS", "EmptyWindowError", "Job", "ScoringInputError",
    "check_job", "due_participants", "parse_window", "score_participants", "score_frame",
    "score_matrix", "finalize",
]


def score_participants(
    tables: Tables,
    as_of,
    window_days: int | str,
    model,
    engine: str = "pandas",
    scheduler: str | None = None,
    progress=None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> pd.DataFrame:
    """Score everyone whose next installment falls due in (as_of, as_of + window].

    Args:
        tables: validated raw tables (dropout.io.load_tables).
        as_of: the day the scores are made; no later than the extraction date.
        window_days: days (int) or '30d' / '4w'.
        model: a fitted DropoutModel, or the path of a saved model folder.
        engine: 'pandas' (in process, all at once) or 'dask' (per chunk of whole
            districts on a LocalCluster, or on `scheduler` if given).
        progress: a rich Progress to add tasks to, or None.
    Returns:
        OUTPUT_COLUMNS, one row per person due, ordered by district and rank.
    Raises:
        ScoringInputError: as-of before any data or after the extraction date, bad window.
        EmptyWindowError: nobody is due in the window.
    """
    if engine not in ENGINES:
        raise ScoringInputError(f"engine {engine!r} is unknown; use one of {', '.join(ENGINES)}")
    if isinstance(model, (str, Path)):
        from dropout.model.gbm import DropoutModel

        model = DropoutModel.load(model)
    job = check_job(tables, as_of, window_days)
    due = due_participants(tables, job)
    if engine == "pandas":
        task = progress.add_task("scoring", total=1) if progress is not None else None
        out = score_frame(tables, job, due, model, progress=progress)
        if task is not None:
            progress.advance(task)
        return finalize([out])

    from dropout.score.engine_dask import dask_client, map_chunks

    chunks = plan_chunks(due, chunk_size)
    task = progress.add_task("scoring chunks (dask)", total=len(chunks)) if progress is not None else None
    parts = []
    with dask_client(scheduler) as client:
        work = ((i, t, due[due["district"].isin(ds)]) for i, (ds, t) in enumerate(zip(chunks, split_tables(tables, chunks))))
        for _, rows in map_chunks(client, work, job, model):
            parts.append(rows)
            if task is not None:
                progress.advance(task)
    return finalize(parts)


def finalize(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate chunk results into the canonical output: row order and dtypes fixed.

    Reason columns become plain strings (null where absent), whatever categories each
    chunk used, so the same people give equal frames from either engine.
    """
    out = pd.concat(parts, ignore_index=True) if len(parts) != 1 else parts[0].copy()
    for c in TEXT_COLUMNS:
        out[c] = _as_str(out[c])
    out["participant_id"] = out["participant_id"].astype(np.int64)
    out["amount_due"] = out["amount_due"].astype(np.int64)
    return order_rows(out[OUTPUT_COLUMNS])


def _as_str(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        # Convert the categories once, then take: far cheaper than per-row conversion.
        cats = s.cat.categories.astype("str")
        codes = s.cat.codes.to_numpy()
        values = pd.array(cats, dtype="str").take(codes, allow_fill=True)
        return pd.Series(values, index=s.index, name=s.name)
    return s.astype("str").where(s.notna(), None) if s.dtype != "str" else s
