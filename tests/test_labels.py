"""Labels on the whole cohort (members in arrears included): lapse, no_payment and withdrawal outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import TablesBuilder, random_tables

from dropout.features import feature_names
from dropout.timeline import InvalidAsOfError
from dropout.labels import build_labels, build_training_frame
from dropout.schedule import next_installment


@pytest.fixture(scope="module")
def world():
    b = TablesBuilder(extracted_on="2025-12-20")
    ids = {}
    ids["clean"] = b.participant(enrolled_on="2025-01-10")
    b.schedule(ids["clean"])  # 10 days before every deadline
    ids["late"] = b.participant(enrolled_on="2025-01-10")
    b.schedule(ids["late"], paid=lambda i, due: due + pd.Timedelta(days=5) if i == 6 else due)  # July 5 days late
    ids["arrears"] = b.participant(enrolled_on="2025-01-10")
    b.schedule(ids["arrears"], paid=lambda i, due: None if i == 2 else due)  # March never paid
    ids["early"] = b.participant(enrolled_on="2025-01-10")
    b.schedule(ids["early"], paid=lambda i, due: "2025-06-25" if i == 6 else due)  # July paid in June
    ids["annual"] = b.participant(enrolled_on="2025-03-01", payment_mode="annual")
    b.schedule(ids["annual"], paid=lambda i, due: "2025-03-05")  # due 2025-09-30 paid early
    ids["later"] = b.participant(enrolled_on="2025-08-01")
    b.schedule(ids["later"])
    ids["gone"] = b.participant(enrolled_on="2023-01-01")
    b.schedule(ids["gone"], paid=lambda i, due: due if i < 3 else None, until="2024-12-01")
    b.withdrawal(ids["gone"], "2024-10-15")
    return b.build(), ids


def by_pid(df):
    return df.set_index("participant_id")


def test_next_installment_of_the_cohort(world):
    tables, ids = world
    nxt = by_pid(next_installment(tables, ["2025-07-01"], horizon_days=90))
    # annual: next deadline beyond 90 days; later: not enrolled; gone: withdrawn.
    # arrears (March never paid) is in: an officer can still bring them back.
    assert set(nxt.index) == {ids["clean"], ids["late"], ids["early"], ids["arrears"]}
    assert nxt.loc[ids["arrears"], "due_on"] == pd.Timestamp("2025-07-31")
    assert nxt.loc[ids["clean"], "due_on"] == pd.Timestamp("2025-07-31")
    assert nxt.loc[ids["clean"], "period_start"] == pd.Timestamp("2025-07-01")
    assert nxt.loc[ids["early"], "due_on"] == pd.Timestamp("2025-08-31")  # July already paid
    row = nxt.loc[ids["clean"]]
    assert (row["months_covered"], row["amount_due"], row["income_base"]) == (1, 330_000, 1_500_000)
    assert list(next_installment(tables, ["2025-07-01"]).columns) == [
        "participant_id", "as_of", "period_start", "due_on", "months_covered", "amount_due", "income_base"]


def test_lapse_labels(world):
    tables, ids = world
    lab = by_pid(build_labels(tables, ["2025-07-01"], "lapse"))
    assert lab.loc[ids["clean"], "label"] == 0
    assert lab.loc[ids["late"], "label"] == 1
    assert lab.loc[ids["late"], "label_due_on"] == pd.Timestamp("2025-07-31")
    assert lab.loc[ids["arrears"], "label"] == 0  # in arrears since March, paid July's by its deadline
    assert ids["annual"] not in lab.index  # next deadline 2026-09-30, beyond the horizon
    assert ids["later"] not in lab.index  # not enrolled yet
    assert lab["label"].dtype == np.int8
    wide = by_pid(build_labels(tables, ["2025-07-01"], "lapse", horizon_days=500))
    assert ids["annual"] not in wide.index  # due 2026-09-30 is after the extraction: unobservable


def test_unobservable_deadlines_are_left_out(world):
    tables, ids = world
    lab = build_labels(tables, ["2025-12-10"], "lapse")  # next deadlines 2025-12-31 > extraction 12-20
    assert lab.empty
    assert len(next_installment(tables, ["2025-12-10"])) > 0  # scoring still sees them


def test_withdraw_12m_labels():
    b = TablesBuilder(extracted_on="2025-12-31")
    stays = b.participant(enrolled_on="2022-01-01")
    b.schedule(stays)
    leaves = b.participant(enrolled_on="2022-01-01")
    b.schedule(leaves, paid=lambda i, due: due if i < 6 else None, until="2025-03-01")
    b.withdrawal(leaves, "2025-03-01")
    tables = b.build()
    lab = build_labels(tables, ["2024-01-01", "2024-06-01", "2025-01-01"], "withdraw_12m")
    got = {(r.participant_id, r.as_of.date().isoformat()): r.label for r in lab.itertuples()}
    assert got == {(stays, "2024-01-01"): 0, (leaves, "2024-01-01"): 0,  # claim 2025-03-01 > +365 days
                   (stays, "2024-06-01"): 0, (leaves, "2024-06-01"): 1}
    assert lab["label_due_on"].isna().all()


def test_training_frame_columns_and_join():
    tables = random_tables(3, 30)
    dates = pd.date_range("2023-01-01", "2025-09-01", freq="MS")
    frame = build_training_frame(tables, dates)
    assert list(frame.columns) == ["participant_id", "as_of", *feature_names(), "label", "label_period_start",
                                   "label_due_on"]
    labels = build_labels(tables, dates)
    assert len(frame) == len(labels) > 0
    assert not frame.duplicated(["participant_id", "as_of"]).any()
    # The label agrees with the raw ledger: not paid by due_on.
    inst = tables.installments.rename(columns={"period_start": "label_period_start"})
    joined = frame.merge(inst, on=["participant_id", "label_period_start"], how="left", validate="many_to_one")
    lapsed = joined["paid_on"].isna() | (joined["paid_on"] > joined["due_on"])
    assert (joined["label"] == lapsed.astype(np.int8)).all()
    assert (joined["due_on"] == joined["label_due_on"]).all()
    # Members in arrears are in the population: their next installment is labelled too.
    assert (frame["arrears_installments"] > 0).any()


def test_no_payment_labels():
    """Stops paying: no payment of any kind in (as_of, as_of + horizon], among members who owe something."""
    b = TablesBuilder(extracted_on="2025-12-31")
    pays = b.participant(enrolled_on="2025-01-10")
    b.schedule(pays)  # monthly, 10 days before each deadline
    stops = b.participant(enrolled_on="2025-01-10")
    b.schedule(stops, paid=lambda i, due: due if i < 4 else None)  # pays January-April, then nothing
    makes_up = b.participant(enrolled_on="2025-01-10")
    # misses March-May, pays them all on 2025-06-20 with June's installment (a make-up)
    b.schedule(makes_up, paid=lambda i, due: "2025-06-20" if 2 <= i <= 5 else due)
    prepaid = b.participant(enrolled_on="2025-01-10", payment_mode="annual")
    b.schedule(prepaid, paid=lambda i, due: "2025-01-15")  # next deadline 2026-07-31: owes nothing soon
    tables = b.build()
    lab = by_pid(build_labels(tables, ["2025-05-01"], "no_payment", horizon_days=30))
    assert lab.loc[pays, "label"] == 0
    assert lab.loc[stops, "label"] == 1  # April's was paid on 04-30, before the window (05-01, 05-31]
    assert lab.loc[makes_up, "label"] == 1  # nothing paid in May
    assert prepaid not in lab.index  # owes nothing within the horizon
    lab = by_pid(build_labels(tables, ["2025-06-01"], "no_payment", horizon_days=30))
    assert lab.loc[makes_up, "label"] == 0  # the make-up on 06-20 is a payment
    assert lab.loc[stops, "label"] == 1
    assert lab["label_due_on"].isna().all()
    # unobservable: as_of + horizon after the extraction date
    assert build_labels(tables, ["2025-12-15"], "no_payment", horizon_days=30).empty


def test_bad_arguments_are_refused(world):
    tables, _ = world
    with pytest.raises(ValueError, match="target"):
        build_labels(tables, ["2025-01-01"], target="churn")
    with pytest.raises(ValueError, match="horizon_days"):
        build_labels(tables, ["2025-01-01"], horizon_days=0)
    with pytest.raises(InvalidAsOfError, match="after the extraction date"):
        build_labels(tables, ["2026-01-01"])
