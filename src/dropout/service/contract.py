"""The data contract's rules between rows, checked on one request's records, fast.

`dropout.schema.validate_raw` is the contract. On a request of one person it costs
tens of milliseconds (pandera builds and runs a schema per table), more than all the
scoring. The request models already enforce every column's type, allowed values and
range, derived from `dropout.schema.contract()` (see models.py); what remains are the
rules *between* rows and tables, below, checked here in plain Python over the few
records of a request, each reported at the request's own field path.

`tests/test_service_contract.py` holds this module to `validate_raw`: on valid requests
and on requests broken in every way listed here, both accept or both refuse.
`contract_errors` translates `validate_raw`'s problems into the same field paths, for
that test and for anyone who wants the full check (`check_with_validate_raw`).
"""

from __future__ import annotations

import re
from datetime import date

from dropout.service.models import ScoreRequest

_ROW = re.compile(r"^row (\d+)")

# The contract's wording (dropout/schema.py), so both checks speak alike.
FUTURE = "date in the future of the extraction date {day}"
MSG = {
    "orphan_village": "orphan rows: village_id not found in villages.village_id",
    "orphan_commune": "orphan rows: commune not found in villages.commune",
    "duplicate": "duplicate key",
    "paid_before_enrolment": "payment before enrolment",
    "period_before_enrolment": "installment period before the enrolment month",
    "due_before_period": "deadline before the period starts",
    "paid_mismatch": "amount_paid must be empty exactly when paid_on is empty",
    "claim_before_enrolment": "withdrawal before enrolment",
    "valid_to_before": "valid_to before valid_from",
    "overlap": "overlapping status spells of one household",
}


def _err(loc: list, kind: str, msg: str | None = None) -> dict:
    return {"loc": loc, "msg": msg or MSG[kind], "type": "data_contract"}


def request_problems(request: ScoreRequest, village_ids: set[str], communes: set[str],
                     extracted_on: date) -> list[dict]:
    """Every break of the contract's cross-row rules in the request, at its field path.

    Args:
        village_ids, communes: the villages the records may refer to (the request's own
            `villages`, or those found in the reference data).
        extracted_on: no event may be dated after it.
    """
    errors: list[dict] = []
    future = FUTURE.format(day=extracted_on.isoformat())

    def late(day: date | None, loc: list) -> None:
        if day is not None and day > extracted_on:
            errors.append(_err(loc, "future", future))

    seen_ids: dict[int, int] = {}
    spells: dict[int, list[tuple]] = {}  # household -> (valid_from, valid_to, loc)
    for i, rec in enumerate(request.participants):
        p = rec.participant
        at = ["participants", i]
        if p.participant_id in seen_ids:
            errors.append(_err([*at, "participant", "participant_id"], "duplicate"))
        seen_ids.setdefault(p.participant_id, i)
        if p.village_id not in village_ids:
            errors.append(_err([*at, "participant", "village_id"], "orphan_village"))
        late(p.enrolled_on, [*at, "participant", "enrolled_on"])
        enrol_month = p.enrolled_on.replace(day=1)
        starts: set[date] = set()
        for j, inst in enumerate(rec.installments):
            loc = [*at, "installments", j]
            if inst.period_start in starts:
                errors.append(_err([*loc, "period_start"], "duplicate"))
            starts.add(inst.period_start)
            if inst.period_start < enrol_month:
                errors.append(_err([*loc, "period_start"], "period_before_enrolment"))
            if inst.due_on < inst.period_start:
                errors.append(_err([*loc, "due_on"], "due_before_period"))
            if inst.paid_on is not None and inst.paid_on < p.enrolled_on:
                errors.append(_err([*loc, "paid_on"], "paid_before_enrolment"))
            if (inst.paid_on is None) != (inst.amount_paid is None):
                errors.append(_err([*loc, "amount_paid"], "paid_mismatch"))
            late(inst.paid_on, [*loc, "paid_on"])
        household = spells.setdefault(p.household_id, [])
        for j, spell in enumerate(rec.poverty):
            loc = [*at, "poverty", j]
            if spell.valid_to is not None and spell.valid_to < spell.valid_from:
                errors.append(_err([*loc, "valid_to"], "valid_to_before"))
            late(spell.valid_from, [*loc, "valid_from"])
            key = (spell.status, spell.valid_from, spell.valid_to)
            if all(key != (s, f, t) for s, f, t, _ in household):  # people of one household each send its spells
                household.append((*key, loc))
        for j, visit in enumerate(rec.visits):
            late(visit.visited_on, [*at, "visits", j, "visited_on"])
        if rec.withdrawn_on is not None:
            if rec.withdrawn_on < p.enrolled_on:
                errors.append(_err([*at, "withdrawn_on"], "claim_before_enrolment"))
            late(rec.withdrawn_on, [*at, "withdrawn_on"])
    for household in spells.values():
        household.sort(key=lambda s: s[1])  # stable: as validate_raw, each spell against the one before
        for (_, _, prev_stop, _), (_, start, _, loc) in zip(household, household[1:]):
            if start <= (prev_stop or date.max):
                errors.append(_err([*loc, "valid_from"], "overlap"))
    if request.villages is not None:
        seen: set[str] = set()
        for k, v in enumerate(request.villages):
            if v.village_id in seen:
                errors.append(_err(["villages", k, "village_id"], "duplicate"))
            seen.add(v.village_id)
    for k, d in enumerate(request.disasters or []):
        if d.commune not in communes:
            errors.append(_err(["disasters", k, "commune"], "orphan_commune"))
        late(d.started_on, ["disasters", k, "started_on"])
    return errors


# ---------------------------------------------------------------- validate_raw's view


def contract_errors(problems: list[dict], origin: dict[str, list[tuple]]) -> list[dict]:
    """validate_raw's problems as errors at the request's field paths (`origin`: table -> row -> path)."""
    errors = []
    for p in problems:
        table, columns = p["table"], [c.strip() for c in (p.get("column") or "").split(",") if c.strip()]
        msg = str(p["check"])
        positions = [int(m.group(1)) for r in p.get("rows") or [] if (m := _ROW.match(str(r)))]
        if not positions:
            errors.append({"loc": [table, *columns[:1]], "msg": msg, "type": "data_contract"})
            continue
        for pos in positions:
            prefix = origin.get(table, [])
            base = list(prefix[pos]) if pos < len(prefix) else ["reference", table]
            leaf = [] if base[-1] == "withdrawn_on" else [_request_field(table, columns)]
            errors.append({"loc": base + [x for x in leaf if x], "msg": msg, "type": "data_contract"})
    return errors


def _request_field(table: str, columns: list[str]) -> str | None:
    """The request's field name for a contract column (ids implied by nesting have none)."""
    if not columns:
        return None
    c = columns[-1] if table in ("installments", "poverty") and columns[0] in ("participant_id", "household_id") \
        else columns[0]
    if table in ("installments", "withdrawals") and c == "participant_id":
        return None
    if table == "poverty" and c == "household_id":
        return None
    if table == "visits" and c in ("participant_id", "village_id", "visit_id", "outcome_note"):
        return None
    return c


def check_with_validate_raw(request: ScoreRequest, reference, today: date | None = None) -> list[dict]:
    """The full contract check (`validate_raw`) of a request's records: its errors, [] if none."""
    from dropout.errors import DataContractError
    from dropout.schema import validate_raw
    from dropout.service.records import request_tables

    req = request_tables(request, reference, today)
    try:
        validate_raw(req.raw, req.extracted_on)
    except DataContractError as err:
        return contract_errors(err.problems, req.origin)
    return []
