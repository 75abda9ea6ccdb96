"""End to end on the smoke experiment: `dropout train`, `dropout models list/promote`."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from dropout.cli import app
from dropout.paths import experiments_dir
from test_train_registry import pickle_files

pytestmark = pytest.mark.slow
SMOKE = str(experiments_dir() / "smoke.yaml")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    return tmp, f"sqlite:///{tmp / 'mlflow.db'}"


def _train(env, *extra):
    tmp, uri = env
    res = CliRunner().invoke(app, ["train", "--config", SMOKE, "--tracking-uri", uri, "--out", str(tmp / "runs"), *extra])
    assert res.exit_code == 0, res.output + repr(res.exception)
    return res.output


def _registrations(tmp, target):
    files = sorted((tmp / "runs" / "smoke" / target).glob("*/registration.json"))
    return [json.loads(p.read_text()) for p in files]


def test_train_registers_a_champion_then_refuses_an_equal_model(env):
    tmp, uri = env
    out = _train(env)
    assert "report:" in out and "AUC" in out
    first = _registrations(tmp, "lapse")[-1]
    assert (first["model"], first["version"], first["alias"]) == ("dropout-lapse-smoke", "1", "champion--district-a-luoi")
    run_dir = sorted((tmp / "runs" / "smoke" / "lapse").iterdir())[-1]
    html = (run_dir / "report.html").read_text()
    assert "Must-show checks" in html and "data:image/png;base64," in html
    assert {"model.txt", "calibration.json", "features.json", "metadata.json"} <= {p.name for p in (run_dir / "model").iterdir()}

    assert "Promotion gate" in html and "Hyperparameters" in html and "code version" in html

    # same data, same seed: the champion scores the same folds as it is (it was trained on
    # these months, which favours it) and the gate keeps it
    _train(env)
    second = _registrations(tmp, "lapse")[-1]
    assert (second["version"], second["alias"]) == ("2", "challenger--district-a-luoi")
    gate_json = json.loads((sorted((tmp / "runs" / "smoke" / "lapse").iterdir())[-1] / "gate.json").read_text())
    assert gate_json["champion_version"] == "1" and len(gate_json["folds"]) == 2
    assert "trained on all of these months" in gate_json["rows_used"]
    runs = sorted((tmp / "runs" / "smoke" / "lapse").iterdir())
    a, b = (pd.read_csv(r / "fold_metrics.csv") for r in runs[-2:])
    assert "champion" in set(b["contender"]) and "champion" not in set(a["contender"])
    b = b[b["contender"] != "champion"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=True)

    listing = CliRunner().invoke(app, ["models", "list", "--tracking-uri", uri])
    assert listing.exit_code == 0 and "dropout-lapse-smoke" in listing.output and "champion" in listing.output
    no_reason = CliRunner().invoke(app, ["models", "promote", "dropout-lapse-smoke", "2", "--tracking-uri", uri])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    promoted = CliRunner().invoke(app, ["models", "promote", "dropout-lapse-smoke", "2", "--reason", "retrained",
                                        "--by", "lan", "--tracking-uri", uri])
    assert promoted.exit_code == 0, promoted.output
    assert "champion of district A Lưới (was v1)" in " ".join(promoted.output.split())
    history = CliRunner().invoke(app, ["models", "history", "dropout-lapse-smoke", "--tracking-uri", uri])
    assert history.exit_code == 0 and "retrained" in history.output and "lan" in history.output
    bad = CliRunner().invoke(app, ["models", "promote", "dropout-lapse-smoke", "7", "--reason", "x",
                                   "--tracking-uri", uri])
    assert bad.exit_code == 2 and "no version 7" in bad.output

    # two runs side by side
    a, b = runs[-2:]
    compared = CliRunner().invoke(app, ["runs", "compare", str(a), str(b), "--out", str(tmp / "cmp.html")])
    assert compared.exit_code == 0, compared.output
    assert "metrics" in compared.output and (tmp / "cmp.html").read_text().count("data:image/png;base64,") >= 2


def test_withdraw_target(env):
    tmp, _ = env
    _train(env, "--target", "withdraw_12m")
    reg = _registrations(tmp, "withdraw_12m")[-1]
    assert reg["model"] == "dropout-withdraw_12m-smoke" and reg["alias"] == "champion--district-a-luoi"
    run_dir = sorted((tmp / "runs" / "smoke" / "withdraw_12m").iterdir())[-1]
    meta = json.loads((run_dir / "model" / "metadata.json").read_text())
    assert meta["target"] == "withdraw_12m" and meta["label_horizon_days"] == 365
    folds = json.loads((run_dir / "folds.json").read_text())["folds"]
    for f in folds:  # a year between validation and test: withdrawal labels take 12 months
        assert (pd.Timestamp(f["test_start"]) - pd.Timestamp(f["val_end"])).days >= 365


def test_no_pickle_anywhere(env):
    tmp, _ = env
    if not (tmp / "mlartifacts").exists():  # run alone (or on its own test worker): train once here
        _train(env)
    assert (tmp / "mlartifacts").exists()
    assert pickle_files(tmp) == []


def test_a_bad_config_is_refused_with_the_field_named(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\ndata: {simulate: {preset: a-luoi}}\nas_of: {start: '2022-01-01'}\nbacktest: {gap_days: 10}\n")
    res = CliRunner().invoke(app, ["train", "--config", str(cfg), "--no-mlflow"])
    assert res.exit_code == 2 and "gap_days=10 is shorter than the label horizon" in res.output
    cfg.write_text("name: x\ndata: {simulate: {preset: a-luoi}}\nas_of: {start: '2022-01-01'}\nbakctest: {}\n")
    res = CliRunner().invoke(app, ["train", "--config", str(cfg), "--no-mlflow"])
    assert res.exit_code == 2 and "bakctest" in res.output
