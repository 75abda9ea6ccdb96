"""MLflow registry: log, register, gate champion/challenger, load by alias, never pickle."""

import numpy as np
import pandas as pd
import pytest

from dropout.registry import gate, log, promotion, tracking, versions
from dropout.registry.scope import Scope
from dropout.train.backtest import ModelSpec, fit_final, run_backtest
from dropout.train.config import DEFAULT_LGB_PARAMS
from dropout.train.synthetic import synthetic_dataset
from dropout.train.timechop import final_fold, make_folds

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
NAME = "dropout-lapse-test"


def pickle_files(*roots):
    """Files named like pickles or starting with a pickle protocol header."""
    bad = []
    for root in roots:
        for p in root.rglob("*"):
            if not p.is_file():
                continue
            if p.suffix in (".pkl", ".pickle", ".joblib") or p.read_bytes()[:2] in PICKLE_MAGIC:
                bad.append(p)
    return bad


def test_decide_alias():
    assert gate.decide_alias(0.3, None, "pr_auc")[0] == "champion"
    assert gate.decide_alias(0.31, 0.30, "pr_auc")[0] == "champion"
    role, reason = gate.decide_alias(0.30, 0.30, "pr_auc")
    assert role == "challenger" and "ties" in reason and "champion stays" in reason  # a tie does not unseat
    assert gate.decide_alias(0.29, 0.30, "pr_auc")[0] == "challenger"
    assert gate.decide_alias(0.305, 0.30, "pr_auc", min_improvement=0.01)[0] == "challenger"
    assert gate.decide_alias(0.09, 0.10, "brier")[0] == "champion"  # lower Brier is better
    assert gate.decide_alias(float("nan"), 0.10, "auc")[0] == "challenger"


def _train(ds, folds, params, rounds):
    spec = ModelSpec(params, ds.feature_names, ds.monotone, "platt", rounds, 10)
    res = run_backtest(ds, folds, spec)
    ff = final_fold(ds.frame["as_of"], validation_months=6, validation_gap_days=60)
    return res, fit_final(ds, ff, spec, {"target": "lapse", "data_fingerprint": ds.data_fingerprint})


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    ds = synthetic_dataset(250, seed=3)
    folds = make_folds(ds.frame["as_of"], folds=2, test_months=6, validation_months=6, gap_days=60, validation_gap_days=60)
    good = _train(ds, folds, {**DEFAULT_LGB_PARAMS, "learning_rate": 0.1, "num_leaves": 4}, 80)
    # a worse model: one feature only (pure noise), two trees
    bad_ds = synthetic_dataset(250, seed=3)
    bad_ds.feature_names, bad_ds.monotone = ["noise"], [0]
    bad = _train(bad_ds, folds, {**DEFAULT_LGB_PARAMS, "learning_rate": 0.1, "num_leaves": 2}, 2)
    return tmp, uri, ds, good, bad


SCOPE = Scope("district", "A Lưới")
OTHER = Scope("district", "Hướng Hóa")


def _log(tmp, uri, res, model, tag, scope=SCOPE):
    run_dir = tmp / f"run-{tag}"
    model.save(run_dir / "model")
    (run_dir / "report.html").write_text("<html></html>")
    champ = gate.current_champion(NAME, uri, scope)
    value = None
    if champ is not None and champ.backtest_fingerprint == res.fingerprint:
        value = champ.gate_value("pr_auc")
    return log.log_training_run(
        uri=uri, experiment="test", run_name=tag, config={"name": "test", "backtest": {"folds": 2}},
        model=model, result=res, artifacts_dir=run_dir, register_as=NAME, gate_metric="pr_auc",
        champion_value=value, has_champion=champ is not None, scope=scope,
    )


def test_register_gate_load_and_promote(setup):
    tmp, uri, ds, (good_res, good), (bad_res, bad) = setup
    assert good_res.fingerprint == bad_res.fingerprint  # same backtest: same test rows and labels
    assert good_res.mean_fold_metric("model", "pr_auc") > bad_res.mean_fold_metric("model", "pr_auc")

    first = _log(tmp, uri, good_res, good, "good")
    assert (first.version, first.alias) == ("1", "champion--district-a-luoi")

    # the model comes back from the registry by its scope's alias and predicts the same numbers
    X = ds.frame[ds.feature_names].tail(500)
    loaded = versions.load_model(NAME, SCOPE.alias("champion"), tracking_uri=uri)
    assert np.array_equal(loaded.predict_proba(X), good.predict_proba(X))
    assert loaded.sha256 == good.sha256
    assert np.allclose(loaded.contributions(X.head(20)).to_numpy(), good.contributions(X.head(20)).to_numpy())

    # a worse model on the same backtest is refused the champion alias
    second = _log(tmp, uri, bad_res, bad, "bad")
    assert (second.version, second.alias) == ("2", "challenger--district-a-luoi")
    assert "does not beat" in second.reason
    assert gate.current_champion(NAME, uri, SCOPE).version == "1"
    assert versions.load_model(NAME, SCOPE.alias("challenger"), tracking_uri=uri).feature_names == ["noise"]

    listing = promotion.list_versions(NAME, uri)
    assert listing[["version", "scope", "aliases"]].values.tolist() == [
        [1, "district:A Lưới", "champion--district-a-luoi"], [2, "district:A Lưới", "challenger--district-a-luoi"]]

    # a human override, audited
    with pytest.raises(tracking.RegistryError, match="reason"):
        promotion.promote(NAME, 2, "", uri=uri)
    record = promotion.promote(NAME, 2, "field test in Hong Thai", by="lan", uri=uri)
    assert record["previous_version"] == "1" and record["who"] == "lan" and record["scope"] == "district A Lưới"
    assert gate.current_champion(NAME, uri, SCOPE).version == "2"
    with pytest.raises(tracking.RegistryError, match="no version 9"):
        promotion.promote(NAME, 9, "x", uri=uri)

    # another district's data: no champion there, and a cross-scope promotion needs force
    assert gate.current_champion(NAME, uri, OTHER) is None
    with pytest.raises(tracking.RegistryError, match="--force"):
        promotion.promote(NAME, 1, "use A Luoi's model", scope=OTHER, uri=uri)
    forced = promotion.promote(NAME, 1, "no data of its own yet", scope=OTHER, force=True, by="minh", uri=uri)
    assert forced["forced"] and gate.current_champion(NAME, uri, OTHER).version == "1"
    assert gate.current_champion(NAME, uri, SCOPE).version == "2"  # A Luoi's champion untouched
    history = promotion.history(NAME, uri)
    assert [(h["version"], h["who"], h["scope"]) for h in history] == [
        ("1", "minh", "district Hướng Hóa"), ("2", "lan", "district A Lưới")]
    assert history[1]["metrics_new"]["pr_auc"] < history[1]["metrics_old"]["pr_auc"]  # the worse model, by hand

    # nothing pickled anywhere: run folders, MLflow artifacts, downloads
    assert pickle_files(tmp) == []


def test_the_mlflow_model_file_is_the_lightgbm_text_model(setup, tmp_path):
    tmp, uri, ds, (good_res, good), _ = setup
    import mlflow

    mlflow.set_tracking_uri(uri)
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{NAME}/1", dst_path=str(tmp_path),
                                                tracking_uri=uri)
    assert versions.model_file_sha256(local) == good.sha256
    assert (tmp_path / "model.lgb").read_text().startswith("tree\n")


def test_load_by_alias_in_a_fresh_process_uses_the_given_store(setup, tmp_path):
    """A new process (as `dropout score --model champion` or the service start) finds the
    alias in the store it is given, and creates no ./mlflow.db in its working folder."""
    import os
    import subprocess
    import sys

    tmp, uri, ds, (_, good), _ = setup
    if gate.current_champion(NAME, uri, SCOPE) is None:
        _log(tmp, uri, *setup[3], "fresh")
    champion = gate.current_champion(NAME, uri, SCOPE).version
    alias = SCOPE.alias("champion")
    expected = versions.load_model(NAME, alias, tracking_uri=uri).sha256
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    code = ("from dropout.registry.versions import load_model; "
            f"print(load_model({NAME!r}, {alias!r}, tracking_uri={uri!r}).sha256)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == expected, f"champion v{champion}"
    assert not (tmp_path / "mlflow.db").exists()


def test_scoring_picks_the_champion_of_its_own_scope_or_refuses(setup):
    from dropout.registry.resolve import ModelNotFoundError, resolve_model

    tmp, uri, ds, (good_res, good), _ = setup
    if gate.current_champion(NAME, uri, SCOPE) is None:
        _log(tmp, uri, good_res, good, "scope")
    ref = resolve_model("champion", model_name=NAME, tracking_uri=uri, scope=SCOPE)
    assert ref.version == gate.current_champion(NAME, uri, SCOPE).version
    with pytest.raises(ModelNotFoundError, match="for district Nowhere"):
        resolve_model("champion", model_name=NAME, tracking_uri=uri, scope=Scope("district", "Nowhere"))


def test_the_ui_opens_the_experiment_as_model_training(setup):
    tmp, uri, *_ = setup
    if gate.current_champion(NAME, uri, SCOPE) is None:
        _log(tmp, uri, *setup[3], "ui")
    url = tracking.ui_url(uri, "test", port=5123)
    exp = tracking.client(uri).get_experiment_by_name("test")
    assert url == f"http://127.0.0.1:5123/#/experiments/{exp.experiment_id}/runs"
    assert exp.tags.get("mlflow.experimentKind") == "custom_model_development"
    with pytest.raises(tracking.RegistryError, match="no experiment 'nope'"):
        tracking.ui_url(uri, "nope")


def test_scope_of_the_data():
    from dropout.registry.scope import data_scope, parse_scope
    from dropout.schema import Tables

    def villages(rows):
        return Tables(*[pd.DataFrame()] * 8).replace(villages=pd.DataFrame(rows, columns=["district", "province"]))

    assert data_scope(villages([("A Lưới", "Huế")] * 2)) == Scope("district", "A Lưới")
    assert data_scope(villages([("A Lưới", "Huế"), ("Nam Đông", "Huế")])) == Scope("province", "Huế")
    assert data_scope(villages([("A Lưới", "Huế"), ("Hướng Hóa", "Quảng Trị")])).kind == "national"
    assert Scope("district", "Hướng Hóa").slug == "district-huong-hoa"
    assert parse_scope("district:A Lưới") == Scope("district", "A Lưới") and parse_scope("national").slug == "national"
