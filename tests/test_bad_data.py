"""Every folder of the bad-data corpus (tests/data/bad/, written by tests/data/make_bad.py)
is refused with a contract error naming the file or table, column and rows, or loads
when its oddity is harmless; never a traceback, and `dropout validate` says the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dropout.cli import app
from dropout.errors import DataContractError
from dropout.io import load_tables

BAD = Path(__file__).resolve().parent / "data" / "bad"
CASES = sorted(p.name.removesuffix(".expect.json") for p in BAD.glob("*.expect.json"))


def test_the_corpus_is_there():
    assert len(CASES) >= 48
    assert {p.name for p in BAD.iterdir() if p.is_dir()} == set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_a_bad_folder_is_a_clean_contract_error(case):
    expect = json.loads((BAD / f"{case}.expect.json").read_text())
    if expect["outcome"] == "loads":
        tables = load_tables(BAD / case)
        assert len(tables.participants) == 3
        return
    with pytest.raises(DataContractError) as err:
        load_tables(BAD / case)
    assert expect["message"] in str(err.value)
    assert all(p["table"] for p in err.value.problems)


@pytest.mark.parametrize("case", CASES[::4])
def test_validate_answers_with_exit_1_and_the_problem(case):
    expect = json.loads((BAD / f"{case}.expect.json").read_text())
    result = CliRunner().invoke(app, ["validate", str(BAD / case)])
    assert "Traceback" not in result.output
    if expect["outcome"] == "loads":
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 1, result.output
        assert " ".join(expect["message"].split()) in " ".join(result.output.split())


def test_the_formula_village_loads_and_is_plain_text_in_excel(tmp_path):
    """A formula in an id is data: it loads, and the workbook shows it as text, never a live formula."""
    from openpyxl import load_workbook

    from dropout.excel import write_workbook

    tables = load_tables(BAD / "formula_in_village_id")
    sheet = tables.participants[["participant_id", "village_id"]].copy()
    path = write_workbook({"Hong Thai": sheet}, tmp_path / "w.xlsx")
    ws = load_workbook(path)["Hong Thai"]
    cells = [c for row in ws.iter_rows() for c in row if str(c.value).startswith("=HYPERLINK")]
    assert cells and all(c.data_type == "s" for c in cells)
