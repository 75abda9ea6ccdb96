"""Batch scoring on a small world: rows, ranks, reasons, files, Excel, store, refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from dropout.cli import app
from dropout.excel import header_for
from dropout.features import build_features
from dropout.features.catalog import load_catalog, reason_sentence
from dropout.score.output import band_thresholds
from dropout.schedule import next_installment
from dropout.score import (
    OUTPUT_COLUMNS,
    EmptyWindowError,
    ScoringInputError,
    score_participants,
)
from dropout.score.output import EXCEL_COLUMNS
from dropout.model import ModelRef
from dropout.registry.resolve import ModelNotFoundError, resolve_model
from dropout.score.run import run_scoring
from dropout.store import open_store
from test_score_world import AS_OF, WINDOW, load_model, small_world, write_world


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def scores(model):
    return score_participants(small_world(), AS_OF, WINDOW, model)


def model_ref(model) -> ModelRef:
    return ModelRef(model, "test-model", "1", model.digest, "memory")


def test_everyone_due_in_the_window_gets_one_row(scores):
    due = next_installment(small_world(), [AS_OF], WINDOW)
    assert len(due) > 20
    assert sorted(scores["participant_id"]) == sorted(due["participant_id"])
    assert list(scores.columns) == OUTPUT_COLUMNS
    merged = scores.merge(due, on="participant_id", suffixes=("", "_due"))
    assert (merged["due_on"] == merged["due_on_due"]).all() and (merged["amount_due"] == merged["amount_due_due"]).all()
    assert scores["due_on"].between(pd.Timestamp(AS_OF), pd.Timestamp(AS_OF) + pd.Timedelta(days=WINDOW)).all()


def test_ranks_follow_risk_within_district_and_commune(scores):
    assert scores["risk"].between(0, 1).all() and (scores["expected_lapse"] == scores["risk"]).all()
    for keys, col in ((["district"], "rank_in_district"), (["district", "commune"], "rank_in_commune")):
        for _, g in scores.groupby(keys):
            g = g.sort_values(col)
            assert g[col].tolist() == list(range(1, len(g) + 1))
            assert g["risk"].is_monotonic_decreasing
    assert set(scores["risk_band"]) <= {"high", "medium", "low"}
    (high, _), (medium, _), _ = band_thresholds()
    assert (scores.loc[scores["risk"] >= high, "risk_band"] == "high").all()
    assert (scores.loc[scores["risk"].between(medium, high, inclusive="left"), "risk_band"] == "medium").all()
    assert (scores.loc[scores["risk"] < medium, "risk_band"] == "low").all()
    # the canonical order: district, then rank
    assert scores[["district", "rank_in_district"]].equals(
        scores[["district", "rank_in_district"]].sort_values(["district", "rank_in_district"]).reset_index(drop=True))


def test_reasons_name_only_risk_raising_features_with_actual_values(scores, model):
    """Each reason is a catalog group pushing risk up (its features' contributions summed),
    strongest first, written with its strongest feature and that person's value."""
    feats = build_features(small_world(), [AS_OF]).set_index("participant_id").loc[scores["participant_id"]]
    X = feats[model.feature_names].reset_index(drop=True)
    contrib = model.contributions(X)
    names = list(model.feature_names)
    from dropout.features.catalog import variant_sentence
    from dropout.score.reasons import catalog_rules

    catalog = load_catalog()
    values = X[names].to_numpy(dtype=np.float64, na_value=np.nan)
    # (person, feature) -> group by the catalog's rules; hidden cells (fixed traits, values
    # outside reason_when) belong to no group and count for nothing.
    cell, variant, group_names, _ = catalog_rules(names).cells(values, catalog.reason_groups(names),
                                                              catalog.reason_groups(names, missing=True))
    group_matrix = np.where(cell >= 0, np.array(group_names + [""], dtype=object)[cell], "")
    c = np.where(cell >= 0, contrib[names].to_numpy(), 0.0)
    by_group = pd.DataFrame({g: np.where(group_matrix == g, c, 0.0).sum(axis=1) for g in np.unique(group_matrix) if g})
    n_reasons = 0
    for i, row in scores.iterrows():
        previous, named = np.inf, set()
        for k in range(1, 5):
            feature = row[f"reason_{k}_feature"]
            if pd.isna(feature):
                assert pd.isna(row[f"reason_{k}_vi"]) and pd.isna(row[f"reason_{k}_en"])
                continue
            j = names.index(feature)
            group = group_matrix[i, j]
            assert group not in named, f"group {group} named twice for {row.participant_id}"
            named.add(group)
            push = by_group.loc[i, group]
            assert push > 0 and c[i, j] > 0, f"reason {feature} lowers the risk of {row.participant_id}"
            assert push <= previous  # largest push first
            previous = push
            assert c[i, j] == c[i, group_matrix[i] == group].max()
            value = X.loc[i, feature]
            value = int(value) if pd.notna(value) and float(value).is_integer() else value
            assert row[f"reason_{k}_en"] == variant_sentence(feature, int(variant[i, j]), value, "en")
            assert row[f"reason_{k}_vi"] == variant_sentence(feature, int(variant[i, j]), value, "vi")
            assert catalog[feature].shown_as_reason
            n_reasons += 1
        # no risk-raising group was left out in favour of a weaker one
        left_out = by_group.loc[i, [g for g in by_group.columns if g not in named]]
        assert len(named) == 4 or (left_out <= 0).all()
        if len(named) == 4:
            assert (left_out <= previous).all()
    assert n_reasons > len(scores)  # most people have several reasons


def test_run_writes_store_parquet_csv_and_one_workbook_per_district(tmp_path, model, scores):
    url = f"sqlite:///{tmp_path / 'scores.db'}"
    result = run_scoring(small_world(), AS_OF, WINDOW, model_ref(model), store_url=url, out_dir=tmp_path / "out",
                         chunk_size=10)
    run = result.run
    assert run.status == "finished" and run.n_scored == run.n_expected == len(scores)
    assert result.chunks_total == 4  # one per district: chunks never split a district
    stored = open_store(url).read_scores(run.run_id)
    pd.testing.assert_frame_equal(stored, scores)
    pd.testing.assert_frame_equal(pd.read_parquet(result.files["parquet"]), scores)
    assert len(pd.read_csv(result.files["csv"])) == len(scores)
    assert result.by_district["people"].sum() == len(scores)

    books = sorted(p.name for p in (result.out_dir / "excel").iterdir())
    assert books == sorted(f"{d}.xlsx" for d in scores["district"].unique())
    wb = load_workbook(result.out_dir / "excel" / "A Luoi.xlsx")
    communes = sorted(scores.loc[scores["district"] == "A Luoi", "commune"].unique())
    assert wb.sheetnames == communes
    ws = wb[communes[0]]
    headers = [c.value for c in ws[1]]
    assert headers == [header_for(c) for c in EXCEL_COLUMNS]
    assert "Nguy cơ bỏ đóng / Risk of lapse" in headers and "Lý do 1 / Reason 1" in headers
    risks = [r[EXCEL_COLUMNS.index("risk")] for r in ws.iter_rows(min_row=2, values_only=True)]
    expected = scores[(scores["district"] == "A Luoi") & (scores["commune"] == communes[0])]
    assert len(risks) == len(expected) and risks == sorted(risks, reverse=True)
    assert not list(tmp_path.rglob("*.tmp"))

    again = run_scoring(small_world(), AS_OF, WINDOW, model_ref(model), store_url=url, out_dir=tmp_path / "out",
                        chunk_size=10)
    assert again.run.run_id == run.run_id and again.chunks_resumed == 0  # a finished run is replaced
    assert len(open_store(url).read_scores(run.run_id)) == len(scores)


@pytest.mark.parametrize(
    "as_of, window, message",
    [
        ("2019-01-01", "30d", "before any data"),
        ("2026-02-01", "30d", "after the data's extraction date"),
        ("2025-10-14", "1d", "nobody's next installment falls due"),
        (AS_OF, "0d", "window of 0 days"),
    ],
)
def test_refused_jobs_say_why_and_write_nothing(tmp_path, model, as_of, window, message):
    with pytest.raises(ScoringInputError, match=message):
        run_scoring(small_world(), as_of, window, model_ref(model), store_url=f"sqlite:///{tmp_path / 's.db'}",
                    out_dir=tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_empty_window_is_its_own_error(model):
    with pytest.raises(EmptyWindowError):
        score_participants(small_world(), "2025-10-14", 1, model)


def test_unknown_model_alias_is_refused(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no registered model 'dropout-lapse' with alias 'nightly'"):
        resolve_model("nightly", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    with pytest.raises(ModelNotFoundError, match="no such model folder"):
        resolve_model(str(tmp_path / "missing" / "model"))


@pytest.mark.slow
def test_cli_scores_and_refuses_without_writing(tmp_path):
    data, model_dir = write_world(tmp_path)
    out, db = tmp_path / "out", tmp_path / "scores.db"
    runner = CliRunner()
    common = ["score", "--data", str(data), "--out", str(out), "--store", f"sqlite:///{db}", "--window", "30d"]
    for as_of, model in (("2019-01-01", str(model_dir)), ("2026-02-01", str(model_dir)),
                         ("2025-10-14", str(model_dir)), (AS_OF, "nightly")):
        args = [*common, "--as-of", as_of, "--model", model, "--tracking-uri", f"sqlite:///{tmp_path / 'ml.db'}"]
        if as_of == "2025-10-14":
            args[args.index("30d")] = "1d"
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "nothing was written" in result.output
        assert not out.exists() and not db.exists()
    result = runner.invoke(app, [*common, "--as-of", AS_OF, "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "people scored" in result.output and "high risk" in result.output and "excel" in result.output
    n = len(next_installment(small_world(), [AS_OF], WINDOW))
    assert f"{n:,} people scored" in result.output


@pytest.mark.postgres
def test_run_into_postgresql_equals_the_dataframe(tmp_path, model, scores):
    import uuid

    import sqlalchemy as sa

    from test_store import PG_URL, _postgres_or_skip

    _postgres_or_skip()
    schema = f"test_score_{uuid.uuid4().hex[:12]}"
    try:
        result = run_scoring(small_world(), AS_OF, WINDOW, model_ref(model), store_url=PG_URL, store_schema=schema,
                             out_dir=tmp_path / "out", excel=False,
                             chunk_size=10)
        assert result.run.status == "finished" and result.chunks_total == 4
        pd.testing.assert_frame_equal(open_store(PG_URL, schema=schema).read_scores(result.run.run_id), scores,
                                      check_exact=True)
    finally:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()
