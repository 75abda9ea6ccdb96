"""The main job end to end (`dropout demo`) on a small simulated district."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dropout.cli import app
from dropout.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--participants", "500", "--seed", "3",
                                      "--config", "experiments/smoke.yaml", "--capacity", "12"])
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo_writes_every_stage(demo_out):
    out, output = demo_out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    files = summary["files"]
    for key in ("report", "model", "risk lists", "visit plan", "score store", "mlflow"):
        assert Path(files[key]).exists(), key
    report = Path(files["report"]).read_text(encoding="utf-8")
    assert "<img" in report or "<svg" in report  # plots, not only tables
    assert not list(out.rglob("*.pkl")) and not list(out.rglob("*.pickle"))
    assert "people due within 31d" in output and "visit plan for 12 officer-hours" in output


def test_demo_scores_equal_store_and_plan_fits_capacity(demo_out):
    out, _ = demo_out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    run_dirs = list((out / "score").iterdir())
    assert len(run_dirs) == 1
    scores = pd.read_parquet(run_dirs[0] / "scores.parquet")
    assert len(scores) == summary["scored"] > 0
    assert scores["participant_id"].is_unique
    assert scores["risk"].between(0, 1).all()
    assert summary["as_of"] == "2026-06-30" and summary["window"] == "31d"  # the extraction day, to 31 July
    store = open_store(f"sqlite:///{out / 'scores.db'}", create=False)
    try:
        stored = store.read_scores(run_dirs[0].name)
    finally:
        store.dispose()
    assert sorted(stored["participant_id"]) == sorted(scores["participant_id"])
    assert summary["plan"]["hours_used"] <= 12 + 1e-9
    assert summary["plan"]["trips"] >= 1 and summary["plan"]["expected_averted"] > 0
    visits = list((out / "plan").rglob("*.parquet")) + list((out / "plan").rglob("*.csv"))
    assert visits, "the plan writes its tables"


def test_demo_shows_no_fixed_trait_as_a_reason_and_nobody_already_paid(demo_out):
    from dropout.features.catalog import load_catalog
    from dropout.io import load_tables

    out, _ = demo_out
    scores = pd.read_parquet(next((out / "score").iterdir()) / "scores.parquet")
    catalog = load_catalog()
    fixed = {f.name for f in catalog.features if not f.shown_as_reason}
    assert {"age_years", "ethnic_minority", "travel_minutes", "days_to_next_deadline", "village_participants"} <= fixed
    shown = pd.concat([scores[f"reason_{k}_feature"] for k in range(1, 5)]).dropna().astype(str)
    assert len(shown) > 0 and not shown.isin(fixed).any()
    assert scores["action_vi"].notna().mean() > 0.9 and scores["action_en"].notna().mean() > 0.9
    assert not scores[[c for c in scores.columns if c.startswith("reason_")]].astype(str).isin(["nan"]).any().any()
    # Scored on the extraction day: nobody on the list has already paid the installment they are scored for.
    tables = load_tables(out / "data")
    inst = tables.installments.merge(scores[["participant_id", "due_on"]], on=["participant_id", "due_on"])
    assert inst["paid_on"].isna().all()
    assert tables.participants["full_name"].notna().all()
    assert tables.villages["district"].eq("A Lưới").all()
