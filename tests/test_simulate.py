"""The simulator: contract, determinism, oracle, and one statistical test per mechanism.

Statistical tests compare rates with margins on small runs (a few thousand people);
the margins were checked over several seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dropout.errors import ConfigError
from dropout.io import load_tables
from dropout.reference import contribution_rules
from dropout.schema import validate_raw
from dropout.simulate import simulate, write_simulation, yearly_lapse_by_tenure
from dropout.simulate.config import config_from_dict, load_preset
from dropout.simulate.disasters import DisasterModel
from dropout.simulate.geography import build_geography
from dropout.simulate.lapse import DRIVERS, lapse_logit, p_unpaid
from dropout.simulate.summary import paying_decisions


@pytest.fixture(scope="module")
def aluoi():
    return simulate("a-luoi", participants=3000, seed=11)


@pytest.fixture(scope="module")
def quangtri():
    return simulate("province", participants=3000, seed=5)


def _decisions(result) -> pd.DataFrame:
    """Paying decisions (raw tables only) with village, commune, household, travel time."""
    t = result.tables
    dec = paying_decisions(t)
    part = t.participants.set_index("participant_id")[["village_id", "household_id", "enrolled_on"]]
    vil = t.villages.set_index("village_id")[["commune", "travel_minutes"]]
    return dec.join(part, on="participant_id").join(vil, on="village_id").reset_index(drop=True)


def _within_after(dec: pd.DataFrame, events: pd.DataFrame, key: str, on: str, months: int) -> np.ndarray:
    """Whether each decision is due within `months` after an event of its `key` (dated `on`)."""
    m = dec[[key, "due_on"]].reset_index().merge(events[[key, on]], on=key, how="inner")
    hit = (m[on] <= m["due_on"]) & (m["due_on"] < m[on] + pd.DateOffset(months=months))
    return dec.index.isin(m.loc[hit, "index"])


# ---------------------------------------------------------------- contract


def test_output_meets_the_contract(aluoi, quangtri):
    for result in (aluoi, quangtri):
        t = result.tables
        validated = validate_raw(t.as_dict(), t.extracted_on)
        assert validated.counts() == t.counts()
        assert t.extracted_on == pd.Timestamp("2026-06-30")


def test_write_simulation_round_trips(tmp_path):
    result = simulate("a-luoi", participants=300, seed=1)
    out = write_simulation(result, tmp_path / "sim")
    loaded = load_tables(out)
    assert loaded.counts() == result.tables.counts()
    assert loaded.extracted_on == pd.Timestamp("2026-06-30")
    for name in ("installments", "visits", "participants"):
        assert (out / "truth" / f"{name}.parquet").exists()
    truth = pd.read_parquet(out / "truth" / "installments.parquet")
    assert list(truth.columns[:4]) == ["participant_id", "period_start", "due_on", "p_lapse"]
    assert set(DRIVERS) | {"lapsed"} <= set(truth.columns)


def test_installment_rules(aluoi):
    t, rules = aluoi.tables, contribution_rules()
    inst = t.installments.merge(t.participants[["participant_id", "payment_mode", "enrolled_on"]], on="participant_id")
    assert not inst.duplicated(["participant_id", "period_start"]).any()
    assert (inst["period_start"] >= inst["enrolled_on"]).all()
    # deadline: end of the mode's deadline month
    deadline = inst["payment_mode"].map({k: m.deadline_months for k, m in rules.payment_modes.items()})
    expected_due = (inst["period_start"].dt.to_period("M") + (deadline - 1).to_numpy()).dt.to_timestamp(how="end")
    assert (inst["due_on"] == expected_due.dt.normalize()).all()
    months = inst["payment_mode"].map({k: m.months_covered for k, m in rules.payment_modes.items()})
    assert (inst["months_covered"] == months).all()
    assert (inst["amount_due"] == np.round(rules.contribution_rate * inst["income_base"] * inst["months_covered"])).all()
    # nothing paid after the extraction date; amount null exactly when paid_on is
    assert (inst["paid_on"].dropna() <= t.extracted_on).all()
    assert (inst["paid_on"].isna() == inst["amount_paid"].isna()).all()
    assert (inst["paid_on"].dropna() >= inst.loc[inst["paid_on"].notna(), "period_start"]).all()
    # the schedule of the next 12 months is there; only periods already open can be paid early
    after = inst[inst["period_start"] > t.extracted_on]
    assert len(after) > 0 and after["paid_on"].isna().all()
    assert after["period_start"].max() >= t.extracted_on + pd.DateOffset(months=11)
    # every column's type
    for col in ("period_start", "due_on", "paid_on"):
        assert inst[col].dtype == "datetime64[ns]"
    assert t.installments["amount_paid"].dtype == "Int64"


def test_no_event_after_extraction(aluoi):
    t = aluoi.tables
    ext = t.extracted_on
    assert (t.participants["enrolled_on"] <= ext).all()
    assert (t.poverty["valid_from"] <= ext).all()
    assert (t.disasters["started_on"] <= ext).all()
    assert (t.visits["visited_on"] <= ext).all()
    assert (t.withdrawals["claimed_on"] <= ext).all()
    # the spell in force at extraction is open
    last = t.poverty.sort_values("valid_from").groupby("household_id").tail(1)
    assert last["valid_to"].isna().all()


def test_poverty_spells_do_not_overlap(aluoi):
    p = aluoi.tables.poverty.sort_values(["household_id", "valid_from"])
    same = p["household_id"].to_numpy()[1:] == p["household_id"].to_numpy()[:-1]
    ends = p["valid_to"].to_numpy()[:-1][same]
    starts = p["valid_from"].to_numpy()[1:][same]
    assert (ends < starts).all()
    assert set(aluoi.tables.participants["household_id"]) <= set(p["household_id"])


def test_geography_of_a_luoi(aluoi):
    t = aluoi.tables
    assert (t.participants["ethnicity"] != "Kinh").mean() > 0.75
    assert t.villages["travel_minutes"].max() >= 170
    assert set(t.villages["ethnic_language"]) >= {"Ta Oi", "Pa Ko", "Co Tu", "Van Kieu", "Vietnamese"}
    assert set(t.villages["province"]) == {"Thua Thien Hue"}
    assert t.participants["participant_id"].between(46 * 10**8, 47 * 10**8).all()


def test_participants_override_scales_villages():
    small = simulate("a-luoi", participants=400, seed=2)
    assert len(small.tables.participants) == 400
    assert len(small.tables.villages) < 40
    assert load_preset("a-luoi").participants == 2400


# ---------------------------------------------------------------- determinism and the oracle


def test_same_seed_same_tables():
    a = simulate("huong-hoa", participants=600, seed=7)
    b = simulate("huong-hoa", participants=600, seed=7)
    for name, df in a.tables.as_dict().items():
        pd.testing.assert_frame_equal(df, getattr(b.tables, name), obj=name)
    for name, df in a.truth.items():
        pd.testing.assert_frame_equal(df, b.truth[name], obj=f"truth/{name}")
    c = simulate("huong-hoa", participants=600, seed=8)
    assert not a.tables.installments.equals(c.tables.installments)


def test_p_lapse_is_recomputed_from_the_truth(aluoi):
    cfg = aluoi.config.lapse
    truth = aluoi.truth["installments"]
    assert len(truth) == len(aluoi.tables.installments)
    assert (truth["participant_id"].to_numpy() == aluoi.tables.installments["participant_id"].to_numpy()).all()
    decided = truth[truth["decision"].notna()]
    d = {name: decided[name].to_numpy(np.float64) for name in DRIVERS}
    mode = decided[["participant_id"]].merge(aluoi.tables.participants[["participant_id", "payment_mode"]])
    exposure = mode["payment_mode"].map(cfg.exposure_months).to_numpy(float)
    p = p_unpaid(cfg, lapse_logit(cfg, d), exposure, (decided["decision"] == "resume").to_numpy())
    np.testing.assert_allclose(p, decided["p_lapse"].to_numpy(), atol=2e-5)
    undecided = truth[truth["decision"].isna()]
    assert undecided["p_lapse"].isna().all() and undecided["lapsed"].isna().all()


def test_lapsed_draws_match_their_probability_and_the_data(aluoi):
    truth = aluoi.truth["installments"]
    inst = aluoi.tables.installments
    pay = truth["decision"] == "pay"
    assert abs(truth.loc[pay, "lapsed"].mean() - truth.loc[pay, "p_lapse"].mean()) < 0.005
    # the draw is what the data shows: unpaid by the deadline (where the deadline has passed)
    seen = (inst["due_on"] <= aluoi.tables.extracted_on).to_numpy() & truth["decision"].notna().to_numpy()
    on_time = inst["paid_on"].notna() & (inst["paid_on"] <= inst["due_on"])
    assert (truth.loc[seen, "lapsed"].to_numpy(bool) == ~on_time[seen].to_numpy()).all()
    # rows due after the extraction date are decided in truth (the oracle of what comes next)
    future = (inst["due_on"] > aluoi.tables.extracted_on) & (inst["due_on"] <= "2027-06-30")
    assert truth.loc[future.to_numpy(), "p_lapse"].notna().mean() > 0.9


def test_visits_have_a_true_effect(aluoi):
    v = aluoi.tables.visits
    tv = aluoi.truth["visits"]
    assert (tv["visit_id"] == v["visit_id"]).all()
    assert (tv["true_effect"] <= 0).all() and tv["true_effect"].std() > 0
    home = v["kind"] == "home_visit"
    assert v.loc[home, "participant_id"].notna().all()
    assert v.loc[~home, "participant_id"].isna().all() and (~home).sum() > 10
    assert set(v["language"]) >= {"Vietnamese", "Ta Oi"}
    resp = aluoi.truth["participants"]["responsiveness"]
    assert (resp == 0).mean() > 0.1 and resp.std() > 0.5


# ---------------------------------------------------------------- mechanisms


def test_lapses_follow_a_severe_disaster(aluoi):
    dec = _decisions(aluoi)
    severe = aluoi.tables.disasters.query("severity == 3")
    after = _within_after(dec, severe, "commune", "started_on", 3)
    assert after.sum() > 300
    assert dec.loc[after, "lapsed"].mean() > 1.5 * dec.loc[~after, "lapsed"].mean()


def test_lapses_follow_leaving_the_poor_list(aluoi):
    dec = _decisions(aluoi)
    pov = aluoi.tables.poverty.sort_values(["household_id", "valid_from"])
    left = pov[(pov.groupby("household_id")["status"].shift() == "poor") & (pov["status"] != "poor")]
    after = _within_after(dec, left, "household_id", "valid_from", 6)
    assert after.sum() > 300
    assert dec.loc[after, "lapsed"].mean() > 1.25 * dec.loc[~after, "lapsed"].mean()


def test_lapses_rise_with_distance(aluoi):
    dec = _decisions(aluoi)
    far = dec.loc[dec["travel_minutes"] >= 120, "lapsed"].mean()
    near = dec.loc[dec["travel_minutes"] <= 30, "lapsed"].mean()
    assert far > 1.4 * near


def test_new_participants_lapse_more_than_long_tenured(aluoi):
    by_tenure = yearly_lapse_by_tenure(aluoi.tables).set_index("tenure")
    first, late = by_tenure.loc["1st year", "lapse_rate"], by_tenure.loc["6th year on", "lapse_rate"]
    assert 0.2 <= by_tenure.loc["1st year", "lapse_rate_min_base"] <= 0.6  # a few tens of percent
    assert first > 1.8 * late


def test_subsidy_in_force_changes_on_2025_07_01(aluoi, quangtri):
    rules = contribution_rules()
    for result, before_rates, after_rates in (
        (aluoi, {0.10, 0.25, 0.30}, {0.20, 0.30, 0.40, 0.50}),
        (quangtri, {0.10, 0.20, 0.25, 0.40, 0.50}, {0.20, 0.30, 0.40, 0.50, 0.55, 0.60, 0.70}),
    ):
        inst = result.tables.installments
        on_time = inst[(inst["paid_on"] <= inst["due_on"]) & (inst["due_on"] >= "2024-01-01")]
        rate = (on_time["amount_due"] - on_time["amount_paid"]) / (
            rules.contribution_rate * rules.poverty_line_vnd * on_time["months_covered"]
        )
        rate = rate.astype(float).round(4)
        june = rate[on_time["due_on"] == "2025-06-30"]
        july = rate[on_time["due_on"] == "2025-07-31"]
        assert set(june) <= before_rates and set(july) <= after_rates
        assert july.mean() > june.mean() + 0.08


def test_storms_cluster_in_july_to_november():
    """Twenty years of Quang Tri weather: storms July-November, floods October-November."""
    cfg = load_preset("province")
    geo = build_geography(cfg.geography, 3000, np.random.default_rng(0))
    model = DisasterModel(cfg.disasters, geo, np.random.default_rng(1))
    months = np.arange(np.datetime64("2001-01"), np.datetime64("2021-01"), dtype="datetime64[M]")
    first = months.astype("datetime64[D]").astype(np.int64)
    for m, day in enumerate(first):
        model.step(m, m % 12, int(day), 28)
    d = model.events(geo.commune_names)
    events = d.drop_duplicates(["kind", "started_on"])  # a storm sweeps many communes on one day
    storms = events[events["kind"] == "storm"]
    assert len(storms) > 10
    assert storms["started_on"].dt.month.between(7, 11).mean() > 0.85
    floods = events[events["kind"] == "flood"]
    assert floods["started_on"].dt.month.between(10, 11).mean() > 0.6
    assert set(d["severity"]) == {1, 2, 3}
    local = d[d["kind"].isin(["flash_flood", "landslide"])].merge(geo.villages[["commune", "district"]].drop_duplicates())
    assert local["district"].isin(["Huong Hoa", "Dakrong"]).mean() > 0.7  # flash floods strike the mountains


def test_cash_is_short_before_the_harvest(aluoi):
    truth = aluoi.truth["installments"]
    pay = truth[truth["decision"] == "pay"]
    month = pay["due_on"].dt.month
    lean = pay.loc[month.between(2, 4), "net_cost_share"].mean()
    harvest = pay.loc[month.between(5, 6), "net_cost_share"].mean()
    assert lean > 1.3 * harvest


def test_enrolment_waves_and_year_end_drives(aluoi):
    enrolled = aluoi.tables.participants["enrolled_on"]
    inside = enrolled[enrolled >= "2021-01-01"].dt.month
    assert inside.between(10, 12).sum() > 1.5 * inside.between(1, 3).sum()
    assert (enrolled < "2021-01-01").mean() > 0.3  # people already paying when the window opens


def test_poverty_reviews_happen_september_to_december(aluoi):
    p = aluoi.tables.poverty
    changes = p[p["valid_from"] >= "2021-01-01"]
    assert len(changes) > 300
    assert changes["valid_from"].dt.month.between(9, 12).mean() > 0.9
    assert {"poor", "near_poor", "none"} == set(p["status"])


def test_make_ups_withdrawals_and_downgrades(aluoi):
    t = aluoi.tables
    inst = t.installments
    late = inst[inst["paid_on"] > inst["due_on"]]
    assert len(late) > 100
    # a make-up is paid the day the participant resumes, with interest on top of the net amount
    resumed = inst[inst["paid_on"] <= inst["due_on"]][["participant_id", "paid_on"]].drop_duplicates()
    assert late[["participant_id", "paid_on"]].merge(resumed).drop_duplicates().shape[0] == late[
        ["participant_id", "paid_on"]].drop_duplicates().shape[0]
    w = t.withdrawals.merge(t.participants[["participant_id", "enrolled_on"]])
    assert len(w) > 50
    assert (w["enrolled_on"] < pd.Timestamp("2025-07-01")).all()
    after = inst.merge(w, on="participant_id")
    assert (after["period_start"] < after["claimed_on"]).all()  # the schedule stops at the claim
    last_paid = inst[inst["paid_on"].notna()].groupby("participant_id")["period_start"].max()
    gap = w.set_index("participant_id")["claimed_on"] - last_paid.reindex(w["participant_id"]).to_numpy()
    assert (gap.dropna() >= pd.Timedelta(days=365)).all()  # 12 months outside insurance first
    prev = inst.groupby("participant_id")["income_base"].shift()
    assert (inst["income_base"] < prev).sum() > 0  # occasional downgrades of the base
    assert (t.participants["income_base"] == contribution_rules().min_income_base).mean() > 0.8


def test_targeting_prefers_the_late_and_the_near(aluoi):
    t = aluoi.tables
    home = t.visits[t.visits["kind"] == "home_visit"]
    vil = t.villages.set_index("village_id")["travel_minutes"]
    people = t.participants.assign(travel=t.participants["village_id"].map(vil))
    visits_per_person = home["participant_id"].value_counts().reindex(people["participant_id"], fill_value=0)
    near = visits_per_person[(people["travel"] <= 60).to_numpy()].mean()
    far = visits_per_person[(people["travel"] >= 120).to_numpy()].mean()
    assert near > far
    dec = _decisions(aluoi)
    ever_lapsed = set(dec.loc[dec["lapsed"], "participant_id"])
    lapsers = visits_per_person[people["participant_id"].isin(ever_lapsed).to_numpy()].mean()
    others = visits_per_person[~people["participant_id"].isin(ever_lapsed).to_numpy()].mean()
    assert lapsers > others


# ---------------------------------------------------------------- command and configuration


def test_simulate_command_writes_a_valid_folder(tmp_path):
    from typer.testing import CliRunner

    from dropout.cli import app

    out = tmp_path / "sim"
    res = CliRunner().invoke(app, ["simulate", "--participants", "300", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert load_tables(out).counts()["participants"] == 300
    assert (out / "truth" / "installments.parquet").exists()
    bad = CliRunner().invoke(app, ["simulate", "--preset", "atlantis", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()


def test_presets_load_and_bad_config_is_refused():
    national = load_preset("national")
    assert national.participants == 2_000_000
    assert {"Quang Nam", "Quang Tri", "Quang Ninh"} <= {p.name for p in national.geography.provinces}
    import yaml

    raw = yaml.safe_load(open(load_preset.__globals__["preset_path"]("a-luoi"), encoding="utf-8"))
    raw["lapse"]["not_a_knob"] = 1
    with pytest.raises(ConfigError, match="lapse.*not_a_knob"):
        config_from_dict(raw)
    del raw["lapse"]["not_a_knob"]
    del raw["lapse"]["habit"]
    with pytest.raises(ConfigError, match="lapse.habit: missing"):
        config_from_dict(raw)
    with pytest.raises(ConfigError, match="known presets"):
        simulate("atlantis")
    with pytest.raises(ConfigError, match="positive"):
        simulate("a-luoi", participants=0)


def test_a_small_national_sample_gives_every_district_a_village():
    """3,000 people over the national preset's many districts: each district still gets a village,
    so there are more villages than the people-per-village target asks for, and nothing breaks."""
    from dropout.simulate import simulate

    res = simulate("national", participants=3_000, start="2024-01", end="2024-12", seed=1)
    villages = res.tables.villages
    assert villages["village_id"].is_unique
    assert set(res.tables.participants["village_id"]) <= set(villages["village_id"])
