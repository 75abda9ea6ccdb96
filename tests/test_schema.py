"""The data contract refuses each kind of bad input it claims to, naming table, column and rows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from dropout.cli import app
from dropout.errors import DataContractError
from dropout.io import load_tables, read_raw_folder
from dropout.schema import validate_raw

EXTRACTED = "2025-12-31"


def good_raw() -> dict[str, pd.DataFrame]:
    """A tiny valid data set, as text, the way a CSV export arrives."""
    return {
        "villages": pd.DataFrame(
            {
                "village_id": ["V1", "V2"],
                "commune": ["Hong Thai", "Hong Thai"],
                "district": ["A Luoi", "A Luoi"],
                "province": ["Thua Thien Hue", "Thua Thien Hue"],
                "travel_minutes": ["30", "180"],
                "ethnic_language": ["Ta Oi", "Pa Ko"],
            }
        ),
        "participants": pd.DataFrame(
            {
                "participant_id": ["4600000001", "4600000002"],
                "household_id": ["10", "11"],
                "village_id": ["V1", "V2"],
                "birth_year": ["1980", "1995"],
                "sex": ["F", "M"],
                "ethnicity": ["Ta Oi", "Kinh"],
                "occupation": ["farmer", "village_worker"],
                "enrolled_on": ["2024-01-05", "2024-06-10"],
                "payment_mode": ["monthly", "annual"],
                "income_base": ["1500000", "2000000"],
            }
        ),
        "installments": pd.DataFrame(
            {
                "participant_id": ["4600000001", "4600000001", "4600000002"],
                "period_start": ["2024-01-01", "2024-02-01", "2024-06-01"],
                "due_on": ["2024-01-31", "2024-02-29", "2024-12-31"],
                "months_covered": ["1", "1", "12"],
                "income_base": ["1500000", "1500000", "2000000"],
                "amount_due": ["330000", "330000", "5280000"],
                "paid_on": ["2024-01-20", "", "2024-07-01"],
                "amount_paid": ["297000", "", "4884000"],
            }
        ),
        "poverty": pd.DataFrame(
            {
                "household_id": ["10", "10", "11"],
                "status": ["poor", "near_poor", "none"],
                "valid_from": ["2023-01-01", "2024-01-01", "2023-01-01"],
                "valid_to": ["2023-12-31", "", ""],
            }
        ),
        "disasters": pd.DataFrame(
            {"commune": ["Hong Thai"], "started_on": ["2024-10-15"], "kind": ["flood"], "severity": ["3"]}
        ),
        "visits": pd.DataFrame(
            {
                "visit_id": ["1", "2"],
                "participant_id": ["4600000001", ""],
                "village_id": ["V1", "V2"],
                "visited_on": ["2024-03-01", "2024-05-01"],
                "kind": ["home_visit", "evening_session"],
                "language": ["Ta Oi", "Pa Ko"],
                "outcome_note": ["", "25 people came"],
            }
        ),
        "withdrawals": pd.DataFrame({"participant_id": ["4600000001"], "claimed_on": ["2025-06-01"]}),
    }


def validate(raw: dict) -> object:
    return validate_raw(raw, pd.Timestamp(EXTRACTED))


def problems_of(raw: dict) -> list[dict]:
    with pytest.raises(DataContractError) as info:
        validate(raw)
    return info.value.problems


def test_good_tables_validate_and_are_typed():
    tables = validate(good_raw())
    assert tables.participants["participant_id"].dtype == "int64"
    assert tables.installments["paid_on"].dtype == "datetime64[ns]"
    assert tables.installments["paid_on"].isna().sum() == 1
    assert tables.villages["travel_minutes"].tolist() == [30, 180]
    # subsidy policies absent from the folder: the reference copy stands in
    assert set(tables.subsidy_policies["province"]) >= {"*", "Quang Tri"}
    assert tables.counts()["installments"] == 3


def _edit(table: str, column: str, row: int, value) -> dict:
    raw = good_raw()
    raw[table].loc[row, column] = value
    return raw


@pytest.mark.parametrize(
    "table, column, row, value, words",
    [
        ("participants", "birth_year", 1, "nineteen", "wrong type"),
        ("installments", "paid_on", 0, "20/01/2024", "wrong type"),
        ("participants", "payment_mode", 0, "weekly", "value not allowed"),
        ("poverty", "status", 2, "rich", "value not allowed"),
        ("disasters", "kind", 0, "earthquake", "value not allowed"),
        ("installments", "amount_due", 1, "-5", "negative"),
        ("villages", "travel_minutes", 0, "-1", "out of range"),
        ("disasters", "severity", 0, "4", "out of range"),
        ("participants", "income_base", 0, "900000", "out of range"),
        ("participants", "sex", 0, "", "missing values"),
    ],
)
def test_single_column_problems_name_table_column_and_row(table, column, row, value, words):
    problems = problems_of(_edit(table, column, row, value))
    hit = [p for p in problems if p["table"] == table and column in (p["column"] or "")]
    assert hit, problems
    assert words in hit[0]["check"]
    assert any(r.startswith(f"row {row}:") for r in hit[0]["rows"])


def test_missing_column_is_named():
    raw = good_raw()
    raw["installments"] = raw["installments"].drop(columns=["due_on"])
    (problem,) = problems_of(raw)
    assert problem["table"] == "installments" and problem["column"] == "due_on"
    assert "missing column" in problem["check"]


def test_duplicate_keys_refused():
    raw = good_raw()
    raw["participants"].loc[1, "participant_id"] = "4600000001"
    problems = problems_of(raw)
    assert any(p["table"] == "participants" and p["column"] == "participant_id" and "duplicate" in p["check"]
               for p in problems)


def test_duplicate_compound_key_refused():
    raw = good_raw()
    raw["installments"].loc[1, "period_start"] = "2024-01-01"
    problems = problems_of(raw)
    assert any(p["table"] == "installments" and "duplicate" in p["check"] for p in problems), problems


def test_orphan_installment_refused():
    problems = problems_of(_edit("installments", "participant_id", 2, "4699999999"))
    (p,) = [p for p in problems if p["table"] == "installments"]
    assert p["column"] == "participant_id" and "orphan" in p["check"] and "row 2" in p["rows"][0]


def test_orphan_village_refused():
    problems = problems_of(_edit("participants", "village_id", 0, "V9"))
    assert problems[0]["table"] == "participants" and "orphan" in problems[0]["check"]


def test_payment_before_enrolment_refused():
    problems = problems_of(_edit("installments", "paid_on", 0, "2023-12-31"))
    assert any(p["column"] == "paid_on" and "before enrolment" in p["check"] for p in problems)


def test_overlapping_poverty_spells_refused():
    problems = problems_of(_edit("poverty", "valid_to", 0, "2024-03-31"))
    (p,) = problems
    assert p["table"] == "poverty" and "overlapping" in p["check"] and "row 1" in p["rows"][0]


@pytest.mark.parametrize(
    "table, column, row",
    [
        ("installments", "paid_on", 0),
        ("disasters", "started_on", 0),
        ("visits", "visited_on", 1),
        ("withdrawals", "claimed_on", 0),
        ("poverty", "valid_from", 2),
    ],
)
def test_future_dates_refused(table, column, row):
    problems = problems_of(_edit(table, column, row, "2026-02-01"))
    assert any(p["table"] == table and p["column"] == column and "future" in p["check"] for p in problems)


def test_future_schedule_is_allowed():
    raw = good_raw()
    raw["installments"].loc[1, "due_on"] = "2026-03-31"
    validate(raw)


def test_empty_required_table_refused():
    raw = good_raw()
    raw["installments"] = raw["installments"].iloc[0:0]
    problems = problems_of(raw)
    assert problems[0]["table"] == "installments" and "empty" in problems[0]["check"]


def test_missing_required_table_refused_optional_allowed():
    raw = good_raw()
    del raw["disasters"]
    assert len(validate(raw).disasters) == 0
    del raw["villages"]
    assert any(p["table"] == "villages" and "missing" in p["check"] for p in problems_of(raw))


def test_home_visit_needs_participant():
    problems = problems_of(_edit("visits", "participant_id", 0, ""))
    assert any(p["table"] == "visits" and "home_visit" in p["check"] for p in problems)


def test_amount_paid_must_match_paid_on():
    problems = problems_of(_edit("installments", "amount_paid", 1, "1000"))
    assert any(p["column"] == "amount_paid" for p in problems)


def test_parquet_with_wrong_dtype_refused(tmp_path: Path):
    raw = good_raw()
    write_folder(tmp_path, raw, fmt="parquet")
    # A number column that arrives as text which is not a number
    df = pd.read_parquet(tmp_path / "villages.parquet")
    df["travel_minutes"] = ["30", "far"]
    df.to_parquet(tmp_path / "villages.parquet", index=False)
    with pytest.raises(DataContractError) as info:
        load_tables(tmp_path)
    assert "villages.travel_minutes" in str(info.value) and "far" in str(info.value)


def write_folder(folder: Path, raw: dict, fmt: str = "csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in raw.items():
        if fmt == "csv":
            df.to_csv(folder / f"{name}.csv", index=False)
        else:
            df.to_parquet(folder / f"{name}.parquet", index=False)
    (folder / "manifest.json").write_text(json.dumps({"extracted_on": EXTRACTED}))
    return folder


def test_cli_validate_ok_and_refusal(tmp_path: Path):
    runner = CliRunner()
    ok = write_folder(tmp_path / "ok", good_raw())
    result = runner.invoke(app, ["validate", str(ok)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "installments" in result.output

    bad = good_raw()
    bad["installments"].loc[0, "paid_on"] = "2023-12-31"
    bad_dir = write_folder(tmp_path / "bad", bad)
    before = sorted(p.name for p in bad_dir.iterdir())
    result = runner.invoke(app, ["validate", str(bad_dir)])
    assert result.exit_code == 1
    assert "installments.paid_on" in result.output and "payment before enrolment" in result.output
    assert sorted(p.name for p in bad_dir.iterdir()) == before  # nothing written


def test_csv_and_parquet_read_the_same(tmp_path: Path):
    a = load_tables(write_folder(tmp_path / "csv", good_raw(), "csv"))
    b = load_tables(write_folder(tmp_path / "pq", good_raw(), "parquet"))
    for name, df in a.as_dict().items():
        pd.testing.assert_frame_equal(df, b.as_dict()[name], check_dtype=False)
    raw, extracted = read_raw_folder(tmp_path / "csv")
    assert extracted == pd.Timestamp(EXTRACTED)


def test_every_problem_of_every_table_in_one_pass(tmp_path):
    """A bad value in one table and an orphan in another (and in the same table) are reported together."""
    from dropout.errors import DataContractError
    from dropout.io import load_tables as load
    from dropout.simulate import simulate, write_simulation

    folder = tmp_path / "d"
    write_simulation(simulate("a-luoi", participants=200, seed=1, start="2024-01", end="2025-06"), folder)
    parts = pd.read_parquet(folder / "participants.parquet")
    parts.loc[0, "payment_mode"] = "weekly"       # a value the contract does not allow
    parts.loc[1, "village_id"] = "NOWHERE"        # an orphan in the same table
    parts.to_parquet(folder / "participants.parquet", index=False)
    inst = pd.read_parquet(folder / "installments.parquet")
    inst.loc[0, "months_covered"] = 0             # out of range in another table
    inst.to_parquet(folder / "installments.parquet", index=False)
    with pytest.raises(DataContractError) as err:
        load(folder)
    found = {(p["table"], p["column"]) for p in err.value.problems}
    assert {("participants", "payment_mode"), ("participants", "village_id"),
            ("installments", "months_covered")} <= found
