"""Closing the loop: visits recorded on the web pages reach the next feature build and scoring run.

A visit is recorded with the web pages' own library (`dropout.store.visits.record_visit`)
into a store, merged into a small hand-made world (`dropout.recorded_visits`) and seen by
the outreach features from its day on, never before; a bad recorded row refuses the merge.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from factories import TablesBuilder, features_of
from typer.testing import CliRunner

from dropout.cli import app
from dropout.io import write_tables
from dropout.recorded_visits import (
    RecordedVisitsError,
    merge_recorded_visits,
    store_recorded_visits,
    with_recorded_visits,
)
from dropout.schema import tables_fingerprint as data_fingerprint
from dropout.store.visits import WEB_VISIT_ID_OFFSET, NewVisit, record_visit, recorded_visits

OUTREACH = ["outreach"]


def world():
    """Two people in V1 (main language Ta Oi), one in V2; one export home visit on 2025-02-01."""
    b = TablesBuilder(extracted_on="2025-06-30")
    b.village("V1", ethnic_language="Ta Oi")
    b.village("V2", ethnic_language="Pa Ko")
    first = b.participant(village_id="V1", enrolled_on="2024-01-01")
    mate = b.participant(village_id="V1", enrolled_on="2024-01-01")
    other = b.participant(village_id="V2", enrolled_on="2024-01-01")
    for pid in (first, mate, other):
        b.schedule(pid)
    b.visit("2025-02-01", participant_id=first)
    return b.build(), first, mate, other


def a_visit(pid, visited_on="2025-04-10", village_id="V1", kind="home_visit", language="Ta Oi") -> NewVisit:
    return NewVisit(participant_id=pid, village_id=village_id, district="A Luoi",
                    visited_on=date.fromisoformat(visited_on), kind=kind, language=language,
                    outcome_note="hẹn đóng sau thu hoạch", recorded_by="lan")


@pytest.fixture()
def store(tmp_path) -> str:
    return f"sqlite:///{tmp_path}/store.db"


def test_a_recorded_visit_counts_from_its_day_and_not_before(store):
    tables, pid, mate, _ = world()
    record_visit(store, a_visit(pid))
    merged = with_recorded_visits(tables, recorded_visits(store))
    assert len(merged.visits) == 2 and merged.visits["visit_id"].iloc[1] == WEB_VISIT_ID_OFFSET + 1
    assert tables.visits.equals(world()[0].visits)  # the raw table is not modified
    for as_of in ("2025-03-01", "2025-04-09"):  # before the visit: every feature is unchanged
        assert features_of(merged, as_of, pid).equals(features_of(tables, as_of, pid)), as_of
    before, after = features_of(tables, "2025-05-01", pid, OUTREACH), features_of(merged, "2025-05-01", pid, OUTREACH)
    assert (before["days_since_home_visit"], after["days_since_home_visit"]) == (89, 21)
    assert (before["home_visits_12m"], after["home_visits_12m"]) == (1, 2)
    assert (before["visits_own_language_12m"], after["visits_own_language_12m"]) == (1, 2)
    assert features_of(merged, "2025-04-10", pid, OUTREACH)["days_since_home_visit"] == 0  # counts on its day
    # a home visit is the person's own: the village mate is untouched
    assert features_of(merged, "2025-05-01", mate).equals(features_of(tables, "2025-05-01", mate))


def test_an_evening_session_reaches_the_whole_village(store):
    tables, pid, mate, other = world()
    record_visit(store, a_visit(None, "2025-06-01", kind="evening_session"))
    merged = with_recorded_visits(tables, recorded_visits(store))
    for p in (pid, mate):
        row = features_of(merged, "2025-06-11", p, OUTREACH)
        assert row["days_since_evening_session"] == 10 and row["evening_sessions_12m"] == 1
    assert features_of(merged, "2025-06-11", other).equals(features_of(tables, "2025-06-11", other))


def test_duplicates_other_data_later_days_and_clashing_ids(store):
    tables, pid, _, _ = world()
    record_visit(store, a_visit(pid, "2025-02-01"))  # the export's own visit, typed in again
    record_visit(store, a_visit(pid))
    record_visit(store, a_visit(pid))  # the form sent twice
    record_visit(store, a_visit(None, "2025-03-01", village_id="V9", kind="evening_session"))  # another export
    record_visit(store, a_visit(9_999_999_999))  # a person of another export
    record_visit(store, a_visit(pid, "2025-07-15"))  # after the extraction: the next export's
    recorded = recorded_visits(store)
    # an export that already uses the id of the second recorded visit
    clash = tables.replace(visits=tables.visits.assign(visit_id=WEB_VISIT_ID_OFFSET + 2))
    result = merge_recorded_visits(clash, recorded)
    assert (result.recorded, result.added, result.duplicates, result.other_data, result.after_extraction) == \
        (6, 1, 2, 2, 1)
    ids = result.tables.visits["visit_id"].tolist()
    assert ids == [WEB_VISIT_ID_OFFSET + 2, WEB_VISIT_ID_OFFSET + 3]  # renumbered above the largest id
    assert result.tables.visits.dtypes.equals(tables.visits.dtypes)
    assert "1 of 6 merged" in result.summary()
    again = with_recorded_visits(result.tables, recorded)  # merging twice adds nothing
    assert again is result.tables


def test_nothing_to_merge_keeps_the_tables_and_the_fingerprint_changes_only_with_a_visit(store):
    tables, pid, _, _ = world()
    assert with_recorded_visits(tables, recorded_visits(store)) is tables  # the web table, still empty
    record_visit(store, a_visit(pid))
    merged = with_recorded_visits(tables, recorded_visits(store))
    assert data_fingerprint(merged) != data_fingerprint(tables)  # a scoring run's id follows the data


def test_a_bad_recorded_row_is_refused_naming_the_column_and_nothing_is_merged(store):
    tables, pid, _, _ = world()
    record_visit(store, a_visit(pid))
    from dropout.store.engine import engine_for
    from dropout.store.tables import visits

    with engine_for(store).begin() as conn:  # as an older page or a hand edit of the store could leave it
        conn.execute(visits.insert().values(participant_id=pid, village_id="V1", district="A Luoi",
                                            visited_on=date(2025, 4, 12), kind="phone_call", language="Ta Oi",
                                            recorded_by="lan", recorded_at=pd.Timestamp.now(tz="UTC")))
    recorded = store_recorded_visits(store)
    with pytest.raises(RecordedVisitsError) as err:
        with_recorded_visits(tables, recorded)
    message = str(err.value)
    assert "recorded visits" in message and "visits.kind" in message
    assert f"visit_id {WEB_VISIT_ID_OFFSET + 2}: 'phone_call'" in message  # the row named as the store knows it
    assert [p["column"] for p in err.value.problems] == ["kind"]
    assert len(tables.visits) == 1
    # a missing required value and a home visit without a person are refused the same way
    for column, value in (("language", ""), ("participant_id", pd.NA)):
        bad = recorded.iloc[[0]].reset_index(drop=True)
        bad.loc[0, column] = value
        with pytest.raises(RecordedVisitsError) as err:
            merge_recorded_visits(tables, bad)
        assert [p["column"] for p in err.value.problems] == [column]
        assert f"visits.{column}" in str(err.value)


def test_cli_features_picks_up_the_recorded_visit(tmp_path, store):
    tables, pid, _, _ = world()
    data = write_tables(tables, tmp_path / "data")
    runner = CliRunner()

    def features(*extra):
        out = tmp_path / f"features{len(list(tmp_path.glob('features*.parquet')))}.parquet"
        result = runner.invoke(app, ["features", "--data", str(data), "--as-of", "2025-04-01", "--as-of",
                                     "2025-05-01", "--out", str(out), "--family", "outreach", "--quiet", *extra])
        return result, out

    def days_since(out):
        df = pd.read_parquet(out)
        return df.loc[df["participant_id"] == pid].set_index("as_of")["days_since_home_visit"].tolist()

    # no store yet: nothing is looked up by default, nothing is created; asked for, it is an error
    result, out = features("--store", store)
    assert result.exit_code == 0, result.output
    assert days_since(out) == [59, 89] and not (tmp_path / "store.db").exists()
    result, out = features("--store", store, "--recorded-visits")
    assert result.exit_code == 2 and "no visits table" in result.output and not out.exists()

    record_visit(store, a_visit(pid))
    result, out = features("--store", store)
    assert result.exit_code == 0, result.output
    assert "recorded visits: 1 of 1 merged" in result.output
    assert days_since(out) == [59, 21]  # before the visit unchanged, after it counted
    result, out = features("--store", store, "--no-recorded-visits")
    assert result.exit_code == 0 and days_since(out) == [59, 89]

    with sa.create_engine(store).begin() as conn:
        conn.execute(sa.text("UPDATE visits SET language = '' WHERE id = 1"))
    result, out = features("--store", store)
    assert result.exit_code == 1, result.output
    assert "visits.language" in result.output and "nothing was written" in result.output
    assert not out.exists()


@pytest.mark.slow
def test_cli_score_merges_the_recorded_visits_into_a_new_run(tmp_path):
    """The scoring run's data fingerprint, and so its run id, change with a recorded visit."""
    from test_score_world import AS_OF, small_world, write_world

    data, model_dir = write_world(tmp_path)
    store = f"sqlite:///{tmp_path}/scores.db"
    args = ["score", "--data", str(data), "--out", str(tmp_path / "out"), "--store", store, "--window", "30d",
            "--as-of", AS_OF, "--model", str(model_dir), "--no-excel"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    from dropout.schema import validate_tables

    tables = validate_tables(small_world())  # as read from the folder: the optional columns filled in
    pid = int(tables.participants["participant_id"].iloc[0])
    village = tables.participants["village_id"].iloc[0]
    record_visit(store, a_visit(pid, "2025-09-15", village_id=village))
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "recorded visits: 1 of 1 merged" in second.output
    same = runner.invoke(app, [*args, "--no-recorded-visits"])
    assert same.exit_code == 0, same.output
    with sa.create_engine(store).connect() as conn:
        runs = conn.execute(sa.text("SELECT run_id, data_fingerprint FROM runs ORDER BY started_at")).all()
    assert len(runs) == 2 and runs[0][1] != runs[1][1]  # the third run replaced the first: same data, same id
    expected = with_recorded_visits(tables, recorded_visits(store))
    assert {r[1] for r in runs} == {data_fingerprint(tables), data_fingerprint(expected)}
