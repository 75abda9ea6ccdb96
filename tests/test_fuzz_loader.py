"""Fuzzing the table loader: whatever bytes a table file holds, and however a valid file
is mutated, `load_tables` either loads the folder or raises a DataContractError; never
any other exception (a traceback for the user)."""

from __future__ import annotations

import importlib.util
import io
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dropout.errors import DataContractError
from dropout.io import load_tables

_spec = importlib.util.spec_from_file_location("make_bad", Path(__file__).parent / "data" / "make_bad.py")
make_bad = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_bad)

TABLES = {"villages": make_bad.VILLAGES, "participants": make_bad.PARTICIPANTS, "installments": make_bad.INSTALLMENTS}
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


def _parquet_bytes(table: str) -> bytes:
    buffer = io.BytesIO()
    pd.read_csv(io.StringIO(TABLES[table]), dtype=str).to_parquet(buffer, index=False)
    return buffer.getvalue()


PARQUET = {name: _parquet_bytes(name) for name in TABLES}


def load_with(table: str, suffix: str, data: bytes):
    """A valid folder whose `table` file is replaced by `data`; load it, as the user would."""
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        make_bad.base(folder / "d")
        (folder / "d" / f"{table}.csv").unlink()
        (folder / "d" / f"{table}{suffix}").write_bytes(data)
        try:
            load_tables(folder / "d")
        except DataContractError as err:
            assert err.problems and all(p["table"] for p in err.problems)
    finally:
        shutil.rmtree(folder)


tables = st.sampled_from(sorted(TABLES))


@FUZZ
@given(table=tables, suffix=st.sampled_from([".csv", ".parquet", ".xlsx"]), data=st.binary(max_size=2000))
def test_any_bytes_are_a_load_or_a_contract_error(table, suffix, data):
    load_with(table, suffix, data)


def _mutate(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for position, kind, value in edits:
        if not out:
            out.extend(value)
            continue
        i = position % len(out)
        if kind == "replace":
            out[i:i + len(value)] = value
        elif kind == "insert":
            out[i:i] = value
        else:
            del out[i:i + len(value) + 1]
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(["replace", "insert", "delete"]),
                           st.binary(min_size=1, max_size=8)), min_size=1, max_size=6)
# Text edits that reach the parser's harder paths: delimiters, quotes, numbers, dates, controls.
tokens = st.sampled_from([",", ";", "\t", '"', "\n", "\r\n", "\x00", "\x85", "1e30", "-1", "inf", "NaN", "True",
                          "18446744073709551615", "3000-01-01", "2025-02-30", "2025-01-01T00:00:00+07:00",
                          "=HYPERLINK(\"x\")", "", " ", "\ufeff", "sex", "participant_id", "é"])
text_edits = st.lists(st.tuples(st.integers(0, 10_000), tokens), min_size=1, max_size=6)


@FUZZ
@given(table=tables, changes=text_edits)
def test_mutated_csv_text_is_a_load_or_a_contract_error(table, changes):
    text = TABLES[table]
    for position, token in changes:
        i = position % (len(text) + 1)
        text = text[:i] + token + text[i + 1:]
    load_with(table, ".csv", text.encode("utf-8"))


@FUZZ
@given(table=tables, changes=edits)
def test_mutated_csv_bytes_are_a_load_or_a_contract_error(table, changes):
    load_with(table, ".csv", _mutate(TABLES[table].encode("utf-8"), changes))


@FUZZ
@given(table=tables, changes=edits)
def test_mutated_parquet_is_a_load_or_a_contract_error(table, changes):
    load_with(table, ".parquet", _mutate(PARQUET[table], changes))
