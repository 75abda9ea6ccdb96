"""build_features as training and scoring use it: rows, order, types, errors, the CLI command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import TablesBuilder, random_tables
from typer.testing import CliRunner

from dropout.cli import app
from dropout.features import FAMILIES, InvalidAsOfError, build_features
from dropout.io import write_tables


@pytest.fixture(scope="module")
def small():
    b = TablesBuilder(extracted_on="2025-12-31")
    ids = [b.participant(enrolled_on=d) for d in ("2024-01-01", "2025-03-01", "2025-03-02")]
    for p in ids:
        b.schedule(p)
    b.withdrawal(ids[0], "2025-03-01")  # withdrawn on the day: out from that day
    return b.build(), ids


def test_cohort_rows_sorted_by_date_then_participant(small):
    tables, (a, b, c) = small
    df = build_features(tables, ["2025-03-01", "2025-02-28", "2025-03-01"])  # duplicates and order ignored
    assert [(r.as_of.date().isoformat(), r.participant_id) for r in df[["as_of", "participant_id"]].itertuples()] == [
        ("2025-02-28", a), ("2025-03-01", b)]
    assert df.index.equals(pd.RangeIndex(len(df)))


def test_empty_cohort_keeps_columns(small):
    tables, _ = small
    df = build_features(tables, ["2020-01-01"])
    assert df.empty and df.shape[1] > 60 and df["as_of"].dtype == "datetime64[ns]"


def test_families_subset_in_catalog_order(small):
    tables, _ = small
    df = build_features(tables, ["2025-06-01"], families=["seasonality", "disasters"])
    assert df.columns[2] == "disasters_30d"
    assert df.columns[-1] == "next_months_covered"


def test_refusals(small):
    tables, _ = small
    with pytest.raises(InvalidAsOfError, match="after the extraction date 2025-12-31"):
        build_features(tables, ["2026-01-01"])
    with pytest.raises(InvalidAsOfError, match="not a date"):
        build_features(tables, ["first of May"])
    with pytest.raises(InvalidAsOfError, match="no as_of dates"):
        build_features(tables, [])
    with pytest.raises(ValueError, match="unknown feature family"):
        build_features(tables, ["2025-01-01"], families=["astrology"])
    with pytest.raises(TypeError, match="Tables"):
        build_features({"participants": None}, ["2025-01-01"])
    from dropout.errors import DataContractError

    broken = tables.replace(installments=tables.installments.drop(columns=["due_on"]))
    with pytest.raises(DataContractError, match="installments.due_on"):
        build_features(broken, ["2025-01-01"])


def test_progress_reports_each_family_and_date(small):
    tables, _ = small
    calls = []
    build_features(tables, ["2025-01-01", "2025-02-01"], progress=lambda *a: calls.append(a))
    assert calls[-1] == ("seasonality", 2, 2)
    assert [c[0] for c in calls[: len(FAMILIES)]] == list(FAMILIES)


def test_deterministic():
    tables = random_tables(4, 30)
    dates = pd.date_range("2023-01-01", periods=6, freq="QS")
    pd.testing.assert_frame_equal(build_features(tables, dates), build_features(tables, dates))


def test_factory_tables_meet_the_contract():
    from dropout.schema import validate_tables

    for seed in range(3):
        tables = random_tables(seed, 30)
        validate_tables(tables)  # raises DataContractError on any problem


def test_features_command_writes_parquet(tmp_path):
    tables = random_tables(5, 20)
    write_tables(tables, tmp_path / "data")
    out = tmp_path / "features.parquet"
    result = CliRunner().invoke(app, ["features", "--data", str(tmp_path / "data"), "--as-of", "2024-06-01",
                                      "--as-of", "2025-06-01", "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    df = pd.read_parquet(out)
    expected = build_features(tables, ["2024-06-01", "2025-06-01"])
    pd.testing.assert_frame_equal(df, expected, check_dtype=False)
    assert np.array_equal(df.columns, expected.columns)
    bad = CliRunner().invoke(app, ["features", "--data", str(tmp_path / "data"), "--as-of", "2030-01-01",
                                   "--out", str(tmp_path / "x.parquet"), "--quiet"])
    assert bad.exit_code == 2 and not (tmp_path / "x.parquet").exists()
