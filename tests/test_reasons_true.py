"""Every reason shown to an officer is true of the person's records (a property test).

Random people (payment mode, enrolment, a habit per installment: early, on the last
day, late, unpaid) are built as raw tables; their features are built by the real code;
every feature gets a random contribution that pushes risk up, so every reason the
catalog allows can come out. Each shown sentence is then checked against the raw
installments, computed here from the records alone, not from the feature code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings, strategies as st

from dropout.features import build_features
from dropout.features.catalog import load_catalog, reason_sentence
from dropout.score.reasons import explain
from factories import TablesBuilder

AS_OF = pd.Timestamp("2025-06-30")
MODES = ["monthly", "quarterly", "semiannual", "annual"]
FIXED_TRAITS = {"age_years", "ethnic_minority", "travel_minutes", "days_to_next_deadline", "next_deadline_month",
                "village_participants"}

person = st.tuples(
    st.sampled_from(MODES),
    st.integers(min_value=1, max_value=40),  # months enrolled before as-of
    st.lists(st.sampled_from(["early", "last_day", "late", "unpaid"]), min_size=1, max_size=40),
)


def _world(people):
    b = TablesBuilder(extracted_on=str(AS_OF.date()))
    b.village("V1")
    pids = []
    for mode, months, habits in people:
        enrolled = (AS_OF.to_period("M") - months).to_timestamp()
        pid = b.participant(village_id="V1", enrolled_on=str(enrolled.date()), payment_mode=mode)

        def paid(i, due, habits=habits):
            h = habits[i % len(habits)]
            return {"early": due - pd.Timedelta(days=20), "last_day": due,
                    "late": due + pd.Timedelta(days=25), "unpaid": None}[h]

        b.schedule(pid, paid=paid)
        pids.append(pid)
    return b.build(), pids


def _window(inst: pd.DataFrame, months: int) -> pd.DataFrame:
    start = AS_OF - pd.DateOffset(months=months)
    return inst[(inst["due_on"] >= start) & (inst["due_on"] < AS_OF)]


def _check(feature: str, value, inst: pd.DataFrame, enrolled: pd.Timestamp, text: str) -> None:
    """The claim of one shown reason, checked on the person's raw installments."""
    paid_by_asof = inst["paid_on"].notna() & (inst["paid_on"] <= AS_OF)
    on_time = paid_by_asof & (inst["paid_on"] <= inst["due_on"])
    past_due = inst[inst["due_on"] < AS_OF]
    assert feature not in FIXED_TRAITS, text
    for months in (3, 6, 12):
        w = _window(inst, months)
        w_paid = w["paid_on"].notna() & (w["paid_on"] <= AS_OF)
        if feature == f"paid_on_time_{months}m":
            assert len(w) > 0 and not (w_paid & (w["paid_on"] <= w["due_on"])).any(), text
        if feature == f"missed_{months}m":
            assert (~w_paid).sum() == value > 0, text
        if feature == f"paid_late_{months}m":
            assert (w_paid & (w["paid_on"] > w["due_on"])).sum() == value > 0, text
    if feature == "behind_on_payments":
        last = past_due.sort_values("due_on").iloc[-1]
        assert pd.isna(last["paid_on"]) or last["paid_on"] > AS_OF, text
    if feature == "on_time_streak":  # shown as "did not pay the last installment on time" or "new member"
        if "new member" in text:
            assert not paid_by_asof.any(), text
        else:
            last = past_due.sort_values("due_on").iloc[-1]
            assert not (pd.notna(last["paid_on"]) and last["paid_on"] <= last["due_on"]), text
            assert paid_by_asof.any(), text
    if feature in ("arrears_installments", "lapses_last_4", "suspensions_total", "arrears_months"):
        assert value > 0 and (~paid_by_asof & (inst["due_on"] < AS_OF)).any() or feature in (
            "lapses_last_4", "suspensions_total"), text
    if "new member" in text:
        assert (AS_OF - enrolled).days < 366, text
    if feature == "tenure_months":
        assert "new member" in text and (AS_OF - enrolled).days < 366, text
    if feature in ("payment_days_total", "paid_months_total"):
        assert not paid_by_asof.any(), text
    if feature == "months_since_first_payment":
        firsts = inst.loc[paid_by_asof, "paid_on"]
        assert firsts.empty or (AS_OF - firsts.min()).days < 366, text
    if feature == "months_since_last_payment" and not np.isnan(value):
        covered = inst.loc[inst["due_on"] >= AS_OF, "months_covered"]
        period = int(covered.iloc[0]) if len(covered) else 1
        last = inst.loc[paid_by_asof, "paid_on"].max()
        assert (AS_OF - last).days > 28 * period, text
    if feature.startswith("mode_"):
        covered = {"mode_monthly": 1, "mode_quarterly": 3, "mode_semiannual": 6, "mode_annual": 12}
        started = inst[inst["period_start"] <= AS_OF].sort_values("period_start")
        if feature in covered:
            assert int(started.iloc[-1]["months_covered"]) == covered[feature], text
    if feature == "mean_days_late_12m":
        assert value > 0, text
    if feature == "payment_margin_days_12m":
        w = _window(inst, 12)
        w = w[w["paid_on"].notna() & (w["paid_on"] <= AS_OF)]
        assert len(w) and (w["due_on"] - w["paid_on"]).dt.days.mean() <= 5, text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(person, min_size=1, max_size=6), st.integers(min_value=0, max_value=2**31))
def test_every_shown_sentence_is_true_of_the_records(people, seed):
    tables, pids = _world(people)
    catalog = load_catalog()
    feats = build_features(tables, [AS_OF])
    if "participant_id" not in feats.columns:
        feats = feats.reset_index()
    names = [n for n in catalog.names() if n in feats.columns]
    values = feats[names].to_numpy(dtype=np.float64, na_value=np.nan)
    contrib = np.random.default_rng(seed).uniform(0.01, 1.0, values.shape)
    out = explain(contrib, values, names, lambda f, v, lang: reason_sentence(f, v, lang, catalog=catalog),
                  groups=catalog.reason_groups(names), groups_missing=catalog.reason_groups(names, missing=True))
    inst = tables.installments
    enrolled = tables.participants.set_index("participant_id")["enrolled_on"]
    for row, pid in enumerate(feats["participant_id"].to_numpy()):
        mine = inst[inst["participant_id"] == pid]
        for k in range(1, 5):
            feature = out.loc[row, f"reason_{k}_feature"]
            if pd.isna(feature):
                continue
            value = values[row, names.index(feature)]
            _check(str(feature), value, mine, enrolled[pid], str(out.loc[row, f"reason_{k}_en"]))
            assert "nan" not in str(out.loc[row, f"reason_{k}_vi"]).lower()


def test_good_behaviour_is_never_a_reason():
    """A member who always paid early: whatever the model says, no reason praises them as a risk."""
    people = [("monthly", 30, ["early"]), ("quarterly", 30, ["early"]), ("annual", 30, ["early"])]
    tables, _ = _world(people)
    catalog = load_catalog()
    feats = build_features(tables, [AS_OF])
    names = [n for n in catalog.names() if n in feats.columns]
    values = feats[names].to_numpy(dtype=np.float64, na_value=np.nan)
    out = explain(np.ones(values.shape), values, names,
                  lambda f, v, lang: reason_sentence(f, v, lang, catalog=catalog),
                  groups=catalog.reason_groups(names), groups_missing=catalog.reason_groups(names, missing=True))
    shown = {str(out.loc[r, f"reason_{k}_en"]) for r in range(len(out)) for k in range(1, 5)}
    praise = [s for s in shown if "on time" in s and "no " not in s.lower() and "not " not in s.lower()]
    assert not praise, praise
    assert not any("paid 0" in s.lower() for s in shown)


def test_fixed_traits_are_never_reasons_even_when_they_drive_the_risk():
    catalog = load_catalog()
    names = catalog.names()
    values = np.ones((3, len(names)))
    contrib = np.zeros((3, len(names)))
    for j, n in enumerate(names):
        if n in FIXED_TRAITS:
            contrib[:, j] = 5.0
    out = explain(contrib, values, names, lambda f, v, lang: reason_sentence(f, v, lang, catalog=catalog))
    assert out[[f"reason_{k}_feature" for k in range(1, 5)]].isna().all().all()
    assert all(not catalog[n].shown_as_reason for n in FIXED_TRAITS)


def test_a_new_member_gets_their_own_reason_and_action():
    tables, _ = _world([("monthly", 2, ["unpaid"])])
    catalog = load_catalog()
    feats = build_features(tables, [AS_OF])
    names = [n for n in catalog.names() if n in feats.columns]
    values = feats[names].to_numpy(dtype=np.float64, na_value=np.nan)
    contrib = np.zeros(values.shape)
    contrib[:, names.index("on_time_streak")] = 1.0
    out = explain(contrib, values, names, lambda f, v, lang: reason_sentence(f, v, lang, catalog=catalog),
                  groups=catalog.reason_groups(names), groups_missing=catalog.reason_groups(names, missing=True))
    assert "new member" in out.loc[0, "reason_1_en"]
    assert out.loc[0, "action_en"] == catalog.action("new_member", "en")
    assert out.loc[0, "action_vi"].startswith("Chào đón")
