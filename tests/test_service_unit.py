"""The risk service's library parts, without a server: models, records, engine, keys, guard, logs.

The HTTP tests (tests/test_service_http.py) start the real server; these check the
pieces on small hand-made data, fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).parent))
from factories import TablesBuilder, random_tables  # noqa: E402

from dropout.service import auth, logs  # noqa: E402
from dropout.service.guard import Guard  # noqa: E402
from dropout.service.models import MAX_PARTICIPANTS, ScoreRequest  # noqa: E402
from dropout.service.openapi import build_spec  # noqa: E402
from dropout.service.records import (  # noqa: E402
    Reference,
    RequestError,
    participant_records,
    scoring_tables,
    validate_request,
)

EXTRACTED = "2025-12-31"


# ---------------------------------------------------------------- a tiny world


def small_world():
    b = TablesBuilder(extracted_on=EXTRACTED)
    b.village("V1", commune="Hong Thai", province="Quang Tri", travel_minutes=45)
    b.village("V2", commune="A Ngo", province="Thua Thien Hue", travel_minutes=120)
    a = b.participant(village_id="V1", enrolled_on="2024-01-05", payment_mode="monthly")
    c = b.participant(village_id="V1", enrolled_on="2023-03-01", payment_mode="quarterly")
    d = b.participant(village_id="V2", enrolled_on="2024-06-10", payment_mode="monthly")
    b.schedule(a, paid=[-3, 2, None, 40, -1, -5, None, None])
    b.schedule(c, paid="on_time")
    b.schedule(d, paid=[0, 0, 1, None])
    b.poverty(b.household_of(a), "poor", "2023-01-01", "2025-03-31")
    b.poverty(b.household_of(a), "none", "2025-04-01")
    b.disaster("Hong Thai", "2025-09-20", kind="flood", severity=3)
    b.visit("2025-05-02", participant_id=a)
    b.visit("2025-06-10", village_id="V1")
    return b.build(), (a, c, d)


def body(tables, ids, as_of="2025-11-01", **extra) -> dict:
    return {"as_of": as_of, "participants": participant_records(tables, ids), "lang": "en",
            "extracted_on": str(tables.extracted_on.date()), **extra}


def parse(raw: dict) -> ScoreRequest:
    """A request body as the server reads it: JSON (strict mode takes dates as JSON text only)."""
    return ScoreRequest.model_validate_json(json.dumps(raw))


@pytest.fixture(scope="module")
def world():
    return small_world()


@pytest.fixture(scope="module")
def reference(world):
    return Reference.from_tables(world[0])


# ---------------------------------------------------------------- request models


def test_records_of_a_tables_pass_the_request_model(world):
    tables, ids = world
    req = ScoreRequest.model_validate_json(json.dumps(body(tables, ids)))
    assert [r.participant.participant_id for r in req.participants] == list(ids)
    assert len(req.participants[0].installments) == (tables.installments["participant_id"] == ids[0]).sum()


def _errors(raw: dict | str) -> list[tuple]:
    with pytest.raises(ValidationError) as exc:
        ScoreRequest.model_validate_json(raw if isinstance(raw, str) else json.dumps(raw))
    return [(tuple(e["loc"]), e["type"]) for e in exc.value.errors()]


def test_request_model_names_the_field_of_each_problem(world):
    tables, ids = world
    good = body(tables, ids[:1])

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["participant"]["birth_year"] = 1900  # contract range 1940-2010
    assert (("participants", 0, "participant", "birth_year"), "greater_than_equal") in _errors(bad)

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["installments"][2]["paid_on"] = "01/02/2025"
    assert _errors(bad)[0][0] == ("participants", 0, "installments", 2, "paid_on")

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["participant"]["income_base"] = "1500000"  # strict: text is not a number
    assert _errors(bad) == [(("participants", 0, "participant", "income_base"), "int_type")]

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["installments"][0]["shoe_size"] = 42
    assert _errors(bad) == [(("participants", 0, "installments", 0, "shoe_size"), "extra_forbidden")]

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["participant"]["occupation"] = "astronaut"
    assert _errors(bad) == [(("participants", 0, "participant", "occupation"), "literal_error")]

    assert _errors({**good, "as_of": "2025-11-01T00:00:00"}) == [(("as_of",), "date_parsing")]
    assert _errors({**good, "as_of": "3025-11-01"}) == [(("as_of",), "less_than_equal")]
    assert _errors({**good, "lang": "fr"}) == [(("lang",), "literal_error")]
    assert _errors(json.dumps(good)[:-5])[0][1] == "json_invalid"


def test_request_model_bounds_the_work(world):
    tables, ids = world
    one = participant_records(tables, ids[:1])[0]
    too_many = {"as_of": "2025-11-01", "participants": [one] * (MAX_PARTICIPANTS + 1)}
    assert _errors(too_many) == [(("participants",), "too_long")]
    long_history = dict(one, installments=one["installments"] * 200)
    assert _errors({"as_of": "2025-11-01", "participants": [long_history]}) == [
        (("participants", 0, "installments"), "too_long")]


def test_contract_violations_come_back_with_request_field_paths(world, reference):
    tables, ids = world
    good = body(tables, ids[:1])

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["installments"][0]["paid_on"] = "2023-12-01"  # before enrolment 2024-01-05
    with pytest.raises(RequestError) as exc:
        validate_request(parse(bad), reference)
    assert {"loc": ["participants", 0, "installments", 0, "paid_on"], "msg": "payment before enrolment",
            "type": "data_contract"} in exc.value.errors

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["participant"]["village_id"] = "NOWHERE"
    with pytest.raises(RequestError) as exc:
        validate_request(parse(bad), reference)
    assert [e["loc"] for e in exc.value.errors] == [["participants", 0, "participant", "village_id"]]

    bad = json.loads(json.dumps(good))
    bad["participants"][0]["poverty"].append({"status": "near_poor", "valid_from": "2025-02-01", "valid_to": None})
    with pytest.raises(RequestError) as exc:
        validate_request(parse(bad), reference)
    assert any(e["loc"][:3] == ["participants", 0, "poverty"] for e in exc.value.errors)

    bad = json.loads(json.dumps(good))
    bad["participants"].append(bad["participants"][0])  # the same person twice
    with pytest.raises(RequestError) as exc:
        validate_request(parse(bad), reference)
    assert ["participants", 1, "participant", "participant_id"] in [e["loc"] for e in exc.value.errors]


def test_records_replace_the_reference_and_keep_the_neighbours(world, reference):
    tables, (a, c, d) = world
    req = parse(body(tables, [a]))
    joined = scoring_tables(req, reference)
    # the village's other participant comes from the reference; the other village does not
    assert sorted(joined.participants["participant_id"]) == sorted([a, c])
    assert (joined.installments["participant_id"] == a).sum() == (tables.installments["participant_id"] == a).sum()
    assert joined.visits["kind"].tolist().count("evening_session") == 1
    assert set(joined.disasters["commune"]) == {"Hong Thai"}
    for name in ("installments", "poverty", "participants", "visits"):
        expected = getattr(tables, name).dtypes.to_dict()
        assert getattr(joined, name).dtypes.to_dict() == expected, name


# ---------------------------------------------------------------- engine == batch


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small model trained on a random world (real features, few trees)."""
    from dropout.features import load_catalog
    from dropout.labels import build_training_frame
    from dropout.model.gbm import DropoutModel

    tables = random_tables(seed=3, n_participants=150)
    frame = build_training_frame(tables, pd.date_range("2022-06-01", "2025-06-01", freq="MS"), "lapse")
    feats = [f for f in load_catalog().names() if f in frame.columns]
    cut = frame["as_of"] < "2024-09-01"
    model = DropoutModel({"num_leaves": 7, "min_data_in_leaf": 10, "verbosity": -1, "seed": 1,
                          "deterministic": True, "num_threads": 1}, feature_names=feats,
                         num_boost_round=20, early_stopping_rounds=20,
                         metadata={"target": "lapse", "horizon_days": 90})
    model.fit(frame.loc[cut, feats], frame.loc[cut, "label"], frame.loc[~cut, feats], frame.loc[~cut, "label"])
    folder = model.save(tmp_path_factory.mktemp("model") / "model")
    return tables, folder


def test_engine_scores_equal_the_batch_scorer(trained, tmp_path):
    from dropout.io import write_tables
    from dropout.score import score_participants
    from dropout.service.core import RiskEngine
    from dropout.service.settings import ServiceSettings

    tables, folder = trained
    data = write_tables(tables, tmp_path / "data")
    engine = RiskEngine.load(ServiceSettings(model=str(folder), data_dir=data))
    as_of = "2025-06-01"
    batch = score_participants(tables, as_of, 60, engine.model).set_index("participant_id")
    ids = batch.index[:6].tolist()
    req = parse({**body(tables, ids, as_of=as_of), "window_days": 60})
    out = engine.score(req)
    assert [r.participant_id for r in out.results] == ids
    for r in out.results:
        row = batch.loc[r.participant_id]
        assert r.scored and r.risk == pytest.approx(row["risk"], abs=1e-12)
        assert r.risk_band == row["risk_band"]
        assert r.due_on == row["due_on"].date()
        texts = [row[f"reason_{k}_en"] for k in range(1, 5) if isinstance(row[f"reason_{k}_en"], str)]
        assert [x.text for x in r.reasons] == texts
    # someone not due in the window is answered, not refused
    not_due = sorted(set(tables.participants["participant_id"]) - set(batch.index))[:1]
    out = engine.score(parse({**body(tables, not_due, as_of=as_of), "window_days": 60}))
    assert out.results[0].scored is False and "falls due" in out.results[0].note


def test_engine_refuses_an_as_of_after_the_extraction(trained, tmp_path):
    from dropout.service.core import RiskEngine
    from dropout.service.settings import ServiceSettings

    tables, folder = trained
    engine = RiskEngine.load(ServiceSettings(model=str(folder)))  # no reference data: villages in the request
    villages = [{k: (int(v) if isinstance(v, np.integer) else v) for k, v in r.items()}
                for r in tables.villages.to_dict("records")]
    pid = int(tables.participants["participant_id"].iloc[0])
    req = parse({**body(tables, [pid], as_of="2026-02-01"), "villages": villages})
    with pytest.raises(RequestError) as exc:
        engine.score(req)
    assert exc.value.errors[0]["loc"] == ["as_of"] and "extraction" in exc.value.errors[0]["msg"]


# ---------------------------------------------------------------- keys


def test_keys_from_env_and_file(tmp_path):
    plain = "k" * 32
    chosen = "correct horse battery staple"
    f = tmp_path / "keys"
    f.write_text(f"# officers' page\n{auth.sha256_entry('f' * 40)}\n{auth.scrypt_entry(chosen, n=2**10)}\n")
    store = auth.load_keys({auth.ENV_KEYS: f" {plain} ,", auth.ENV_KEYS_FILE: str(f)})
    assert len(store) == 3
    assert store.check(plain) and store.check("f" * 40) and store.check(chosen) and store.check(chosen)
    for wrong in (None, "", "k" * 31, plain + " ", "f" * 41, chosen.upper(), "x" * 10_000):
        assert not store.check(wrong)


def test_key_configuration_errors_never_show_a_key(tmp_path):
    with pytest.raises(auth.AuthConfigError, match="no API key"):
        auth.load_keys({})
    with pytest.raises(auth.AuthConfigError) as exc:
        auth.load_keys({auth.ENV_KEYS: "short-secret"})
    assert "short-secret" not in str(exc.value)
    f = tmp_path / "keys"
    f.write_text("sha256:not-hex-secret\n")
    with pytest.raises(auth.AuthConfigError) as exc:
        auth.load_keys({auth.ENV_KEYS_FILE: str(f)})
    assert "not-hex-secret" not in str(exc.value) and "line 1" in str(exc.value)


# ---------------------------------------------------------------- guard


class _State:
    def __init__(self, ready=True):
        self.keys = auth.load_keys({auth.ENV_KEYS: "s" * 20})
        self.ready = ready

    def openapi(self):
        return {"openapi": "3.1.0"}


def _call(guard, method="POST", path="/score", headers=(), body=b"{}", chunks=None):
    async def app(scope, receive, send):
        msg = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": msg.get("body", b"")})

    sent, pieces = [], list(chunks or [body])

    async def receive():
        chunk = pieces.pop(0) if pieces else b""
        return {"type": "http.request", "body": chunk, "more_body": bool(pieces)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}
    asyncio.run(Guard(app, **guard)(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def test_guard_checks_key_type_size_and_readiness():
    ok = [("X-API-Key", "s" * 20), ("Content-Type", "application/json")]
    g = {"state": _State(), "api_paths": frozenset({"/score"}), "max_body_bytes": 100}
    assert _call(g, headers=ok) == (200, b"{}")
    assert _call(g, headers=[("Authorization", "Bearer " + "s" * 20), ok[1]])[0] == 200
    assert _call(g, headers=[ok[1]]) == (401, b'{"error": "unauthorized"}')
    assert _call(g, headers=[("X-API-Key", "t" * 20), ok[1]])[0] == 401
    assert _call(g, headers=[("Authorization", "Basic " + "s" * 20), ok[1]])[0] == 401
    assert _call(g, method="GET", path="/readyz", headers=[])[0] == 200  # probes need no key
    assert _call(g, headers=[ok[0], ("Content-Type", "application/vnd.bentoml+pickle")])[0] == 415
    assert _call(g, headers=[ok[0], ("Content-Type", "multipart/form-data; boundary=x")])[0] == 415
    assert _call(g, headers=[*ok, ("Content-Length", "101")], body=b"x" * 101)[0] == 413
    assert _call(g, headers=ok, chunks=[b"x" * 60, b"x" * 60])[0] == 413  # chunked, no length given
    assert _call(g, headers=ok, chunks=[b"x" * 50, b"y" * 50]) == (200, b"x" * 50 + b"y" * 50)
    assert _call({**g, "state": _State(ready=False)}, headers=ok)[0] == 503
    assert _call(g, method="GET", path="/docs.json", headers=[ok[0]]) == (200, b'{"openapi": "3.1.0"}')


# ---------------------------------------------------------------- logs and spec


def test_log_records_keep_no_input_values(caplog):
    logs.install(["dropout.test.scrub"])
    logger = logging.getLogger("dropout.test.scrub")
    try:
        ScoreRequest.model_validate({"as_of": "2025-01-01", "participants": [{"participant": {"ethnicity": "Secret Tribe"}}]})
    except ValidationError:
        with caplog.at_level(logging.INFO, logger="dropout.test.scrub"):
            logger.error("Exception on %s [%s]", "/score", "POST", exc_info=True)
    text = caplog.text + "".join(str(r.msg) for r in caplog.records)
    assert "ValidationError" in text and "Secret Tribe" not in text
    assert caplog.records[0].levelno == logging.WARNING  # a client's mistake, not the server's


def test_openapi_document_covers_every_route():
    spec = build_spec()
    assert spec["openapi"] == "3.1.0"
    assert {p: sorted(ops) for p, ops in spec["paths"].items()} == {
        "/score": ["post"], "/score_ids": ["post"], "/ranked": ["get", "post"], "/model": ["get", "post"],
        "/healthz": ["get"], "/livez": ["get"], "/readyz": ["get"], "/metrics": ["get"]}
    assert spec["paths"]["/readyz"]["get"]["security"] == []
    names = [p["name"] for p in spec["paths"]["/ranked"]["get"]["parameters"]]
    assert names == ["commune", "district", "limit", "lang", "run_id"]
    schemas = spec["components"]["schemas"]
    assert schemas["ScoreRequest"]["additionalProperties"] is False
    assert schemas["ScoreRequest"]["properties"]["participants"]["maxItems"] == MAX_PARTICIPANTS
