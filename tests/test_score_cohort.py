"""The whole cohort is scored: members in arrears too, and nobody is left out without a reason."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from dropout.cli import app
from dropout.features import build_features
from dropout.io import write_tables
from dropout.simulate import simulate
from test_score_world import AS_OF, model_folder, small_world


def _mostly_in_arrears(tables, share=0.99, seed=0):
    """The same world where 99 % of people stopped paying three months before as-of."""
    rng = np.random.default_rng(seed)
    people = tables.participants["participant_id"].to_numpy()
    stopped = set(rng.choice(people, int(round(share * len(people))), replace=False).tolist())
    inst = tables.installments.copy()
    cut = pd.Timestamp(AS_OF) - pd.DateOffset(months=3)
    stop = inst["participant_id"].isin(stopped) & (inst["due_on"] >= cut)
    inst.loc[stop, "paid_on"] = pd.NaT
    inst["amount_paid"] = inst["amount_paid"].astype("Int64")
    inst.loc[stop, "amount_paid"] = pd.NA
    return tables.replace(installments=inst), stopped


def test_a_folder_where_almost_everyone_is_in_arrears_is_scored_in_full(tmp_path):
    tables, stopped = _mostly_in_arrears(small_world())
    data = write_tables(tables, tmp_path / "data")
    store = f"sqlite:///{tmp_path / 'scores.db'}"
    r = CliRunner().invoke(app, ["score", "--data", str(data), "--as-of", AS_OF, "--window", "30d",
                                 "--model", str(model_folder()), "--store", store, "--out", str(tmp_path / "score"),
                                 "--no-excel", "--no-recorded-visits"])
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "population" in out and "scored" in out and "left out" in out
    run = json.loads(next((tmp_path / "score").glob("*/run.json")).read_text())
    scores = pd.read_parquet(next((tmp_path / "score").glob("*/scores.parquet")))
    # everyone enrolled, not withdrawn and due in the window is scored, in arrears or not
    assert run["n_scored"] == len(scores) and run["n_population"] >= len(scores)
    assert run["n_population"] == run["n_scored"] + sum(run["left_out"].values())
    behind = scores["status"].eq("in_arrears")
    assert behind.mean() > 0.9
    assert set(scores.loc[behind, "participant_id"]) <= stopped
    assert (scores.loc[behind, "arrears_installments"] > 0).all() and (scores.loc[behind, "arrears_vnd"] > 0).all()
    # members in arrears are the riskiest: their risk is higher on average
    assert scores.loc[behind, "risk"].mean() > scores.loc[~behind, "risk"].mean()


def test_features_build_with_the_optional_tables_empty():
    """A ledger-only export: villages, participants and installments, nothing else."""
    sim = simulate("a-luoi", participants=300, seed=2, start="2023-01", end="2025-06", scenarios=["ledger-only"])
    t = sim.tables
    assert all(len(getattr(t, n)) == 0 for n in ("poverty", "disasters", "visits", "withdrawals"))
    f = build_features(t, ["2024-06-01", "2025-06-01"])
    assert len(f) > 0 and f["participant_id"].is_unique is False  # two as-of dates
    assert f["disasters_365d"].eq(0).all() and f["home_visits_12m"].eq(0).all() and f["is_poor"].eq(0).all()
    assert f["arrears_installments"].notna().all()


def test_score_defaults_to_the_extraction_day_and_the_next_deadline(tmp_path):
    """Without --as-of and --window the list is made on the extraction day (every payment known
    up to it counts) and reaches the next deadline at least two weeks away."""
    from dropout.score.core import next_deadline_window

    tables = small_world()
    data = write_tables(tables, tmp_path / "data")
    r = CliRunner().invoke(app, ["score", "--data", str(data), "--model", str(model_folder()),
                                 "--store", f"sqlite:///{tmp_path / 'scores.db'}", "--out", str(tmp_path / "score"),
                                 "--no-excel", "--no-recorded-visits"])
    assert r.exit_code == 0, r.output
    run = json.loads(next((tmp_path / "score").glob("*/run.json")).read_text())
    extracted = pd.Timestamp(tables.extracted_on).normalize()
    assert pd.Timestamp(run["as_of"]) == extracted
    assert run["window_days"] == next_deadline_window(extracted)
    end = extracted + pd.Timedelta(days=run["window_days"])
    assert end == end.to_period("M").to_timestamp(how="end").normalize()
