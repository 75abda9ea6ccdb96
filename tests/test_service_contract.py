"""The service's contract checks against the contract itself (`validate_raw`).

A /score request is checked by its pydantic model (column types, values, ranges taken
from `dropout.schema.contract()`) and by the contract's rules between rows
(`dropout.rules`, evaluated on the request's records). These tests hold both to
`validate_raw`: the same records are accepted or refused by both, whatever is broken.
"""

from __future__ import annotations

import copy
import json
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from test_service_unit import body, parse, small_world  # noqa: E402

from dropout.schema import contract  # noqa: E402
from dropout.service.contract import check_with_validate_raw  # noqa: E402
from dropout.service.models import (  # noqa: E402
    DisasterIn,
    InstallmentIn,
    ParticipantIn,
    PovertySpellIn,
    VillageIn,
)
from dropout.service.records import Reference, RequestError, validate_request  # noqa: E402

WORLD = small_world()
REFERENCE = Reference.from_tables(WORLD[0])
BASE = body(WORLD[0], list(WORLD[1]))
EXTRACTED = date.fromisoformat(BASE["extracted_on"])


def _day(s: str | None, days: int) -> str:
    return (date.fromisoformat(s) + timedelta(days=days)).isoformat()


def _mutate(b: dict, kind: str, i: int, j: int, k: int) -> None:
    """Break (or harmlessly change) participant i's record j in one way; k sizes the change."""
    p = b["participants"][i % len(b["participants"])]
    person, inst = p["participant"], p["installments"]
    row = inst[j % len(inst)]
    paid = [r for r in inst if r["paid_on"]]
    if kind == "paid_before_enrolment" and paid:
        paid[j % len(paid)]["paid_on"] = _day(person["enrolled_on"], -k)
    elif kind == "period_before_enrolment":
        row["period_start"] = _day(person["enrolled_on"][:8] + "01", -k)
        row["due_on"] = max(row["due_on"], row["period_start"])
    elif kind == "due_before_period":
        row["due_on"] = _day(row["period_start"], -k)
    elif kind == "paid_mismatch":
        row["amount_paid"] = None if row["paid_on"] else 1000
    elif kind == "future_payment" and paid:
        paid[j % len(paid)]["paid_on"] = _day(b["extracted_on"], k)
    elif kind == "future_enrolment":
        person["enrolled_on"] = _day(b["extracted_on"], k)
    elif kind == "duplicate_installment":
        inst.append(copy.deepcopy(row))
    elif kind == "duplicate_participant":
        b["participants"].append(copy.deepcopy(p))
    elif kind == "valid_to_before" and p["poverty"]:
        spell = p["poverty"][j % len(p["poverty"])]
        spell["valid_to"] = _day(spell["valid_from"], -k)
    elif kind == "overlapping_spell":
        start = p["poverty"][0]["valid_from"] if p["poverty"] else "2024-01-01"
        p["poverty"].append({"status": "near_poor", "valid_from": _day(start, k % 30), "valid_to": None})
        p["poverty"].append({"status": "poor", "valid_from": _day(start, k % 30 + 1), "valid_to": None})
    elif kind == "future_spell":
        p["poverty"].append({"status": "poor", "valid_from": _day(b["extracted_on"], k), "valid_to": None})
    elif kind == "future_visit":
        p["visits"].append({"visited_on": _day(b["extracted_on"], k), "kind": "home_visit", "language": "Ta Oi"})
    elif kind == "withdrawal_before_enrolment":
        p["withdrawn_on"] = _day(person["enrolled_on"], -k)
    elif kind == "unknown_village":
        b["villages"] = [v for v in _villages() if v["village_id"] != person["village_id"]]
    elif kind == "unknown_commune":
        b.setdefault("villages", _villages())
        b["disasters"] = [{"commune": "Nowhere", "started_on": "2025-01-01", "kind": "storm", "severity": 1}]
    elif kind == "duplicate_village":
        b["villages"] = _villages() + _villages()[:1]
    # harmless changes: the records stay valid
    elif kind == "pay_earlier" and paid:
        r = paid[j % len(paid)]
        r["paid_on"] = max(person["enrolled_on"], _day(r["paid_on"], -(k % 20)))
    elif kind == "later_spell":
        p["poverty"] = [{"status": "poor", "valid_from": _day(b["extracted_on"], -k - 400),
                         "valid_to": _day(b["extracted_on"], -k - 1)},
                        {"status": "none", "valid_from": _day(b["extracted_on"], -k), "valid_to": None}]
    elif kind == "withdraw":
        p["withdrawn_on"] = _day(b["extracted_on"], -(k % 100))
    elif kind == "own_villages":
        b["villages"] = _villages()
        b["disasters"] = [{"commune": "A Ngo", "started_on": "2025-03-01", "kind": "flood", "severity": 2}]


def _villages() -> list[dict]:
    return [{k: (int(v) if k == "travel_minutes" else v) for k, v in r.items()}
            for r in WORLD[0].villages.to_dict("records")]


KINDS = ["paid_before_enrolment", "period_before_enrolment", "due_before_period", "paid_mismatch",
         "future_payment", "future_enrolment", "duplicate_installment", "duplicate_participant",
         "valid_to_before", "overlapping_spell", "future_spell", "future_visit", "withdrawal_before_enrolment",
         "unknown_village", "unknown_commune", "duplicate_village",
         "pay_earlier", "later_spell", "withdraw", "own_villages"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: each example costs a validate_raw
@given(st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 5), st.integers(0, 40), st.integers(1, 400)),
                max_size=3))
@example([]).via("the valid base request")
@example([("paid_before_enrolment", 0, 0, 5)]).via("one early payment")
@example([("overlapping_spell", 0, 0, 3)]).via("overlapping spells")
def test_fast_checks_accept_and_refuse_what_validate_raw_does(mutations):
    b = copy.deepcopy(BASE)
    for kind, i, j, k in mutations:
        _mutate(b, kind, i, j, k)
    try:
        request = parse(b)
    except Exception:  # a mutation the request model refuses (e.g. a date before 1990)
        return
    try:
        fast = []
        validate_request(request, REFERENCE)
    except RequestError as err:
        fast = err.errors
    full = check_with_validate_raw(request, REFERENCE)
    assert bool(fast) == bool(full), (mutations, fast, full)
    # where validate_raw names a row of the request, the fast check names the same field
    fast_locs = {tuple(e["loc"]) for e in fast}
    for e in full:
        if e["loc"][0] == "participants" and isinstance(e["loc"][-1], str) and "duplicate" not in e["msg"]:
            assert tuple(e["loc"]) in fast_locs, (e, fast)


REQUEST_MODELS = {"participants": ParticipantIn, "installments": InstallmentIn, "poverty": PovertySpellIn,
                  "villages": VillageIn, "disasters": DisasterIn}
IMPLIED = {("installments", "participant_id"), ("poverty", "household_id")}  # given by nesting


@pytest.mark.parametrize("table", sorted(REQUEST_MODELS))
def test_request_models_carry_every_column_rule_of_the_contract(table):
    schema = REQUEST_MODELS[table].model_json_schema()
    props = schema["properties"]
    for column, col in contract()[table].items():
        if (table, column) in IMPLIED or col.optional:  # names, phones, outcomes: not model inputs
            continue
        assert column in props, f"{table}.{column} missing from {REQUEST_MODELS[table].__name__}"
        prop = props[column]
        text = json.dumps(prop)
        for check in col.checks:
            stats = check.statistics
            if check.name == "isin":
                assert set(stats["allowed_values"]) <= set(json.dumps(prop).replace('"', " ").split()) or \
                       all(v in text for v in stats["allowed_values"]), (table, column)
            elif check.name == "in_range":
                assert str(stats["min_value"]) in text and str(stats["max_value"]) in text, (table, column, prop)
            elif check.name in ("greater_than", "greater_than_or_equal_to"):
                assert "inimum" in text, (table, column, prop)
            else:
                pytest.fail(f"{table}.{column}: contract check {check.name} has no counterpart in the request model")
        if not col.nullable and col.kind != "str":
            assert column in schema.get("required", []) or "default" not in prop, (table, column)
