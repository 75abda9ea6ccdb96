"""Experiment configs: relative paths resolve against the config file's folder; horizons in words."""

import os
from pathlib import Path

import pytest

from dropout.errors import ConfigError
from dropout.train.config import load_config, parse_horizon

ROOT = Path(__file__).resolve().parents[1]


def _write(folder: Path, **extra) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "params.yaml").write_text((ROOT / "models" / "lightgbm-smoke.yaml").read_text())
    text = ("name: elsewhere\ndata: {folder: data}\nas_of: {start: '2022-01-01'}\n"
            "model: {params: params.yaml}\noutput_dir: out\ntracking: {uri: 'sqlite:///mlflow.db'}\n")
    for k, v in extra.items():
        text += f"{k}: {v}\n"
    p = folder / "exp.yaml"
    p.write_text(text)
    return p


def test_relative_paths_resolve_against_the_config_folder_from_any_working_folder(tmp_path, monkeypatch):
    cfg_file = _write(tmp_path / "configs")
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    cfg = load_config(cfg_file)
    assert cfg.path(cfg.data.folder) == (tmp_path / "configs" / "data").resolve()
    assert cfg.path(cfg.output_dir) == (tmp_path / "configs" / "out").resolve()
    assert cfg.path(cfg.model.params).read_text().startswith("#") or cfg.path(cfg.model.params).exists()
    assert cfg.tracking_uri() == f"sqlite:///{(tmp_path / 'configs' / 'mlflow.db').resolve()}"
    assert Path.cwd() == elsewhere  # nothing resolved against the working folder or the repository


def test_the_shipped_configs_find_their_model_parameters_from_any_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("a-luoi", "province", "smoke", "benchmark-500k"):
        cfg = load_config(ROOT / "experiments" / f"{name}.yaml")
        assert cfg.path(cfg.model.params).exists(), name
        assert cfg.path(cfg.output_dir) == (ROOT / "runs").resolve()
    # a config named by its project path works from any folder too
    assert load_config("experiments/smoke.yaml").name == "smoke"


@pytest.mark.parametrize("text, days", [("90d", 90), ("39w", 273), ("90", 90), (30, 30)])
def test_horizon_words(text, days):
    assert parse_horizon(text) == days


def test_horizon_in_the_file_and_bad_horizons(tmp_path):
    cfg = load_config(_write(tmp_path / "a", horizon="39w", target="no_payment", backtest="{gap_days: 273}"))
    assert cfg.horizon_days == 273 and cfg.target == "no_payment"
    with pytest.raises(ConfigError, match="horizon"):
        load_config(_write(tmp_path / "b", horizon="soon"))
    with pytest.raises(ConfigError, match="not both"):
        load_config(_write(tmp_path / "c", horizon="90d", horizon_days=90))
