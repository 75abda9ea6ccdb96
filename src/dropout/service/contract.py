"""A request's records held to the full contract check (`validate_raw`), for tests and audits.

The service checks a request with the contract's own rules (`dropout.rules`, through
`records.request_errors`); `check_with_validate_raw` runs the whole `validate_raw` on
the same records and reports its problems at the request's field paths, so a test can
hold the two to each other.
"""

from __future__ import annotations

import re
from datetime import date

from dropout.errors import DataContractError
from dropout.schema import validate_raw
from dropout.service.models import ScoreRequest
from dropout.service.records import request_loc, request_tables

_ROW = re.compile(r"^row (\d+)")


def contract_errors(problems: list[dict], origin: dict[str, list[tuple]]) -> list[dict]:
    """validate_raw's problems as errors at the request's field paths (`origin`: table -> row -> path)."""
    errors = []
    for p in problems:
        table, column = p["table"], p.get("column")
        msg = str(p["check"])
        positions = [int(m.group(1)) for r in p.get("rows") or [] if (m := _ROW.match(str(r)))]
        if not positions:
            errors.append({"loc": [table, *([c.strip() for c in (column or "").split(",")][:1] if column else [])],
                           "msg": msg, "type": "data_contract"})
            continue
        for pos in positions:
            prefix = origin.get(table, [])
            base = tuple(prefix[pos]) if pos < len(prefix) else ("reference", table)
            errors.append({"loc": request_loc(base, table, column), "msg": msg, "type": "data_contract"})
    return errors


def check_with_validate_raw(request: ScoreRequest, reference, today: date | None = None) -> list[dict]:
    """The full contract check (`validate_raw`) of a request's records: its errors, [] if none."""
    req = request_tables(request, reference, today)
    try:
        validate_raw(req.raw, req.extracted_on)
    except DataContractError as err:
        return contract_errors(err.problems, req.origin)
    return []
