"""Monitoring: PSI, distance and the CBPE estimator on hand-computed cases; outcomes point
in time; backfill idempotent; exports cut at a day; alerts respect watch-only features."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from dropout.monitor.alerts import drifted_features, run_alerts
from dropout.monitor.config import load_monitor_config
from dropout.monitor.drift import bin_edges, bin_shares, column_drift, describe, psi, wasserstein
from dropout.monitor.estimate import estimate_performance, expected_auc
from dropout.monitor.outcomes import outcomes_for
from factories import TablesBuilder

# ---------------------------------------------------------------- drift


def test_psi_hand_computed():
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5)
    expected = 0.25 * math.log(2) + 0.25 * math.log(1.5)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected, rel=1e-12)
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0
    # an empty bin is floored, not infinite
    assert np.isfinite(psi([0.5, 0.5], [0.0, 1.0]))
    with pytest.raises(ValueError, match="bins"):
        psi([0.5, 0.5], [1.0])


def test_bins_and_shares_with_missing_values():
    assert bin_edges([0, 0, 1, 1, 1]) == [0.5]  # few distinct values: one bin each
    shares = bin_shares([0, 1, 1, np.nan], [0.5])
    assert shares.tolist() == [0.25, 0.5, 0.25]  # below, above, missing
    edges = bin_edges(np.arange(100), n_bins=4)
    assert len(edges) == 3
    assert bin_shares(np.arange(100), edges)[:4] == pytest.approx([0.25] * 4, abs=0.01)


def test_wasserstein_of_a_shift_is_the_shift_in_standard_deviations():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 5000)
    ref = describe(x)
    assert wasserstein(ref["quantiles"], x, ref["std"]) == pytest.approx(0, abs=1e-9)
    assert wasserstein(ref["quantiles"], x + 1.0, ref["std"]) == pytest.approx(1.0 / ref["std"], rel=1e-6)
    d = column_drift(ref, x + 1.0)
    assert d["psi"] > 0.1 and d["mean"] == pytest.approx(x.mean() + 1)


# ---------------------------------------------------------------- the estimator


def test_expected_auc_hand_computed():
    # Outcomes (y1, y2) for p = (0.2, 0.8): (0, 1) w.p. 0.64 gives AUC 1, (1, 0) w.p. 0.04
    # gives 0; the other two have no pair. E[AUC | a pair] = 0.64 / 0.68.
    assert expected_auc([0.2, 0.8]) == pytest.approx(0.64 / 0.68)
    assert expected_auc([0.3, 0.3, 0.3]) == pytest.approx(0.5)  # all tied: no ranking
    assert expected_auc([0.5]) != expected_auc([0.5])  # nan for fewer than two people


def test_estimate_performance_expectations_and_intervals():
    p = np.array([0.1] * 50 + [0.5] * 30 + [0.9] * 20)
    est = estimate_performance(p, capacity=20, n_sims=2000, seed=1)
    assert est["lapses"].value == pytest.approx(p.sum())  # 5 + 15 + 18 = 38
    assert est["lapse_rate"].value == pytest.approx(0.38)
    assert est["brier"].value == pytest.approx(np.mean(p * (1 - p)))
    assert est["precision_at_capacity"].value == pytest.approx(0.9)  # the 20 highest risks
    assert est["recall_at_capacity"].value == pytest.approx(18 / 38)
    for name, e in est.items():
        assert e.low <= e.value <= e.high, name
    # the lapse count's interval is about +-1.645 sd of a sum of Bernoullis
    sd = math.sqrt(np.sum(p * (1 - p)))
    assert est["lapses"].high - est["lapses"].low == pytest.approx(2 * 1.645 * sd, rel=0.15)
    # the closed-form AUC agrees with the simulated draws
    assert est["auc"].value == pytest.approx((est["auc"].low + est["auc"].high) / 2, abs=0.02)


def test_estimate_refuses_what_is_not_a_probability():
    with pytest.raises(ValueError, match="probabilities"):
        estimate_performance([0.2, 1.5])
    with pytest.raises(ValueError, match="non-empty"):
        estimate_performance([])


# ---------------------------------------------------------------- outcomes


def _outcome_tables(extracted_on: str):
    b = TablesBuilder(extracted_on=extracted_on)
    on_time = b.participant(enrolled_on="2024-01-01")
    late = b.participant(enrolled_on="2024-01-01")
    unpaid = b.participant(enrolled_on="2024-01-01")
    later = b.participant(enrolled_on="2024-01-01")
    b.installment(on_time, "2024-03-01", paid_on="2024-03-20")
    b.installment(late, "2024-03-01", paid_on="2024-04-05")
    b.installment(unpaid, "2024-03-01")
    b.installment(later, "2024-04-01", paid_on="2024-04-10")
    scored = pd.DataFrame({"participant_id": [on_time, late, unpaid, later],
                           "due_on": pd.to_datetime(["2024-03-31"] * 3 + ["2024-04-30"])})
    return b.build(), scored, (on_time, late, unpaid, later)


def test_outcomes_count_only_once_the_deadline_has_passed():
    tables, scored, (on_time, late, unpaid, later) = _outcome_tables("2024-04-15")
    out = outcomes_for(scored, tables).set_index("participant_id")
    assert set(out.index) == {on_time, late, unpaid}  # `later` falls due on 04-30: not yet known
    assert out.loc[on_time, "lapsed"] == 0
    assert out.loc[late, "lapsed"] == 1 and out.loc[late, "paid_on"] == pd.Timestamp("2024-04-05")
    assert out.loc[unpaid, "lapsed"] == 1 and pd.isna(out.loc[unpaid, "paid_on"])
    # on the deadline day itself the outcome is not known yet either
    tables, scored, ids = _outcome_tables("2024-04-30")
    assert ids[3] not in set(outcomes_for(scored, tables)["participant_id"])
    tables, scored, ids = _outcome_tables("2024-05-01")
    assert outcomes_for(scored, tables).set_index("participant_id").loc[ids[3], "lapsed"] == 0


def _store_with_run(tmp_path, run_id="r1"):
    from dropout.store import open_store

    url = f"sqlite:///{tmp_path / 'scores.db'}"
    store = open_store(url)
    store.begin_run({"run_id": run_id, "as_of": pd.Timestamp("2024-02-29"), "window_days": 31, "model_name": "m",
                     "model_version": "1", "model_sha256": "x" * 64, "data_fingerprint": "f", "n_expected": 0,
                     "n_chunks": 0})
    store.dispose()
    return url


def test_backfill_is_idempotent_and_a_newer_export_wins(tmp_path):
    from dropout.store.monitoring import backfill_outcomes, monitor_outcomes, read_outcomes

    url = _store_with_run(tmp_path)
    tables, scored, (on_time, late, unpaid, _) = _outcome_tables("2024-04-15")
    first = backfill_outcomes(url, "r1", outcomes_for(scored, tables), tables.extracted_on)
    assert first == {"added": 3, "updated": 0, "kept": 0}
    again = backfill_outcomes(url, "r1", outcomes_for(scored, tables), tables.extracted_on)
    assert again == {"added": 0, "updated": 0, "kept": 3}
    # a later export adds the outcome that became known, changes nothing else
    tables2, scored2, ids = _outcome_tables("2024-05-02")
    third = backfill_outcomes(url, "r1", outcomes_for(scored2, tables2), tables2.extracted_on)
    assert third == {"added": 1, "updated": 0, "kept": 3}
    # a newer export that records a back-dated payment replaces the row; an older one does not
    fixed = outcomes_for(scored2, tables2)
    fixed.loc[fixed["participant_id"] == unpaid, ["lapsed", "paid_on"]] = [0, pd.Timestamp("2024-03-30")]
    assert backfill_outcomes(url, "r1", fixed, "2024-06-01")["updated"] == 1
    assert backfill_outcomes(url, "r1", outcomes_for(scored, tables), tables.extracted_on)["updated"] == 0
    known = read_outcomes(url, "r1").set_index("participant_id")
    assert len(known) == 4 and known.loc[unpaid, "lapsed"] == 0
    from dropout.store import engine_for

    with engine_for(url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(monitor_outcomes)).scalar_one() == 4


# ---------------------------------------------------------------- exports and alerts


def test_export_at_shows_nothing_after_its_day():
    from dropout.simulate import simulate
    from dropout.simulate.snapshot import export_at

    full = simulate("a-luoi", participants=120, seed=3, start="2023-01", end="2024-06").tables
    day = pd.Timestamp("2023-11-30")
    ex = export_at(full, day)
    assert ex.extracted_on == day
    assert (ex.participants["enrolled_on"] <= day).all()
    assert (ex.installments["paid_on"].dropna() <= day).all()
    assert (ex.withdrawals["claimed_on"] <= day).all() and (ex.visits["visited_on"] <= day).all()
    assert (ex.poverty["valid_from"] <= day).all() and ex.poverty["valid_to"].dropna().lt(day).all()
    from dropout.schema import validate_raw

    validate_raw(ex.as_dict(), ex.extracted_on)  # a valid export
    with pytest.raises(Exception, match="future"):
        export_at(ex, "2024-01-31")


def test_alerts_skip_watch_only_features_and_fire_on_drift_and_estimates():
    cfg = load_monitor_config()
    drift = {"features": {"net_monthly_cost_vnd": {"psi": 0.9, "distance": 1.0},
                          "next_deadline_month": {"psi": 3.0, "distance": 2.0},
                          "tenure_months": {"psi": 0.5, "distance": 0.5},
                          "is_poor": {"psi": 0.01, "distance": 0.01}},
             "prediction": {"psi": 0.01}}
    families = {"next_deadline_month": "seasonality"}
    assert drifted_features(drift, cfg, families) == ["net_monthly_cost_vnd"]
    reference = {"performance": {"auc": 0.85}, "expected_lapse_rate": 0.10}
    est = {"auc": {"value": 0.84}, "lapse_rate": {"value": 0.105}, "lapses": {"value": 10, "low": 6, "high": 14}}
    kinds = [a["kind"] for a in run_alerts(drift=drift, estimated=est, realised=None, reference=reference,
                                           cfg=cfg, families=families)]
    assert kinds == ["feature_drift"]
    est_bad = {**est, "auc": {"value": 0.70}, "lapse_rate": {"value": 0.2}}
    alerts = run_alerts(drift=None, estimated=est_bad, realised=None, reference=reference, cfg=cfg)
    assert [a["kind"] for a in alerts] == ["estimated_auc", "estimated_lapse_rate"]
    assert all(a["message_vi"] and a["action_en"] for a in alerts)


def test_natural_drift_is_the_largest_drift_of_one_calendar_month():
    """The reference's natural drift: each month's rows (found once) against the whole,
    the same as comparing every row's month one month at a time."""
    from dropout.monitor.reference import build_reference

    rng = np.random.default_rng(4)
    n = 3_000
    as_of = pd.Series(pd.Timestamp("2023-11-01") + pd.to_timedelta(rng.integers(0, 150, n), unit="D"))
    month = as_of.dt.month.to_numpy()
    X = pd.DataFrame({"shifting": rng.normal(size=n) + (month == 2) * 1.5,
                      "gappy": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 4, n))})
    ref = build_reference(X, rng.random(n), as_of=as_of)
    periods = as_of.dt.to_period("M").to_numpy()
    for col in X.columns:
        values = X[col].to_numpy(np.float64)
        whole = describe(values, 10)
        expected = max(column_drift(whole, values[periods == m])["psi"] for m in np.unique(periods))
        assert ref["features"][col]["natural_psi"] == pytest.approx(expected, rel=1e-12)
    assert ref["features"]["shifting"]["natural_psi"] > 3 * ref["features"]["gappy"]["natural_psi"]
    assert build_reference(X.iloc[:0], np.zeros(0), as_of=as_of.iloc[:0])["features"]["gappy"]["natural_psi"] == 0.0
