"""Nothing after as_of may move a feature at as_of (hypothesis property tests).

For a random small world and a random as-of date, every raw row dated after as_of is
altered or appended (payments received after as_of, future schedule rows, poverty spells
starting after, disasters, visits, withdrawals, enrolments after as_of); the features at
that as_of must not change at all. Rows dated on or before as_of are left untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import random_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dropout.features import build_features
from dropout.labels import build_labels

KINDS = ("payments", "schedule", "poverty", "disasters", "visits", "withdrawals", "enrolments")
_WORLDS: dict[int, object] = {}


def world(seed: int):
    if seed not in _WORLDS:
        _WORLDS[seed] = random_tables(seed, 30)
    return _WORLDS[seed]


def later_day(rng, t: pd.Timestamp, ext: pd.Timestamp) -> pd.Timestamp | None:
    """A random day in (t, ext], or None when there is none."""
    if t >= ext:
        return None
    if rng.uniform() < 0.3:  # the day right after as_of is where an off-by-one leaks
        return t + pd.Timedelta(days=1)
    return t + pd.Timedelta(days=int(rng.integers(1, (ext - t).days + 1)))


def perturb(tables, t: pd.Timestamp, kinds: set[str], rng: np.random.Generator):
    """A copy of `tables` with rows dated after `t` altered and appended (by kind)."""
    ext = tables.extracted_on
    changes = {}
    inst = tables.installments.copy()
    if "payments" in kinds:
        after = inst["paid_on"].isna() | (inst["paid_on"] > t)
        enrolled = inst["participant_id"].map(tables.participants.set_index("participant_id")["enrolled_on"])
        for i in np.flatnonzero(after.to_numpy()):
            if rng.uniform() < 0.5:
                new = later_day(rng, max(t, enrolled.iloc[i]), ext) if rng.uniform() < 0.7 else None
                inst.loc[inst.index[i], "paid_on"] = new
                inst.loc[inst.index[i], "amount_paid"] = pd.NA if new is None else int(rng.integers(0, 10**6))
    if "schedule" in kinds:
        # Rows beyond a participant's schedule, for those who already have an installment
        # due after t that is unpaid at t (so the next installment is unchanged).
        open_next = inst[(inst["due_on"] > t) & (inst["paid_on"].isna() | (inst["paid_on"] > t))]
        extra = []
        for pid in open_next["participant_id"].unique()[:5]:
            last = inst.loc[inst["participant_id"] == pid, "period_start"].max()
            start = (last + pd.DateOffset(years=1)).normalize()
            paid = (later_day(rng, t, ext) if rng.uniform() < 0.5 else None) or pd.NaT
            extra.append(dict(participant_id=pid, period_start=start, due_on=start + pd.Timedelta(days=40),
                              months_covered=1, income_base=1_500_000, amount_due=int(rng.integers(0, 10**7)),
                              paid_on=paid, amount_paid=pd.NA if pd.isna(paid) else 1))
        if extra:
            inst = pd.concat([inst, pd.DataFrame(extra).astype(inst.dtypes.to_dict())], ignore_index=True)
    changes["installments"] = inst

    if "poverty" in kinds and t < ext:
        pov = tables.poverty.copy()
        future = pov["valid_from"] > t
        pov.loc[future, "status"] = rng.choice(["poor", "near_poor", "none"], size=int(future.sum()))
        pov = pov[~(future & (rng.uniform(size=len(pov)) < 0.3))]
        # End a spell in force at t on a later day and start a new status the day after.
        in_force = pov[(pov["valid_from"] <= t) & (pov["valid_to"].isna() | (pov["valid_to"] >= t))]
        in_force = in_force[~in_force["household_id"].isin(pov.loc[pov["valid_from"] > t, "household_id"])]
        new_spells = []
        for i in in_force.index[:3]:
            start = later_day(rng, t, ext)
            if start is None:
                break
            pov.loc[i, "valid_to"] = start - pd.Timedelta(days=1)
            new_spells.append(dict(household_id=pov.loc[i, "household_id"],
                                   status=str(rng.choice(["poor", "near_poor", "none"])),
                                   valid_from=start, valid_to=pd.NaT))
        if new_spells:
            pov = pd.concat([pov, pd.DataFrame(new_spells).astype(pov.dtypes.to_dict())], ignore_index=True)
        changes["poverty"] = pov

    if "disasters" in kinds and t < ext:
        d = tables.disasters.copy()
        future = d["started_on"] > t
        d.loc[future, "severity"] = rng.integers(1, 4, size=int(future.sum()))
        communes = list(tables.villages["commune"].unique()[:3])
        communes += communes[:1] * (3 - len(communes))
        new = pd.DataFrame(dict(commune=communes,
                                started_on=[later_day(rng, t, ext) for _ in range(3)],
                                kind=["storm", "flood", "landslide"], severity=[3, 2, 3])).astype(d.dtypes.to_dict())
        changes["disasters"] = pd.concat([d, new], ignore_index=True)

    if "visits" in kinds and t < ext:
        v = tables.visits.copy()
        future = v["visited_on"] > t
        v.loc[future, "language"] = "Ta Oi"
        people = tables.participants
        pids = people.loc[people["enrolled_on"] <= t, "participant_id"].to_numpy()
        if len(pids) < 2:
            pids = people["participant_id"].to_numpy()
        new = pd.DataFrame(dict(
            visit_id=[10_000, 10_001, 10_002], participant_id=pd.array([int(pids[0]), int(pids[1]), None], "Int64"),
            village_id=people.set_index("participant_id").loc[pids[:2], "village_id"].tolist()
            + [tables.villages["village_id"].iloc[0]],
            visited_on=[later_day(rng, t, ext) for _ in range(3)],
            kind=["home_visit", "home_visit", "evening_session"], language=["Ta Oi"] * 3,
            outcome_note=[None] * 3)).astype(v.dtypes.to_dict())
        changes["visits"] = pd.concat([v, new], ignore_index=True)

    if "withdrawals" in kinds and t < ext:
        w = tables.withdrawals.copy()
        future = w["claimed_on"] > t
        w.loc[future, "claimed_on"] = [later_day(rng, t, ext) for _ in range(int(future.sum()))]
        p = tables.participants
        free = p[~p["participant_id"].isin(w["participant_id"])]
        new = free.head(3)
        new_claims = pd.DataFrame(dict(participant_id=new["participant_id"].to_numpy(),
                                       claimed_on=[later_day(rng, max(t, e), ext) or pd.NaT
                                                   for e in new["enrolled_on"]]))
        new_claims = new_claims[new_claims["claimed_on"].notna()].astype(w.dtypes.to_dict())
        changes["withdrawals"] = pd.concat([w, new_claims], ignore_index=True)

    if "enrolments" in kinds and t < ext:
        p = tables.participants
        newcomer = p.iloc[[0]].copy()
        newcomer["participant_id"] = p["participant_id"].max() + 1
        newcomer["enrolled_on"] = later_day(rng, t, ext)
        changes["participants"] = pd.concat([p, newcomer], ignore_index=True)
        start = newcomer["enrolled_on"].iloc[0].to_period("M").to_timestamp()
        rows = pd.DataFrame(dict(participant_id=newcomer["participant_id"].to_numpy(), period_start=[start],
                                 due_on=[start + pd.offsets.MonthEnd(0)], months_covered=[1],
                                 income_base=[1_500_000], amount_due=[330_000], paid_on=[pd.NaT],
                                 amount_paid=pd.array([None], "Int64")))
        changes["installments"] = pd.concat([changes["installments"], rows.astype(inst.dtypes.to_dict())],
                                            ignore_index=True)
    return tables.replace(**changes)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 5),
    day=st.integers(0, (pd.Timestamp("2025-12-31") - pd.Timestamp("2021-06-01")).days),
    kinds=st.sets(st.sampled_from(KINDS), min_size=1),
    noise=st.integers(0, 2**32 - 1),
)
def test_rows_after_as_of_do_not_move_features(seed, day, kinds, noise):
    tables = world(seed)
    t = pd.Timestamp("2021-06-01") + pd.Timedelta(days=day)
    before = build_features(tables, [t])
    after = build_features(perturb(tables, t, kinds, np.random.default_rng(noise)), [t])
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 5), noise=st.integers(0, 2**32 - 1))
def test_perturbations_do_change_later_features(seed, noise):
    """The leak test has teeth: the same changes do move features at the extraction date."""
    tables = world(seed)
    t = pd.Timestamp("2024-06-30")
    changed = perturb(tables, t, set(KINDS), np.random.default_rng(noise))
    assert not build_features(tables, [tables.extracted_on]).equals(build_features(changed, [tables.extracted_on]))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 5), horizon=st.sampled_from([30, 90, 180]))
def test_label_installment_is_strictly_after_as_of(seed, horizon):
    tables = world(seed)
    dates = pd.date_range("2021-06-01", "2025-12-01", freq="MS")
    labels = build_labels(tables, dates, "lapse", horizon_days=horizon)
    assert len(labels) > 0
    assert (labels["label_due_on"] > labels["as_of"]).all()
    assert (labels["label_due_on"] <= labels["as_of"] + pd.Timedelta(days=horizon)).all()
    assert (labels["label_due_on"] <= tables.extracted_on).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_row_order_of_raw_tables_does_not_matter(seed):
    tables = world(seed)
    rng = np.random.default_rng(seed)
    shuffled = tables.replace(**{
        name: df.sample(frac=1.0, random_state=int(rng.integers(0, 10**6))).reset_index(drop=True)
        for name, df in tables.as_dict().items()
    })
    dates = ["2023-01-01", "2025-06-15"]
    pd.testing.assert_frame_equal(build_features(tables, dates), build_features(shuffled, dates))


@pytest.mark.slow
def test_no_leak_on_a_simulated_district():
    """The same check on the simulator's data (its schedules, poverty reviews, seasons)."""
    from dropout.simulate import simulate

    tables = simulate("a-luoi", participants=300, seed=7).tables
    rng = np.random.default_rng(7)
    for t in [pd.Timestamp("2023-03-01"), pd.Timestamp("2024-10-15"),
              tables.extracted_on - pd.DateOffset(months=2)]:
        t = t.normalize()
        if t >= tables.extracted_on:
            continue
        before = build_features(tables, [t])
        after = build_features(perturb(tables, t, set(KINDS), rng), [t])
        pd.testing.assert_frame_equal(before, after)
