"""The service's fast per-request path gives what the plain pandas path gives.

The reference data is split by village and made ready to join at start-up
(`Reference.from_tables`); a request's records replace their rows there
(`join_reference`). Ranks and row order in `score_matrix` are computed with numpy.
These check both against the obvious answers on small random worlds.
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

from dropout.score.core import add_ranks, order_rows, split_tables  # noqa: E402
from dropout.service.models import ScoreRequest  # noqa: E402
from dropout.service.records import Reference, participant_records, scoring_tables  # noqa: E402

TABLES = ["participants", "installments", "poverty", "visits", "withdrawals", "villages", "disasters"]


def request(tables, ids, as_of="2025-06-01", **extra) -> ScoreRequest:
    body = {"as_of": as_of, "participants": participant_records(tables, ids),
            "extracted_on": str(tables.extracted_on.date()), **extra}
    return ScoreRequest.model_validate_json(json.dumps(body))


def rows(df: pd.DataFrame) -> pd.DataFrame:
    """A table's rows in a canonical order (visit ids are renumbered by the join)."""
    df = df.drop(columns=["visit_id"], errors="ignore")
    return df.sort_values(list(df.columns), kind="stable").reset_index(drop=True)


@pytest.fixture(scope="module")
def world():
    tables = random_tables(seed=5, n_participants=80)
    return tables, Reference.from_tables(tables)


def test_a_request_of_the_references_own_records_joins_to_its_villages(world):
    """Sending people's records as the reference holds them changes nothing: the joined
    tables are the reference rows of those people's villages, each disaster once."""
    tables, reference = world
    parts = tables.participants
    v1 = parts.loc[parts["village_id"] == "V1", "participant_id"].tolist()
    v2 = parts.loc[parts["village_id"] == "V2", "participant_id"].tolist()  # V1 and V2 share a commune
    for ids in ([v1[0]], [v1[0], v1[1]], [v1[0], v2[0]]):
        villages = sorted(set(parts.loc[parts["participant_id"].isin(ids), "village_id"]))
        by_village = tables.replace(villages=tables.villages.assign(district=tables.villages["village_id"]))
        expected = next(split_tables(by_village, [villages]))
        joined = scoring_tables(request(tables, ids), reference)
        for name in TABLES:
            got, want = getattr(joined, name), getattr(expected, name)
            if name == "visits":  # the request carries home visits only; sessions come from the reference
                got, want = got[got["kind"] == "home_visit"], want[want["kind"] == "home_visit"]
            if name == "villages":
                want = tables.villages[tables.villages["village_id"].isin(villages)]
            pd.testing.assert_frame_equal(rows(got), rows(want), check_exact=True, obj=f"{ids}: {name}")
            assert getattr(joined, name).dtypes.to_dict() == getattr(tables, name).dtypes.to_dict(), name
        assert not joined.disasters.duplicated().any()


def test_the_join_leaves_the_reference_unchanged(world):
    tables, reference = world
    before = {v: {n: getattr(t, n).copy() for n in TABLES} for v, t in reference.by_village.items()}
    pid = int(tables.participants["participant_id"].iloc[0])
    body = participant_records(tables, [pid])
    body[0]["installments"] = body[0]["installments"][:-1]  # records that differ from the reference's
    joined = scoring_tables(ScoreRequest.model_validate_json(json.dumps(
        {"as_of": "2025-06-01", "participants": body, "extracted_on": str(tables.extracted_on.date())})), reference)
    assert (joined.installments["participant_id"] == pid).sum() == len(body[0]["installments"])
    for v, t in reference.by_village.items():
        for n in TABLES:
            pd.testing.assert_frame_equal(getattr(t, n), before[v][n], check_exact=True)


def test_people_of_villages_sharing_a_commune_or_households_get_the_batch_features(world):
    """Villages of one commune share its disasters, and a household id may recur across
    villages: each disaster and spell counts once, as in the batch, so the features of
    the request's people are the batch's."""
    from dropout.features import build_features

    tables, reference = world
    parts = tables.participants
    as_of = "2025-06-01"
    batch = build_features(tables, [as_of]).set_index("participant_id")
    for villages in (["V1", "V2"], ["V1", "V2", "V3"], ["V4"]):
        ids = [int(parts.loc[parts["village_id"] == v, "participant_id"].iloc[k]) for v in villages for k in (0, 1)]
        joined = scoring_tables(request(tables, ids, as_of), reference)
        served = build_features(joined, [as_of]).set_index("participant_id")
        mine = [i for i in ids if i in batch.index]
        pd.testing.assert_frame_equal(served.loc[mine], batch.loc[mine], check_exact=True)


def test_ranks_and_order_match_pandas_groupby_and_sort():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 40, 300):
        df = pd.DataFrame({
            "participant_id": rng.permutation(n).astype(np.int64) + 1,
            "district": pd.array(rng.choice(["B", "A", "C"], n), dtype="str"),
            "commune": pd.array(rng.choice(["x", "y", "z", "w"], n), dtype="str"),
            "risk": rng.choice([0.1, 0.2, 0.2, 0.5], n),  # ties: broken by participant_id
        })
        order = np.lexsort((df["participant_id"].to_numpy(), -df["risk"].to_numpy()))
        ranked = df.iloc[order]
        want = df.copy()
        for column, keys in (("rank_in_district", ["district"]), ("rank_in_commune", ["district", "commune"])):
            rank = np.empty(n, dtype=np.int64)
            rank[order] = ranked.groupby(keys, sort=False).cumcount().to_numpy() + 1
            want[column] = rank
        got = add_ranks(df)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        pd.testing.assert_frame_equal(
            order_rows(got), got.sort_values(["district", "rank_in_district"], kind="stable").reset_index(drop=True),
            check_exact=True)
