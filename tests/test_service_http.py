"""The risk service for real: `dropout serve` in a subprocess on a free loopback port.

One server for the module (start-up is the slow part): a small simulated district, a
small model trained on it, one batch run in a SQLite score store, then HTTP calls. The
server is started with a load delay so the tests can see it answer `/livez` but not yet
`/readyz` while the model loads. Schemathesis fuzzes the service's own OpenAPI document
with a valid key, bounded in examples, against the same server.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

KEY = "test-key-" + "0123456789abcdef" * 2
LOAD_DELAY_S = 3
START_TIMEOUT_S = 120


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- data, model, batch run


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Simulated district, a small model trained on it, and one finished batch run."""
    from sklearn.metrics import roc_auc_score

    from dropout.features import load_catalog
    from dropout.io import load_tables, write_json
    from dropout.labels import build_training_frame
    from dropout.registry.resolve import resolve_model
    from dropout.score.run import run_scoring
    from dropout.simulate import simulate, write_simulation
    from dropout.model.gbm import DropoutModel

    root = tmp_path_factory.mktemp("service")
    write_simulation(simulate("a-luoi", participants=300, seed=11), root / "data")
    tables = load_tables(root / "data")
    ext = tables.extracted_on
    dates = pd.date_range(ext - pd.DateOffset(months=30), ext - pd.DateOffset(months=4), freq="MS")
    frame = build_training_frame(tables, dates, "lapse")
    feats = [f for f in load_catalog().names() if f in frame.columns]
    cut = frame["as_of"] < dates[-8]
    model = DropoutModel({"num_leaves": 7, "min_data_in_leaf": 20, "verbosity": -1, "seed": 1,
                          "deterministic": True, "num_threads": 1}, feature_names=feats,
                         num_boost_round=40, early_stopping_rounds=40,
                         metadata={"target": "lapse", "horizon_days": 90, "registered_name": "dropout-lapse"})
    model.fit(frame.loc[cut, feats], frame.loc[cut, "label"], frame.loc[~cut, feats], frame.loc[~cut, "label"])
    model.save(root / "run" / "model")
    auc = roc_auc_score(frame.loc[~cut, "label"], model.predict_proba(frame.loc[~cut, feats]))
    write_json({"test": {"model": {"auc": float(auc)}}}, root / "run" / "metrics.json")  # as `dropout train` lays it out

    as_of = (ext - pd.DateOffset(months=1)).normalize()
    store = f"sqlite:///{root / 'scores.db'}"
    result = run_scoring(tables, as_of, 60, resolve_model(str(root / "run" / "model")), store_url=store,
                         out_dir=root / "out", excel=False)
    return {"root": root, "tables": tables, "as_of": as_of, "store": store, "run": result.run,
            "scores": result.scores, "model": model}


@pytest.fixture(scope="module")
def server(world):
    """`dropout serve` on a free port; yields the base URL, the log file and what it said while loading."""
    with running_server(world, world["store"], "server.log") as served:
        yield served


@contextlib.contextmanager
def running_server(world, store_url: str, log_name: str):
    root = world["root"]
    port = free_port()
    log_path = root / log_name
    env = {
        **os.environ,
        "DROPOUT_API_KEYS": KEY,
        "DROPOUT_SERVICE_LOAD_DELAY": str(LOAD_DELAY_S),
        "DROPOUT_SERVICE_WORKERS": "1",
        "DROPOUT_SERVICE_THREADS": "2",
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
        "DROPOUT_WEB_ENABLED": "0",  # the pages under /web are tested in test_service_web.py
    }
    cmd = [sys.executable, "-m", "dropout.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
           "--model", str(root / "run" / "model"), "--data", str(root / "data"), "--store", store_url]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    loading = {}
    try:
        with httpx.Client(base_url=url, timeout=10) as c:
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and "livez" not in loading:
                assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                try:
                    if c.get("/livez").status_code == 200:
                        loading["livez"] = 200
                        loading["readyz"] = c.get("/readyz").status_code
                        loading["score"] = c.post("/model", json={}, headers={"X-API-Key": KEY}).status_code
                except httpx.TransportError:
                    time.sleep(0.2)
            while time.monotonic() < deadline and c.get("/readyz").status_code != 200:
                assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                time.sleep(0.2)
            assert c.get("/readyz").status_code == 200, log_path.read_text(errors="replace")[-3000:]
        yield {"url": url, "log": log_path, "loading": loading, "port": port}
    finally:
        stop_server(proc)


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server's whole process group: politely, then for good."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server["url"], headers={"X-API-Key": KEY}, timeout=30) as c:
        yield c


def score_body(world, ids, lang="en", **extra) -> dict:
    from dropout.service.records import participant_records

    tables = world["tables"]
    return {"as_of": str(world["as_of"].date()), "window_days": 60, "lang": lang,
            "extracted_on": str(tables.extracted_on.date()),
            "participants": participant_records(tables, ids), **extra}


# ---------------------------------------------------------------- readiness, health, auth


def test_not_ready_until_the_model_is_loaded(server):
    assert server["loading"] == {"livez": 200, "readyz": 503, "score": 503}


def test_health_answers_without_a_key(server):
    for path in ("/healthz", "/livez", "/readyz"):
        assert httpx.get(server["url"] + path).status_code == 200


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-" + KEY}, {"Authorization": "Basic " + KEY},
                                     {"Authorization": "Bearer " + KEY[:-1]}])
def test_every_route_but_health_needs_the_key(server, headers):
    url = server["url"]
    for method, path in [("POST", "/score"), ("POST", "/score_ids"), ("GET", "/ranked"), ("POST", "/ranked"),
                         ("GET", "/model"), ("POST", "/model"), ("GET", "/docs.json"), ("GET", "/metrics"),
                         ("GET", "/schema.json"), ("GET", "/")]:
        r = httpx.request(method, url + path, headers=headers, json={})
        assert (r.status_code, r.json()) == (401, {"error": "unauthorized"}), (method, path)


def test_bearer_token_is_accepted(server):
    r = httpx.get(server["url"] + "/model", headers={"Authorization": f"Bearer {KEY}"})
    assert r.status_code == 200


# ---------------------------------------------------------------- happy paths


def test_score_equals_the_batch_scorer(world, client):
    scores = world["scores"].set_index("participant_id")
    ids = scores.sort_values("risk", ascending=False).index[:4].tolist() + scores.index[-3:].tolist()
    for lang in ("en", "vi"):
        r = client.post("/score", json=score_body(world, ids, lang=lang))
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["model"]["sha256"] == world["model"].digest and out["window_days"] == 60
        assert [x["participant_id"] for x in out["results"]] == ids
        for x in out["results"]:
            row = scores.loc[x["participant_id"]]
            assert x["scored"] and x["risk"] == pytest.approx(float(row["risk"]), abs=1e-12)
            assert x["risk_band"] == row["risk_band"] and x["due_on"] == str(row["due_on"].date())
            assert x["amount_due"] == int(row["amount_due"])
            expected = [row[f"reason_{k}_{lang}"] for k in range(1, 5) if isinstance(row[f"reason_{k}_{lang}"], str)]
            assert [reason["text"] for reason in x["reasons"]] == expected
            assert [reason["feature"] for reason in x["reasons"]] == [
                row[f"reason_{k}_feature"] for k in range(1, len(expected) + 1)]


def test_score_without_reference_villages_in_the_request(world, client):
    tables = world["tables"]
    pid = int(world["scores"]["participant_id"].iloc[0])
    village = tables.participants.set_index("participant_id").loc[pid, "village_id"]
    v = tables.villages.set_index("village_id").loc[village]
    body = score_body(world, [pid], villages=[{
        "village_id": village, "commune": v["commune"], "district": v["district"], "province": v["province"],
        "travel_minutes": int(v["travel_minutes"]), "ethnic_language": v["ethnic_language"]}], disasters=[])
    r = client.post("/score", json=body)
    assert r.status_code == 200, r.text
    x = r.json()["results"][0]
    assert x["scored"] and 0 <= x["risk"] <= 1 and len(x["reasons"]) <= 4


def test_score_ids_returns_the_latest_batch_rows(world, client):
    scores = world["scores"].set_index("participant_id")
    ids = scores.index[:3].tolist() + [1_234_567_890]
    r = client.post("/score_ids", json={"participant_ids": ids, "lang": "vi"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["run"]["run_id"] == world["run"].run_id and out["missing"] == [1_234_567_890]
    got = {x["participant_id"]: x for x in out["results"]}
    for pid in ids[:3]:
        assert got[pid]["risk"] == pytest.approx(float(scores.loc[pid, "risk"]))
        assert got[pid]["rank_in_commune"] == int(scores.loc[pid, "rank_in_commune"])
        assert got[pid]["reasons"][0]["text"] == scores.loc[pid, "reason_1_vi"]


def test_ranked_list_by_commune_and_district(world, client):
    scores = world["scores"]
    commune = scores["commune"].value_counts().index[0]
    expected = scores[scores["commune"] == commune].sort_values("rank_in_commune")["participant_id"].tolist()[:5]
    r = client.get("/ranked", params={"commune": commune, "limit": 5, "lang": "en"})
    assert r.status_code == 200, r.text
    assert [x["participant_id"] for x in r.json()["results"]] == expected
    post = client.post("/ranked", json={"commune": commune, "limit": 5, "lang": "en"})
    assert post.status_code == 200 and post.json() == r.json()
    district = scores["district"].iloc[0]
    r = client.get("/ranked", params={"district": district, "limit": 1000})
    ranks = [x["rank_in_district"] for x in r.json()["results"]]
    assert ranks == list(range(1, (scores["district"] == district).sum() + 1))


def test_model_card(world, client):
    for r in (client.get("/model"), client.post("/model", json={})):
        assert r.status_code == 200, r.text
        info = r.json()
        assert info["name"] == "dropout-lapse" and info["sha256"] == world["model"].digest
        assert [f["name"] for f in info["features"]] == world["model"].feature_names
        assert info["horizon_days"] == 90 and 0 < info["backtest"]["auc"] <= 1 and info["trained_on"]


def test_openapi_document_is_served(client):
    spec = client.get("/docs.json").json()
    assert spec["openapi"] == "3.1.0" and "/score" in spec["paths"]


def test_bentoml_sync_client(world, server):
    import bentoml

    pid = int(world["scores"]["participant_id"].iloc[0])
    body = score_body(world, [pid])
    with bentoml.SyncHTTPClient(server["url"], token=KEY) as c:
        out = c.score(**body)
        assert out["results"][0]["risk"] == pytest.approx(float(world["scores"]["risk"].iloc[0]))
        assert c.model()["name"] == "dropout-lapse"
        assert c.ranked(commune=world["scores"]["commune"].iloc[0], limit=1)["results"]


# ---------------------------------------------------------------- refused input: 4xx with field paths


def _locs(r) -> list[list]:
    return [d["loc"] for d in r.json()["detail"]]


def test_malformed_and_wrong_input_get_400_with_field_paths(world, client):
    pid = int(world["scores"]["participant_id"].iloc[0])
    good = score_body(world, [pid])
    post = lambda body: client.post("/score", content=body if isinstance(body, (str, bytes)) else json.dumps(body),
                                    headers={"Content-Type": "application/json"})

    r = post(json.dumps(good)[:-7])
    assert r.status_code == 400 and r.json()["detail"][0]["type"] == "json_invalid"
    assert post(b"\xff\xfe not json").status_code == 400
    assert post("[]").status_code == 400 and post("null").status_code == 400

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["participant"]["birth_year"] = "1980"
    bad["participants"][0]["installments"][1]["months_covered"] = 1.5
    r = post(bad)
    assert r.status_code == 400
    assert _locs(r) == [["participants", 0, "participant", "birth_year"],
                        ["participants", 0, "installments", 1, "months_covered"]]

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["participant"]["nickname"] = "x"
    bad["surprise"] = True
    r = post(bad)
    assert r.status_code == 400 and sorted(_locs(r)) == [["participants", 0, "participant", "nickname"], ["surprise"]]
    assert {d["type"] for d in r.json()["detail"]} == {"extra_forbidden"}

    for wrong in ("2025/06/01", "01-06-2025", "2025-6-1", "2025-06-01T00:00:00", "2025-02-30", 20250601):
        r = post({**good, "as_of": wrong})
        assert r.status_code == 400 and _locs(r) == [["as_of"]], wrong
    bad = json.loads(json.dumps(good))
    bad["participants"][0]["installments"][0]["due_on"] = "31.01.2024"
    assert _locs(post(bad)) == [["participants", 0, "installments", 0, "due_on"]]

    r = post({**good, "participants": good["participants"] * 51})
    assert r.status_code == 400 and _locs(r) == [["participants"]] and r.json()["detail"][0]["type"] == "too_long"


def test_records_breaking_the_contract_get_400_with_field_paths(world, client):
    pid = int(world["scores"]["participant_id"].iloc[0])
    bad = score_body(world, [pid])
    enrolled = bad["participants"][0]["participant"]["enrolled_on"]
    bad["participants"][0]["installments"][0]["paid_on"] = str((pd.Timestamp(enrolled) - pd.Timedelta(days=40)).date())
    r = client.post("/score", json=bad)
    assert r.status_code == 400
    assert ["participants", 0, "installments", 0, "paid_on"] in _locs(r)

    bad = score_body(world, [pid])
    bad["participants"][0]["participant"]["village_id"] = "NO-SUCH-VILLAGE"
    r = client.post("/score", json=bad)
    assert r.status_code == 400 and _locs(r) == [["participants", 0, "participant", "village_id"]]

    r = client.post("/score", json={**score_body(world, [pid]), "as_of": "2100-01-01"})
    assert r.status_code == 400 and _locs(r) == [["as_of"]]


def test_limits_types_and_query_errors(world, client):
    big = b'{"as_of": "2025-01-01", "participants": [' + b" " * (2 * 2**20) + b"]}"
    r = client.post("/score", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = client.post("/score", content=b"\x80\x04K\x01.", headers={"Content-Type": "application/vnd.bentoml+pickle"})
    assert r.status_code == 415
    r = client.post("/score", data={"as_of": "2025-01-01"})  # a form
    assert r.status_code == 415
    assert client.post("/score_ids", json={"participant_ids": list(range(1, 1002))}).status_code == 400
    assert client.post("/score_ids", json={"participant_ids": [0]}).status_code == 400
    r = client.get("/ranked", params={"commune": "x", "limit": "many"})
    assert r.status_code == 400 and _locs(r) == [["limit"]]
    assert client.get("/ranked", params={"limit": 0}).status_code == 400
    assert client.get("/ranked", params={"commune": "x", "colour": "red"}).status_code == 400
    assert client.get("/ranked?limit=1&limit=2").status_code == 400
    assert client.get("/ranked", params={"commune": "x" * 3000}).status_code == 414
    assert client.get("/ranked", params={"run_id": "no-such-run"}).status_code == 404
    assert client.put("/score", json={}).status_code == 405


# ---------------------------------------------------------------- logs


def test_logs_hold_no_keys_bodies_or_personal_data(world, server, client):
    marker = "Zzyzx Secret Ethnicity"
    pid = int(world["scores"]["participant_id"].iloc[0])
    good = score_body(world, [pid])
    bad = json.loads(json.dumps(good))
    bad["participants"][0]["participant"]["ethnicity"] = marker
    bad["participants"][0]["participant"]["birth_year"] = 1801
    assert client.post("/score", json=bad).status_code == 400
    assert client.post("/score", json=good).status_code == 200
    bad["participants"][0]["participant"]["birth_year"] = 1980
    bad["participants"][0]["installments"][0]["paid_on"] = "1999-01-01"
    assert client.post("/score", json=bad).status_code == 400
    time.sleep(1.0)
    text = server["log"].read_text(errors="replace")
    assert "path=/score" in text  # the access log is on...
    for secret in (marker, str(pid), KEY, good["participants"][0]["participant"]["village_id"] + '"', "1801"):
        assert secret not in text, secret  # ...and holds no body, key or person


# ---------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def pg_server(world):
    """The same service over a PostgreSQL store (a fresh schema) holding the same batch run."""
    import sqlalchemy as sa

    from dropout.registry.resolve import resolve_model
    from dropout.score.run import run_scoring
    from test_store import PG_URL, _postgres_or_skip

    _postgres_or_skip()
    schema = f"test_service_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        run_scoring(world["tables"], world["as_of"], 60, resolve_model(str(world["root"] / "run" / "model")),
                    store_url=url, out_dir=world["root"] / "out-pg", excel=False)
        with running_server(world, url, "server-pg.log") as served:
            yield served
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_schemathesis_finds_no_server_error_and_no_schema_violation(store, request, tmp_path):
    """Property-based fuzzing of the service's own OpenAPI document with every check,
    on both stores, loopback only, bounded.

    `positive_data_acceptance` takes 400 and 404 as the answers to schema-valid data too
    (service/schemathesis.toml): the data contract refuses records JSON Schema cannot
    describe (a payment before enrolment, an unknown village), and a run id can be unknown.
    """
    served = request.getfixturevalue("server" if store == "sqlite" else "pg_server")
    exe = Path(sys.executable).parent / "schemathesis"
    config = Path(__file__).resolve().parents[1] / "service" / "schemathesis.toml"
    cmd = [str(exe), "--config-file", str(config), "run", served["url"] + "/docs.json",
           "--header", f"X-API-Key: {KEY}", "--checks", "all",
           "--max-examples", "25", "--seed", "7", "--workers", "1", "--phases", "examples,coverage,fuzzing",
           "--generation-database", "none", "--request-timeout", "30", "--no-color",
           "--report", "junit", "--report-dir", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    log = served["log"].read_text(errors="replace")
    assert "Traceback" not in log and "status=500" not in log
