"""`dropout monitor` end to end on a small simulated district: scores, then a later export."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small district, a tiny model with its training reference, two monthly runs scored."""
    from dropout.features import load_catalog
    from dropout.io import write_tables
    from dropout.labels import build_training_frame
    from dropout.model.gbm import DropoutModel
    from dropout.monitor.reference import training_reference
    from dropout.registry.resolve import resolve_model
    from dropout.score.run import run_scoring
    from dropout.simulate import simulate
    from dropout.simulate.snapshot import export_at

    tmp = tmp_path_factory.mktemp("monitor")
    full = simulate("a-luoi", participants=300, seed=5, start="2021-01", end="2023-06").tables
    train = export_at(full, "2022-12-31")
    frame = build_training_frame(train, pd.date_range("2022-01-01", "2022-09-01", freq="MS"), "lapse")
    feats = [f for f in load_catalog().names() if f in frame.columns]
    cut = frame["as_of"] < "2022-07-01"
    model = DropoutModel({"num_leaves": 7, "min_data_in_leaf": 10, "verbosity": -1, "seed": 1,
                          "deterministic": True, "num_threads": 1}, feature_names=feats,
                         num_boost_round=20, early_stopping_rounds=20,
                         metadata={"target": "lapse", "horizon_days": 90})
    model.fit(frame.loc[cut, feats], frame.loc[cut, "label"], frame.loc[~cut, feats], frame.loc[~cut, "label"])
    model.reference_ = training_reference(frame, feats, model, None)
    folder = model.save(tmp / "model")
    ref = resolve_model(str(folder))
    store = f"sqlite:///{tmp / 'scores.db'}"
    for day in ("2023-01-31", "2023-02-28"):
        run_scoring(export_at(full, day), day, 31, ref, store_url=store, out_dir=tmp / "score", excel=False)
    later = write_tables(export_at(full, "2023-04-15"), tmp / "export-2023-04-15")
    return tmp, folder, store, later


def test_monitor_command_backfills_once_reports_and_logs(world):
    from dropout.cli import app
    from dropout.store.monitoring import read_outcomes, read_results

    tmp, folder, store, later = world
    argv = ["monitor", "--data", str(later), "--store", store, "--model", str(folder),
            "--out", str(tmp / "out"), "--tracking-uri", f"sqlite:///{tmp / 'mlflow.db'}"]
    r = CliRunner().invoke(app, argv)
    assert r.exit_code == 0, r.output
    assert "monitoring with the export of 2023-04-15" in r.output and "outcomes joined" in r.output
    results = read_results(store)
    assert len(results) == 2
    first = results[0]
    assert first["n_outcomes"] == first["n_scored"] > 0  # deadlines of Feb and Mar passed by 04-15
    assert first["payload"]["realised"]["complete"]
    assert set(first["payload"]["realised"]["by"]) == {"district", "commune", "ethnicity", "payment_mode", "status"}
    assert first["payload"]["drift"]["features"] and "prediction" in first["payload"]["drift"]
    est = first["payload"]["estimated"]["overall"]
    assert est["lapses"]["low"] <= est["lapses"]["value"] <= est["lapses"]["high"]
    html = (tmp / "out" / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in html and "Calibration" in html and "PSI" in html
    assert "MLflow: run" in r.output
    n_known = len(read_outcomes(store, first["run_id"]))
    # a second run over the same export joins nothing new and duplicates nothing
    again = CliRunner().invoke(app, [*argv, "--no-mlflow"])
    assert again.exit_code == 0, again.output
    assert "0 outcomes joined" in again.output
    assert len(read_outcomes(store, first["run_id"])) == n_known
