"""MLflow registry: log, register, gate champion/challenger, load by alias, never pickle."""

import numpy as np
import pytest

from dropout.registry import gate, log, tracking, versions
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
    assert gate.decide_alias(0.30, 0.30, "pr_auc")[0] == "challenger"  # a tie does not unseat
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


def _log(tmp, uri, res, model, tag):
    run_dir = tmp / f"run-{tag}"
    model.save(run_dir / "model")
    (run_dir / "report.html").write_text("<html></html>")
    champ = gate.current_champion(NAME, uri)
    value = None
    if champ is not None and champ.backtest_fingerprint == res.fingerprint:
        value = champ.gate_value("pr_auc")
    return log.log_training_run(
        uri=uri, experiment="test", run_name=tag, config={"name": "test", "backtest": {"folds": 2}},
        model=model, result=res, artifacts_dir=run_dir, register_as=NAME, gate_metric="pr_auc",
        champion_value=value, has_champion=champ is not None,
    )


def test_register_gate_load_and_promote(setup):
    tmp, uri, ds, (good_res, good), (bad_res, bad) = setup
    assert good_res.fingerprint == bad_res.fingerprint  # same backtest: same test rows and labels
    assert good_res.mean_fold_metric("model", "pr_auc") > bad_res.mean_fold_metric("model", "pr_auc")

    first = _log(tmp, uri, good_res, good, "good")
    assert (first.version, first.alias) == ("1", "champion")

    # the model comes back from the registry by alias and predicts the same numbers
    X = ds.frame[ds.feature_names].tail(500)
    loaded = versions.load_model(NAME, "champion", tracking_uri=uri)
    assert np.array_equal(loaded.predict_proba(X), good.predict_proba(X))
    assert loaded.sha256 == good.sha256
    assert np.allclose(loaded.contributions(X.head(20)).to_numpy(), good.contributions(X.head(20)).to_numpy())

    # a worse model on the same backtest is refused the champion alias
    second = _log(tmp, uri, bad_res, bad, "bad")
    assert (second.version, second.alias) == ("2", "challenger")
    assert "does not beat" in second.reason
    assert gate.current_champion(NAME, uri).version == "1"
    assert versions.load_model(NAME, "challenger", tracking_uri=uri).feature_names == ["noise"]

    listing = versions.list_versions(NAME, uri)
    assert listing[["version", "aliases"]].values.tolist() == [[1, "champion"], [2, "challenger"]]

    # a human override
    assert versions.promote(NAME, 2, uri) == "1"
    assert gate.current_champion(NAME, uri).version == "2"
    with pytest.raises(tracking.RegistryError, match="no version 9"):
        versions.promote(NAME, 9, uri)

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
    if gate.current_champion(NAME, uri) is None:
        _log(tmp, uri, *setup[3], "fresh")
    champion = gate.current_champion(NAME, uri).version
    expected = versions.load_model(NAME, "champion", tracking_uri=uri).sha256
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    code = ("from dropout.registry.versions import load_model; "
            f"print(load_model({NAME!r}, 'champion', tracking_uri={uri!r}).sha256)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == expected, f"champion v{champion}"
    assert not (tmp_path / "mlflow.db").exists()
