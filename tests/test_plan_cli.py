"""`dropout plan` end to end: a scoring run in a SQLite store, a data folder, the files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from dropout.cli import app

AS_OF = "2025-03-01"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from dropout.io import load_tables
    from dropout.score import check_job, due_participants
    from dropout.simulate import simulate, write_simulation
    from dropout.schema import tables_fingerprint as data_fingerprint
    from dropout.store import SCORE_COLUMNS, make_run_id, open_store

    root = tmp_path_factory.mktemp("plan_cli")
    data = root / "data"
    write_simulation(simulate("a-luoi", participants=300, seed=5, start="2024-01", end="2025-06"), data)
    tables = load_tables(data)
    due = due_participants(tables, check_job(tables, AS_OF, 30))
    rng = np.random.default_rng(0)
    scores = due.assign(risk=rng.beta(1, 4, len(due)))
    scores["risk_band"] = np.where(scores["risk"] > 0.5, "high", "low")
    scores["rank_in_district"] = scores.groupby("district")["risk"].rank(ascending=False, method="first").astype(int)
    scores["rank_in_commune"] = scores.groupby("commune")["risk"].rank(ascending=False, method="first").astype(int)
    scores["expected_lapse"] = scores["risk"]
    for c in SCORE_COLUMNS:
        if c not in scores.columns:
            scores[c] = None
    scores["reason_1_vi"], scores["reason_1_en"] = "Đóng trễ lần trước", "Paid late last time"
    url = f"sqlite:///{root / 'scores.db'}"
    store = open_store(url)
    fingerprint = data_fingerprint(tables)
    run_id = make_run_id(AS_OF, 30, "0" * 64, fingerprint)
    store.begin_run({"run_id": run_id, "as_of": AS_OF, "window_days": 30, "model_name": "test", "model_version": "1",
                     "model_sha256": "0" * 64, "data_fingerprint": fingerprint, "data_dir": str(data),
                     "engine": "pandas",
                     "chunk_size": 10_000, "n_chunks": 1, "n_expected": len(scores)})
    store.write_chunk(run_id, 0, scores[SCORE_COLUMNS])
    store.finish_run(run_id)
    store.dispose()
    return {"root": root, "data": data, "url": url, "run_id": run_id, "n": len(scores)}


def invoke(*args):
    return CliRunner().invoke(app, ["plan", *map(str, args)])


def test_plan_writes_table_and_workbook(world, tmp_path):
    out = tmp_path / "plans"
    r = invoke("--run", world["run_id"], "--capacity", "A Luoi=30", "--data", world["data"], "--store", world["url"],
               "--out", out, "--visit-minutes", 40)
    assert r.exit_code == 0, r.output
    folder = out / world["run_id"]
    plan = pd.read_parquet(folder / "plan.parquet")
    trips = pd.read_csv(folder / "trips.csv")
    assert len(plan) > 0 and trips["minutes"].sum() <= 30 * 60
    assert (trips["minutes"] == 2 * trips["travel_minutes"] + 40 * trips["home_visits"]
            + 120 * trips["session"].astype(int)).all()
    wb = load_workbook(folder / "plan.xlsx")
    assert wb.sheetnames == sorted(set(trips["officer_day"]), key=lambda s: int(s.rsplit(" ", 1)[1]))
    assert "lapses averted" in r.output
    # `latest` finds the same run, and the data folder the run recorded
    r = invoke("--run", "latest", "--capacity", "20", "--store", world["url"], "--out", out)
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize(
    "args, words",
    [
        (["--capacity", "A Luoi=lots"], 'hours "lots" is not a positive number'),
        (["--capacity", "Nowhere=3"], 'no district or commune called "Nowhere"'),
        (["--capacity", "30", "--visit-minutes", "0"], "--visit-minutes"),
        (["--capacity", "30", "--run", "nope"], "no such run"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(world, tmp_path, args, words):
    out = tmp_path / "plans"
    base = {"--run": world["run_id"], "--data": world["data"], "--store": world["url"], "--out": out}
    for k, v in zip(args[::2], args[1::2]):
        base[k] = v
    r = invoke(*[x for kv in base.items() for x in kv])
    assert r.exit_code == 2
    assert words in " ".join(r.output.split())
    assert "nothing was written" in r.output
    assert not out.exists()


def test_data_folder_must_be_the_one_the_run_scored(world, tmp_path):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(world["data"], other)
    v = pd.read_parquet(other / "villages.parquet")
    v.loc[0, "travel_minutes"] = int(v.loc[0, "travel_minutes"]) + 1
    v.to_parquet(other / "villages.parquet", index=False)
    r = invoke("--run", world["run_id"], "--capacity", "30", "--data", other, "--store", world["url"],
               "--out", tmp_path / "plans")
    assert r.exit_code == 2 and "is not the data run" in " ".join(r.output.split())
    assert not (tmp_path / "plans").exists()


def test_plan_by_effect_falls_back_where_visits_are_few_and_marks_exploration(world, tmp_path):
    out = tmp_path / "plans"
    r = invoke("--run", world["run_id"], "--capacity", "A Luoi=30", "--data", world["data"], "--store", world["url"],
               "--out", out, "--by-effect", "--explore", "0.2", "--seed", 3)
    assert r.exit_code == 0, r.output
    plan = pd.read_parquet(out / world["run_id"] / "plan.parquet")
    # a small district over 18 months: too few visits of either kind to learn from
    assert (plan["effect_source"] == "assumed").all()
    assert plan["explore"].any() and not plan["explore"].all()
    assert set(plan["visit_line_en"]) <= {"a visit is likely to help", "a visit is unlikely to change much"}
    text = " ".join(r.output.split())
    assert "the assumed effect is kept" in text and "exploration:" in text and "LEARNED" in text
    r = invoke("--run", world["run_id"], "--capacity", "20", "--data", world["data"], "--store", world["url"],
               "--out", out, "--explore", "1.5")
    assert r.exit_code == 2 and "--explore" in r.output
