"""/score equals batch scoring: one implementation of the features, two ways to call it.

The service scores a request's own records against neighbours prepared at start-up
(`records.own_tables`, `service/neighbours.py`): the community counts of the rest of the
village come from the reference data, not from joining the neighbours' records. These
tests pin that path to the batch scorer: the features on small random worlds (villages
sharing a commune, records that differ from the reference's), and, on a simulated
district, `RiskEngine.score` of 1,000 random people one request each against
`score_participants`: risk to 1e-9, the same band, due date, amounts and reasons.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from factories import random_tables  # noqa: E402

from dropout.features import build_features, feature_names, feature_values  # noqa: E402
from dropout.score.core import feature_context  # noqa: E402
from dropout.service.models import ScoreRequest  # noqa: E402
from dropout.service.records import Reference, own_tables, participant_records, validate_request  # noqa: E402


def request(tables, ids, as_of, **extra) -> ScoreRequest:
    body = {"as_of": as_of, "participants": participant_records(tables, ids),
            "extracted_on": str(tables.extracted_on.date()), **extra}
    return ScoreRequest.model_validate_json(json.dumps(body))


def served_features(req: ScoreRequest, reference: Reference, as_of) -> pd.DataFrame:
    """The service's features of the request's people (all families, every person)."""
    own = validate_request(req, reference)
    tables, outside = own_tables(req, own, reference)
    ctx = feature_context(tables, outside=outside)
    names = feature_names()
    ids = [r.participant.participant_id for r in req.participants]
    values = feature_values(ctx, pd.Timestamp(as_of), np.searchsorted(ctx.participant_id, ids), names)
    return pd.DataFrame(values, columns=names, index=pd.Index(ids, name="participant_id"))


@pytest.mark.parametrize("seed", [5, 11])
def test_own_records_with_prepared_neighbours_give_the_batch_features(seed):
    tables = random_tables(seed=seed, n_participants=80)
    reference = Reference.from_tables(tables)
    parts = tables.participants
    for as_of in ("2024-03-01", "2025-06-01"):
        batch = build_features(tables, [as_of]).set_index("participant_id")
        cohort = parts[parts["participant_id"].isin(batch.index)]
        for villages in (["V1"], ["V1", "V2"], ["V1", "V2", "V3"], ["V4"]):
            ids = [int(p) for v in villages for p in cohort.loc[cohort["village_id"] == v, "participant_id"][:2]]
            if not ids:
                continue
            got = served_features(request(tables, ids, as_of), reference, as_of)
            want = batch.loc[ids, got.columns].astype(np.float64)
            pd.testing.assert_frame_equal(got, want, check_exact=True, check_names=False, obj=f"{villages} {as_of}")


def test_records_that_differ_from_the_reference_count_as_sent():
    """A person whose request drops their last installments: their own features and
    their neighbours' counts follow the request, as batch scoring of the changed tables does."""
    tables = random_tables(seed=7, n_participants=60)
    reference = Reference.from_tables(tables)
    as_of = "2025-06-01"
    ids = [int(p) for p in tables.participants.loc[tables.participants["village_id"] == "V1", "participant_id"][:2]]
    body = participant_records(tables, ids)
    for rec in body:  # every payment of the last year unpaid: lapses the neighbours' share counts
        for inst in rec["installments"]:
            if inst["due_on"] >= "2024-09-01" and inst["due_on"] < as_of:
                inst["paid_on"], inst["amount_paid"] = None, None
    req = ScoreRequest.model_validate_json(json.dumps(
        {"as_of": as_of, "participants": body, "extracted_on": str(tables.extracted_on.date())}))
    inst = tables.installments
    unpaid = inst["participant_id"].isin(ids) & (inst["due_on"] >= "2024-09-01") & (inst["due_on"] < as_of)
    changed = tables.replace(installments=inst.assign(
        paid_on=inst["paid_on"].mask(unpaid), amount_paid=inst["amount_paid"].mask(unpaid)))
    batch = build_features(changed, [as_of]).set_index("participant_id")
    got = served_features(req, reference, as_of)
    pd.testing.assert_frame_equal(got, batch.loc[ids, got.columns].astype(np.float64), check_exact=True,
                                  check_names=False)


# ---------------------------------------------------------------- /score == batch on a simulated district


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """A simulated district and a small model trained on it (real features, few trees)."""
    from dropout.io import load_tables, write_tables
    from dropout.labels import build_training_frame
    from dropout.model.gbm import DropoutModel
    from dropout.simulate import simulate, write_simulation

    root = tmp_path_factory.mktemp("district")
    write_simulation(simulate("a-luoi", participants=1500, seed=2), root / "data")
    tables = load_tables(root / "data")
    frame = build_training_frame(tables, pd.date_range("2023-01-01", "2025-06-01", freq="3MS"), "lapse")
    feats = [f for f in feature_names() if f in frame.columns]
    cut = frame["as_of"] < "2024-10-01"
    model = DropoutModel({"num_leaves": 15, "min_data_in_leaf": 20, "verbosity": -1, "seed": 1,
                          "deterministic": True, "num_threads": 1}, feature_names=feats,
                         num_boost_round=40, early_stopping_rounds=40, calibration="platt",
                         linear_weights=[0.0, 0.3], metadata={"target": "lapse", "horizon_days": 90})
    model.fit(frame.loc[cut, feats], frame.loc[cut, "label"], frame.loc[~cut, feats], frame.loc[~cut, "label"])
    return tables, root / "data", model.save(root / "model")


@pytest.mark.slow
def test_score_of_1000_random_people_equals_batch_scoring(district):
    from dropout.score import score_participants
    from dropout.service.core import RiskEngine
    from dropout.service.settings import ServiceSettings

    tables, data, folder = district
    engine = RiskEngine.load(ServiceSettings(model=str(folder), data_dir=data))
    as_of = (pd.Timestamp(tables.extracted_on) - pd.DateOffset(months=2)).normalize()
    window = 120
    batch = score_participants(tables, as_of, window, engine.model).set_index("participant_id")
    rng = np.random.default_rng(17)
    # 1,000 people drawn from everyone enrolled by as-of with an installment (a request
    # carries at least one): most are due in the window, some are not.
    parts = tables.participants
    enrolled = parts.loc[(parts["enrolled_on"] <= as_of)
                         & parts["participant_id"].isin(tables.installments["participant_id"]), "participant_id"]
    ids = rng.choice(enrolled.to_numpy(np.int64), size=1000, replace=False).tolist()
    records = dict(zip(ids, participant_records(tables, ids)))
    head = {"as_of": str(as_of.date()), "window_days": window, "lang": "en",
            "extracted_on": str(tables.extracted_on.date())}
    scored = 0
    for pid in ids:
        body = json.dumps({**head, "participants": [records[pid]]})
        res = engine.score(ScoreRequest.model_validate_json(body)).results[0]
        assert res.participant_id == pid
        if pid not in batch.index:
            assert not res.scored, pid
            continue
        scored += 1
        row = batch.loc[pid]
        assert res.scored, pid
        assert abs(res.risk - row["risk"]) <= 1e-9, pid
        assert (res.risk_band, res.due_on, res.amount_due, res.status) == (
            row["risk_band"], row["due_on"].date(), row["amount_due"], row["status"]), pid
        assert res.net_amount == pytest.approx(row["net_amount"], abs=1e-6)
        assert (res.arrears_installments, res.arrears_vnd) == (row["arrears_installments"], row["arrears_vnd"])
        want = [(row[f"reason_{k}_feature"], row[f"reason_{k}_en"]) for k in range(1, 5)
                if isinstance(row[f"reason_{k}_en"], str)]
        assert [(r.feature, r.text) for r in res.reasons] == want, pid
    assert scored >= 500  # most people drawn are due in the window: the comparison is not empty


# ---------------------------------------------------------------- the contract's rules: numpy paths = pandas


def test_rules_numpy_paths_agree_with_pandas():
    from dropout.rules import _duplicated, _overlapping_spells_pandas, overlapping_spells

    rng = np.random.default_rng(3)
    for n in (0, 1, 2, 7, 60):
        days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 5, n) * 30, unit="D")
        df = pd.DataFrame({"participant_id": rng.integers(1, 4, n).astype(np.int64),
                           "period_start": pd.Series(days).mask(rng.random(n) < 0.2).to_numpy()})
        for key in (["participant_id"], ["participant_id", "period_start"], ["period_start"]):
            assert (_duplicated(df, key) == df.duplicated(key, keep=False).to_numpy()).all(), (n, key)
        start = pd.Series(days)
        spells = pd.DataFrame({"household_id": rng.integers(1, 3, n).astype(np.int64), "valid_from": start,
                               "valid_to": (start + pd.to_timedelta(rng.integers(-40, 200, n), unit="D"))
                               .mask(rng.random(n) < 0.3)})
        assert (overlapping_spells(spells) == _overlapping_spells_pandas(spells)).all(), n


def test_request_frames_equal_pandas_own_constructor():
    """`records._frame` (pandas without its input checks) builds what `pd.DataFrame` builds."""
    from dropout.service.records import _frame, request_tables

    tables = random_tables(seed=3, n_participants=20)
    ids = [int(p) for p in tables.participants["participant_id"][:3]]
    raw = request_tables(request(tables, ids, "2025-06-01"), Reference.from_tables(tables))
    for name, df in raw.raw.items():
        if df is None:
            continue
        arrays = {c: df[c].array for c in df.columns}
        pd.testing.assert_frame_equal(_frame(arrays), pd.DataFrame(arrays), check_exact=True, obj=name)
        assert _frame(arrays).dtypes.tolist() == df.dtypes.tolist()
