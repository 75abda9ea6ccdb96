"""Robustness scenarios: loading, contract, determinism, the oracle, and one test per mechanism.

Statistical tests use mid-size runs (a few thousand people) with margins checked over
several seeds; contract tests use small runs (600 people).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dropout.cli import app
from dropout.errors import ConfigError
from dropout.reference import contribution_rules, subsidy_policies
from dropout.simulate import SCENARIOS, load_scenario, simulate, write_simulation
from dropout.simulate.lapse import DRIVERS, lapse_logit, p_unpaid
from dropout.simulate.summary import paying_decisions

MID = 6000


@pytest.fixture(scope="module")
def base():
    return simulate("a-luoi", participants=MID, seed=4)


@pytest.fixture(scope="module")
def worlds():
    """One mid-size A Luoi run per scenario (same seed as `base`), built on first use."""
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            cache[name] = simulate("a-luoi", participants=MID, seed=4, scenarios=[name])
        return cache[name]

    return get


def _decided(result) -> pd.DataFrame:
    """truth/installments of decided rows, with the installment's months, village and commune."""
    t = result.tables
    truth = result.truth["installments"].assign(months_covered=t.installments["months_covered"].to_numpy(),
                                                paid_on=t.installments["paid_on"].to_numpy())
    truth = truth[truth["decision"].notna()]
    people = t.participants[["participant_id", "village_id", "birth_year", "occupation"]]
    out = truth.merge(people, on="participant_id", how="left")
    return out.merge(t.villages[["village_id", "commune"]], on="village_id", how="left")


def _exposure(result, months_covered: np.ndarray) -> np.ndarray:
    by_months = {m.months_covered: result.config.lapse.exposure_months[name]
                 for name, m in contribution_rules().payment_modes.items()}
    return pd.Series(months_covered).map(by_months).to_numpy(float)


def _recomputed_p(result, d: pd.DataFrame | None = None, drop: tuple[str, ...] = ()) -> np.ndarray:
    """p_lapse of decided rows `d` recomputed from the truth columns and the preset, less the log-odds in `drop`."""
    d = _decided(result) if d is None else d
    cfg = result.config.lapse
    drivers = {name: d[name].to_numpy(np.float64) for name in DRIVERS}
    logit = lapse_logit(cfg, drivers) + d["scenario_logit"].to_numpy(np.float64)
    for column in drop:
        logit = logit - d[column].to_numpy(np.float64)
    suspended = (d["decision"] == "resume").to_numpy()
    p = p_unpaid(cfg, logit, _exposure(result, d["months_covered"].to_numpy()), suspended)
    return 1.0 - (1.0 - d["p_blocked"].to_numpy(np.float64)) * (1.0 - p)


def _draws_match(rows: pd.DataFrame) -> None:
    """The outcomes of `rows` were drawn from their p_lapse: means agree within 4 binomial SEs."""
    p = rows["p_lapse"].to_numpy(float)
    se = np.sqrt((p * (1 - p)).sum()) / len(p)
    assert len(p) > 200
    assert abs(rows["lapsed"].astype(float).mean() - p.mean()) < 4 * se + 1e-3


# ---------------------------------------------------------------- loading and configuration


def test_every_scenario_loads_from_its_yaml():
    assert SCENARIOS == ("migration", "price-slump", "collection-agent", "rumour", "mode-switch", "topup-ends",
                         "visit-response", "ledger-only")
    for name in SCENARIOS:
        spec = load_scenario(name)
        assert spec.mechanism == name and spec.description


def test_unknown_scenario_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match="known scenarios: migration, price-slump.*ledger-only"):
        simulate("a-luoi", participants=300, scenarios=["atlantis"])
    res = CliRunner().invoke(app, ["simulate", "--participants", "300", "--scenario", "atlantis",
                                   "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "known scenarios" in res.output and not (tmp_path / "x").exists()


def test_bad_scenario_yaml_is_refused_naming_the_path(tmp_path):
    unknown = tmp_path / "loud-rumour.yaml"
    unknown.write_text("extends: rumour\nlapse: 2.0\nnot_a_knob: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scenario loud-rumour: unknown key\(s\) \['not_a_knob'\]"):
        load_scenario(unknown)
    nested = tmp_path / "fast-switch.yaml"
    nested.write_text("extends: mode-switch\ndown: {speed: 2}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"scenario fast-switch.down: unknown key\(s\) \['speed'\]"):
        load_scenario(nested)
    missing = tmp_path / "half.yaml"
    missing.write_text("mechanism: rumour\ndescription: no knobs\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="scenario half.origins: missing"):
        load_scenario(missing)
    bad_mode = tmp_path / "odd.yaml"
    bad_mode.write_text("extends: mode-switch\nup: {to_modes: {weekly: 1.0}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mode-switch.up.to_modes: unknown mode\(s\) \['weekly'\]"):
        simulate("a-luoi", participants=300, scenarios=[bad_mode])
    with pytest.raises(ConfigError, match="more than once"):
        simulate("a-luoi", participants=300, scenarios=["rumour", "rumour"])


def test_a_yaml_may_extend_a_scenario_and_move_the_top_up_end(tmp_path):
    early = tmp_path / "topup-ends-2023.yaml"
    early.write_text("extends: topup-ends\nprovinces: {Thua Thien Hue: {ends: 2023-06}}\n", encoding="utf-8")
    r = simulate("a-luoi", participants=300, seed=1, scenarios=[early])
    pol = r.tables.subsidy_policies
    hue = pol[pol["province"] == "Thua Thien Hue"]
    assert set(hue["group"]) == {"poor", "near_poor", "other"}
    assert (hue["valid_to"] == pd.Timestamp("2023-06-30")).all()
    assert (hue["valid_from"] == pd.Timestamp("2022-01-01")).all()


# ---------------------------------------------------------------- contract, determinism, streams


@pytest.mark.parametrize("names", [[s] for s in SCENARIOS] + [["ledger-only", "rumour", "topup-ends"],
                                                              ["ledger-only", "migration", "mode-switch"]])
def test_each_scenario_validates(tmp_path, names):
    r = simulate("huong-hoa", participants=600, seed=3, scenarios=names)
    out = write_simulation(r, tmp_path / "sim")
    res = CliRunner().invoke(app, ["validate", str(out)])
    assert res.exit_code == 0 and "OK" in res.output, res.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in manifest["scenarios"]] == [s for s in SCENARIOS if s in names]
    truth = pd.read_parquet(out / "truth" / "installments.parquet")
    assert {"scenario_logit", "p_blocked"} <= set(truth.columns)


def test_the_command_takes_repeated_scenarios(tmp_path):
    out = tmp_path / "sim"
    res = CliRunner().invoke(app, ["simulate", "--preset", "huong-hoa", "--scenario", "rumour", "--scenario",
                                   "ledger-only", "--seed", "3", "--participants", "400", "--out", str(out)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert [s["name"] for s in manifest["scenarios"]] == ["rumour", "ledger-only"]
    assert manifest["scenarios"][0]["knobs"]["lapse"] == load_scenario("rumour").config.lapse
    assert (out / "truth" / "withheld_poverty.parquet").exists()


def test_same_seed_same_tables_in_any_order():
    a = simulate("a-luoi", participants=800, seed=5, scenarios=["rumour", "migration", "collection-agent"])
    b = simulate("a-luoi", participants=800, seed=5, scenarios=["collection-agent", "migration", "rumour"])
    for name, df in a.tables.as_dict().items():
        pd.testing.assert_frame_equal(df, getattr(b.tables, name), obj=name)
    for name, df in a.truth.items():
        pd.testing.assert_frame_equal(df, b.truth[name], obj=f"truth/{name}")
    c = simulate("a-luoi", participants=800, seed=6, scenarios=["rumour", "migration", "collection-agent"])
    assert not a.tables.installments.equals(c.tables.installments)


def test_no_scenario_is_the_preset_world():
    plain = simulate("a-luoi", participants=600, seed=2)
    empty = simulate("a-luoi", participants=600, seed=2, scenarios=[])
    for name, df in plain.tables.as_dict().items():
        pd.testing.assert_frame_equal(df, getattr(empty.tables, name), obj=name)
    assert list(plain.truth["installments"].columns) == list(empty.truth["installments"].columns)
    assert "scenario_logit" not in plain.truth["installments"].columns and plain.scenarios == ()


@pytest.mark.parametrize("name", [s for s in SCENARIOS if s != "ledger-only"])
def test_a_scenario_leaves_the_streams_it_does_not_act_on_alone(base, worlds, name):
    r = worlds(name)
    for table in ("villages", "participants", "disasters"):
        pd.testing.assert_frame_equal(getattr(r.tables, table), getattr(base.tables, table), obj=table)
    # visit-response redraws who responds to visits (and adds session_turnout): that is its mechanism
    own = ["responsiveness", "session_turnout"] if name == "visit-response" else []
    pd.testing.assert_frame_equal(r.truth["participants"].drop(columns=own, errors="ignore"),
                                  base.truth["participants"].drop(columns=own, errors="ignore"))
    if name != "price-slump":  # the only one that changes household income (and so the poverty reviews)
        pd.testing.assert_frame_equal(r.tables.poverty, base.tables.poverty)


# ---------------------------------------------------------------- the oracle


@pytest.mark.parametrize("name", SCENARIOS)
def test_p_lapse_is_recomputed_from_the_truth(worlds, name):
    r = worlds(name)
    np.testing.assert_allclose(_recomputed_p(r), _decided(r)["p_lapse"], atol=2e-5)


def test_p_lapse_is_recomputed_with_every_scenario_at_once():
    r = simulate("huong-hoa", participants=1500, seed=9, scenarios=list(SCENARIOS))
    np.testing.assert_allclose(_recomputed_p(r), _decided(r)["p_lapse"], atol=2e-5)


@pytest.mark.parametrize("name, driver", [("migration", "away"), ("collection-agent", "no_agent"),
                                          ("rumour", "rumour"), ("price-slump", "price_slump")])
def test_outcomes_are_drawn_from_p_lapse_where_the_scenario_acts(worlds, name, driver):
    d = _decided(worlds(name))
    _draws_match(d[d[driver] > 0])
    _draws_match(d[(d[driver] == 0) & (d["decision"] == "pay")])


# ---------------------------------------------------------------- mechanisms


def test_migration_the_young_leave_stop_paying_and_come_back(worlds, base):
    r = worlds("migration")
    d = _decided(r)
    pay = d[d["decision"] == "pay"]
    away = pay["away"] == 1
    assert away.sum() > 100
    assert pay.loc[away, "p_lapse"].mean() > 10 * pay.loc[~away, "p_lapse"].mean()
    age = pay["due_on"].dt.year - pay["birth_year"]
    assert pay.loc[age < 30, "away"].mean() > 2 * pay.loc[age >= 45, "away"].mean()
    # people come back: suspended returnees resume far more often than other suspended members
    resume = d[d["decision"] == "resume"]
    back = resume["migration_logit"] < 0
    assert back.sum() > 100
    assert resume.loc[back, "p_lapse"].mean() < resume.loc[~back & (resume["away"] == 0), "p_lapse"].mean() - 0.2
    # departures peak after Tet: first decision while away, by month of the year
    first_away = d[d["away"] == 1].groupby("participant_id")["due_on"].min().dt.month
    assert first_away.between(2, 4).mean() > 0.35
    # the ledger shows it: more lapses than in the same world without migration; officers note it
    lapses = paying_decisions(r.tables)["lapsed"].mean()
    assert lapses > 1.1 * paying_decisions(base.tables)["lapsed"].mean()
    assert (r.tables.visits["outcome_note"] == load_scenario("migration").config.visit_note).sum() > 50


def test_migration_clusters_by_village(worlds):
    d = _decided(worlds("migration"))
    per_village = d.groupby("village_id")["away"].mean()
    people = d.groupby("village_id").size()
    big = per_village[people >= 300]
    # far more spread between villages than binomial noise around one common rate
    p = big.mean()
    noise = np.sqrt(p * (1 - p) / people[big.index]).mean()
    assert big.std() > 3 * noise


def test_collection_agent_a_commune_goes_quiet_then_resumes(worlds):
    r = worlds("collection-agent")
    d = _decided(r)
    pay = d[d["decision"] == "pay"]
    gone = pay["no_agent"] == 1
    assert gone.sum() > 100
    # much higher lapse for everyone due there, whatever their traits: in both halves of the person effect
    for half in (pay["person_effect"] < 0, pay["person_effect"] >= 0):
        assert pay.loc[gone & half, "lapsed"].mean() > 5 * pay.loc[~gone & half, "lapsed"].mean()
    # the raw ledger (same rows as truth): in those commune-months few installments are paid by their deadline
    inst = r.tables.installments
    no_agent = r.truth["installments"]["no_agent"].to_numpy()
    on_time = (inst["paid_on"] <= inst["due_on"]).fillna(False).to_numpy()
    assert on_time[no_agent == 1].mean() < 0.5 * on_time[no_agent == 0].mean()
    # a new agent brings suspended members back
    resume = d[d["decision"] == "resume"]
    drive = resume["agent_logit"] < 0
    assert drive.sum() > 50
    assert resume.loc[drive, "lapsed"].mean() < resume.loc[~drive & (resume["no_agent"] == 0), "lapsed"].mean() - 0.08


def test_rumour_spreads_through_a_commune_before_others_and_raises_lapses(worlds, base):
    r = worlds("rumour")
    d = _decided(r)
    heard = d[d["rumour"] > 0]
    assert heard["village_id"].nunique() >= 5
    first = heard.groupby("village_id").agg(month=("due_on", "min"), commune=("commune", "first"))
    origin_commune = first.sort_values("month")["commune"].iloc[0]
    mine = first[first["commune"] == origin_commune]
    assert len(mine) >= 3 and mine["month"].median() <= first["month"].median()
    # the driver raises p by its log-odds (lapse x intensity) over what p would be without it
    pay = d[d["decision"] == "pay"]
    fresh = pay[pay["rumour"] >= 0.5]
    without = _recomputed_p(r, d=fresh, drop=("rumour_logit",))
    assert (fresh["p_lapse"].to_numpy() > without).all() and fresh["p_lapse"].mean() > 1.5 * without.mean()
    np.testing.assert_allclose(pay["rumour_logit"], load_scenario("rumour").config.lapse * pay["rumour"], atol=1e-5)
    # the raw tables: in the six months after it arrives a village lapses, and claims its lump sums,
    # more than the same village in the same months of the world without the rumour
    arrived = first["month"]

    def after_arrival(df: pd.DataFrame, result, on: str, months: int) -> pd.DataFrame:
        df = df.merge(result.tables.participants[["participant_id", "village_id"]], on="participant_id")
        since = df["village_id"].map(arrived)
        return df[since.notna() & (df[on] >= since) & (df[on] < since + pd.DateOffset(months=months))]

    rumour_lapses = after_arrival(paying_decisions(r.tables), r, "due_on", 6)["lapsed"].mean()
    plain_lapses = after_arrival(paying_decisions(base.tables), base, "due_on", 6)["lapsed"].mean()
    assert rumour_lapses > 1.25 * plain_lapses
    claims = len(after_arrival(r.tables.withdrawals, r, "claimed_on", 9))
    assert claims > len(after_arrival(base.tables.withdrawals, base, "claimed_on", 9))


def test_price_slump_hits_farm_households_of_some_communes(worlds, base):
    r = worlds("price-slump")
    d = _decided(r)
    pay = d[d["decision"] == "pay"]
    hit = pay["price_slump"] > 0
    assert hit.sum() > 300
    lo, hi = pay.loc[hit, "due_on"].min(), pay.loc[hit, "due_on"].max()
    assert hi - lo < pd.Timedelta(days=31 * 14)  # one season (+ recovery), not the whole window
    during = pay["due_on"].between(lo, hi)
    communes = set(pay.loc[hit, "commune"])
    farm = pay["occupation"].isin(["farmer", "forest_worker"])
    inside = pay[during & farm & pay["commune"].isin(communes)]
    outside = pay[during & farm & ~pay["commune"].isin(communes)]
    assert inside["net_cost_share"].mean() > 1.2 * outside["net_cost_share"].mean()
    assert inside["p_lapse"].mean() > 1.5 * outside["p_lapse"].mean()
    # traders and wage workers next door lose less
    others = pay[during & ~farm & pay["commune"].isin(communes)]
    assert inside["price_slump"].mean() > 2 * others["price_slump"].mean()
    # unlike a disaster, nothing records it
    pd.testing.assert_frame_equal(r.tables.disasters, base.tables.disasters)


def test_mode_switch_follows_the_contract(worlds):
    r = worlds("mode-switch")
    rules = contribution_rules()
    inst = r.tables.installments
    prev = inst.groupby("participant_id")["months_covered"].shift()
    switched = prev.notna() & (prev != inst["months_covered"])
    assert switched.sum() > 100
    # consecutive periods, each with its own mode's deadline and amount
    nxt = inst.groupby("participant_id")["period_start"].shift(-1)
    end = (inst["period_start"].dt.to_period("M") + inst["months_covered"].to_numpy()).dt.to_timestamp()
    assert (nxt.isna() | (nxt == end)).all()
    deadline = inst["months_covered"].map({m.months_covered: m.deadline_months for m in rules.payment_modes.values()})
    due = (inst["period_start"].dt.to_period("M") + (deadline - 1).to_numpy()).dt.to_timestamp(how="end")
    assert (inst["due_on"] == due.dt.normalize()).all()
    assert (inst["amount_due"] == np.round(rules.contribution_rate * inst["income_base"] * inst["months_covered"])).all()
    # switches happen up to the extraction date only; the participants table keeps the enrolment mode
    assert (inst.loc[switched, "period_start"] <= r.tables.extracted_on).all()
    people = r.tables.participants.set_index("participant_id")
    first = inst.groupby("participant_id")["months_covered"].first()
    registered = people["payment_mode"].map({k: m.months_covered for k, m in rules.payment_modes.items()})
    joined_inside = people.index[people["enrolled_on"] >= "2021-01-01"].intersection(first.index)
    assert (first[joined_inside] == registered[joined_inside]).all()
    # down to small payments when cash is short, up after the harvest (May-June, September)
    down = switched & (inst["months_covered"] < prev)
    up = switched & (inst["months_covered"] > prev)
    assert down.sum() > 50 and up.sum() > 50
    assert inst.loc[up, "period_start"].dt.month.isin([5, 6, 9]).mean() > 0.4
    # the oracle weighs each installment by its own mode
    d = _decided(r)
    np.testing.assert_allclose(d["exposure"], _exposure(r, d["months_covered"].to_numpy()))


def test_topup_end_raises_the_net_cost_and_lapses(worlds, base):
    r = worlds("topup-ends")
    rules = contribution_rules()
    pol = r.tables.subsidy_policies
    hue = pol[pol["province"] == "Thua Thien Hue"].set_index("group")
    cfg = load_scenario("topup-ends").config.provinces["Thua Thien Hue"]
    assert (hue["valid_to"] == pd.Period(cfg.ends, "M").end_time.normalize()).all()
    assert hue["rate"].to_dict() == cfg.rates
    end = pd.Period(cfg.ends, "M").end_time.normalize()
    inst = r.tables.installments
    paid = inst[(inst["paid_on"] <= inst["due_on"]) & (inst["months_covered"] == 1)]
    rate = ((paid["amount_due"] - paid["amount_paid"]) / (rules.contribution_rate * rules.poverty_line_vnd))
    rate = rate.astype(float).round(4)
    before = rate[paid["due_on"].between(end - pd.DateOffset(months=3), end)]
    after = rate[paid["due_on"].between(end + pd.Timedelta(days=1), end + pd.DateOffset(months=3))]
    assert before.mean() > after.mean() + 0.08  # the top-up (+0.10 for everyone) is gone

    def pay(result) -> pd.DataFrame:
        d = _decided(result)
        return d[d["decision"] == "pay"]

    first_half = lambda d: d[d["due_on"].between(end - pd.DateOffset(months=6), end)]  # noqa: E731
    second_half = lambda d: d[d["due_on"].between(end + pd.Timedelta(days=1), end + pd.DateOffset(months=6))]  # noqa: E731
    t, b = pay(r), pay(base)
    assert first_half(t)["subsidy_rate"].mean() > second_half(t)["subsidy_rate"].mean() + 0.08
    assert second_half(t)["subsidy_loss"].mean() > 0.05 > first_half(t)["subsidy_loss"].mean()
    # against the same months of the world without a top-up: lower risk while it runs, higher after
    ratio_before = first_half(t)["p_lapse"].mean() / first_half(b)["p_lapse"].mean()
    ratio_after = second_half(t)["p_lapse"].mean() / second_half(b)["p_lapse"].mean()
    assert ratio_before < 1.0 and ratio_after > 1.25 * ratio_before


def test_topup_end_needs_a_top_up_for_the_preset(tmp_path):
    other = tmp_path / "elsewhere.yaml"
    other.write_text("mechanism: topup-ends\ndescription: x\nprovinces:\n  Ha Giang: "
                     "{valid_from: 2022-01, ends: 2024-12, rates: {poor: 0.1}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="none of the preset's provinces"):
        simulate("a-luoi", participants=300, scenarios=[other])


def test_ledger_only_hides_what_happened_without_changing_it(worlds, base):
    r = worlds("ledger-only")
    for name in ("poverty", "disasters", "visits", "withdrawals"):
        df = getattr(r.tables, name)
        assert len(df) == 0 and list(df.columns) == list(getattr(base.tables, name).columns)
        pd.testing.assert_frame_equal(r.truth[f"withheld_{name}"], getattr(base.tables, name))
    pd.testing.assert_frame_equal(r.tables.subsidy_policies, subsidy_policies())
    for name in ("villages", "participants", "installments"):
        pd.testing.assert_frame_equal(getattr(r.tables, name), getattr(base.tables, name))
    pd.testing.assert_frame_equal(r.truth["installments"].drop(columns=["scenario_logit", "p_blocked"]),
                                  base.truth["installments"])
    # withdrawn people simply stop appearing with installments
    claimed = r.truth["withheld_withdrawals"]
    last = r.tables.installments.groupby("participant_id")["period_start"].max()
    assert (last.reindex(claimed["participant_id"]).to_numpy() < claimed["claimed_on"].to_numpy()).all()


def test_ledger_only_with_topup_ends_exports_the_reference_policies():
    r = simulate("a-luoi", participants=400, seed=1, scenarios=["topup-ends", "ledger-only"])
    pd.testing.assert_frame_equal(r.tables.subsidy_policies, subsidy_policies())
    assert "Thua Thien Hue" in set(r.truth["withheld_subsidy_policies"]["province"])
