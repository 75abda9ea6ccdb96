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
    assert "people due within 30d" in output and "visit plan for 12 officer-hours" in output


def test_demo_scores_equal_store_and_plan_fits_capacity(demo_out):
    out, _ = demo_out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    run_dirs = list((out / "score").iterdir())
    assert len(run_dirs) == 1
    scores = pd.read_parquet(run_dirs[0] / "scores.parquet")
    assert len(scores) == summary["scored"] > 0
    assert scores["participant_id"].is_unique
    assert scores["risk"].between(0, 1).all()
    assert summary["as_of"].endswith("-01")  # the start of the extraction month
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
