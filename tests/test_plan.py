"""The visit planner on hand-made villages with hand-computed answers, and its invariants."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from dropout.errors import ConfigError
from dropout.plan import PlanInputError, load_plan_config, plan_visits, write_plan
from dropout.plan.optimise import SESSION, assumed_gains, plan_config_from_dict, rank_people, village_options

# Round numbers so answers can be worked out by hand: a visit halves the risk and takes
# an hour, a session cuts it by a fifth for up to 10 people and takes two hours.
RAW = {
    "home_visit": {"minutes": 60, "relative_reduction": 0.5},
    "evening_session": {"minutes": 120, "relative_reduction": 0.2, "max_people": 10, "count_unscored": True},
    "officer_day": {"hours": 8},
    "optimiser": {"resolution_minutes": 5, "gap_tolerance": 0.0, "exact_max_cells": 10_000_000},
}
CONFIG = plan_config_from_dict(RAW)


def villages(*rows) -> pd.DataFrame:
    """rows of (village_id, commune, travel_minutes)."""
    return pd.DataFrame(
        {
            "village_id": [r[0] for r in rows],
            "commune": [r[1] for r in rows],
            "district": "A Luoi",
            "province": "Thua Thien Hue",
            "travel_minutes": [r[2] for r in rows],
            "ethnic_language": "Ta Oi",
        }
    )


def people(*groups) -> pd.DataFrame:
    """groups of (village_id, [risk, ...])."""
    rows = [(v, r) for v, risks in groups for r in risks]
    return pd.DataFrame(
        {
            "participant_id": np.arange(4600000001, 4600000001 + len(rows)),
            "village_id": [v for v, _ in rows],
            "risk": [r for _, r in rows],
            "due_on": pd.Timestamp("2026-03-31"),
            "amount_due": 330_000,
            "risk_band": "high",
            "reason_1_vi": "Đóng trễ lần trước",
            "reason_1_en": "Paid late last time",
        }
    )


# ---------------------------------------------------------------- hand-computed cases


def test_one_trip_serves_several_people_in_a_village():
    # 3 visits in one trip: 2 x 60 travel + 3 x 60 = 300 minutes = the 5 hours; 3 x 0.5 x 0.5 = 0.75.
    # A session instead (2 x 60 + 120 = 240 min) would avert 3 x 0.1 = 0.3 (+0.2 with one visit): less.
    plan = plan_visits(people(("A", [0.5, 0.5, 0.5])), villages(("A", "Hong Thai", 60)), "A Luoi=5", CONFIG)
    assert len(plan.trips) == 1
    trip = plan.trips.iloc[0]
    assert (trip["home_visits"], bool(trip["session"]), trip["minutes"]) == (3, False, 300)
    assert plan.officer_hours == pytest.approx(5.0)
    assert plan.expected_averted == pytest.approx(0.75)
    assert (plan.visits["action"] == "home_visit").all() and plan.visits["trip"].nunique() == 1
    assert plan.visits["visit_order"].tolist() == [1, 2, 3]


def test_far_village_with_one_low_risk_person_is_not_chosen_over_near_village_with_several():
    # Far: 2 x 170 + 60 = 400 min for 0.2 x 0.5 = 0.1. Near: 3 visits, 2 x 15 + 180 = 210 min,
    # 0.9; with the session too, 330 min, 3 x 0.6 x (1 - 0.5 x 0.8) = 1.08. 420 minutes: near only.
    vill = villages(("NEAR", "Hong Thai", 15), ("FAR", "Hong Kim", 170))
    plan = plan_visits(people(("NEAR", [0.6, 0.6, 0.6]), ("FAR", [0.2])), vill, "7", CONFIG)
    assert plan.trips["village_id"].tolist() == ["NEAR"]
    assert plan.trips["minutes"].tolist() == [330]
    assert plan.expected_averted == pytest.approx(1.08)


def test_far_single_high_risk_loses_to_near_group_even_when_riskier():
    # 400 min available. Far: 0.9 x 0.5 = 0.45 for 400 min. Near: 4 visits, 2 x 15 + 240 = 270 min,
    # 1.0; with the session too, 390 min, 4 x 0.5 x (1 - 0.5 x 0.8) = 1.2. Risk rank would go far.
    vill = villages(("NEAR", "Hong Thai", 15), ("FAR", "Hong Kim", 170))
    plan = plan_visits(people(("NEAR", [0.5] * 4), ("FAR", [0.9])), vill, f"{400 / 60}", CONFIG)
    assert plan.trips["village_id"].tolist() == ["NEAR"]
    assert plan.expected_averted == pytest.approx(1.2)


def test_evening_session_when_a_village_has_many_at_risk_people():
    # 4 hours, travel 60: visits fit 2 (2 x 60 + 2 x 60 = 240) for 0.5; a session (120 + 120 = 240)
    # reaches the 10 most at risk for 10 x 0.5 x 0.2 = 1.0.
    plan = plan_visits(people(("A", [0.5] * 12)), villages(("A", "Hong Thai", 60)), "A Luoi=4", CONFIG)
    assert plan.trips["session"].tolist() == [True]
    assert plan.trips["minutes"].tolist() == [240]
    assert (plan.visits["action"] == "evening_session").all() and len(plan.visits) == 10
    assert plan.expected_averted == pytest.approx(1.0)
    assert plan.pools["sessions"].tolist() == [1]


def test_few_people_get_home_visits_not_a_session():
    # 4 hours: 2 visits (240 min) avert 0.5, a session (240 min) 2 x 0.1 = 0.2.
    plan = plan_visits(people(("A", [0.5, 0.5])), villages(("A", "Hong Thai", 60)), "A Luoi=4", CONFIG)
    assert not plan.trips["session"].any()
    assert plan.visits["action"].eq("home_visit").all() and len(plan.visits) == 2


def test_session_counts_enrolled_villagers_not_scored():
    # 3 scored at 0.5: a session alone would avert 0.3 < 2 visits (0.5) in 240 min. With 10
    # enrolled, the 7 unscored count at the scored mean gain (0.1 each): 1.0 > 0.5.
    vill = villages(("A", "Hong Thai", 60))
    scores = people(("A", [0.5] * 3))
    without = plan_visits(scores, vill, "A Luoi=4", CONFIG)
    assert not without.trips["session"].any()
    with_enrolled = plan_visits(scores, vill.assign(enrolled=10), "A Luoi=4", CONFIG)
    trip = with_enrolled.trips.iloc[0]
    assert bool(trip["session"]) and trip["villagers_not_scored"] == 7
    assert with_enrolled.expected_averted == pytest.approx(1.0)


def test_a_village_needing_more_than_a_day_gets_several_trips_each_paying_travel():
    # travel 60: a day holds (480 - 120) / 60 = 6 visits; 8 people -> 2 trips: 2 x 120 + 8 x 60 = 720.
    cfg = plan_config_from_dict({**RAW, "evening_session": {**RAW["evening_session"], "max_people": 1}})
    plan = plan_visits(people(("A", [0.5] * 8)), villages(("A", "Hong Thai", 60)), "A Luoi=12", cfg)
    assert sorted(plan.trips["home_visits"]) == [2, 6]
    assert plan.trips["minutes"].sum() == 720
    assert (plan.trips["minutes"] <= 480).all()
    assert plan.days["officer_day"].tolist() == ["A Luoi - Ngày 1", "A Luoi - Ngày 2"]


def test_capacity_respected_per_commune_including_travel_both_ways():
    vill = villages(("A", "Hong Thai", 30), ("B", "Hong Thai", 90), ("C", "Hong Kim", 45), ("D", "A Ngo", 10))
    scores = people(("A", [0.4] * 5), ("B", [0.7] * 3), ("C", [0.3] * 9), ("D", [0.9] * 4))
    plan = plan_visits(scores, vill, "Hong Thai=6,Hong Kim=4", CONFIG)
    assert set(plan.trips["village_id"]) <= {"A", "B", "C"}  # A Ngo has no hours
    travel = vill.set_index("village_id")["travel_minutes"]
    minutes = 2 * plan.trips["village_id"].map(travel) + 60 * plan.trips["home_visits"] + 120 * plan.trips["session"]
    assert (minutes == plan.trips["minutes"]).all()
    used = plan.trips.groupby("pool")["minutes"].sum()
    assert used.get("A Luoi/Hong Thai", 0) <= 360 and used.get("A Luoi/Hong Kim", 0) <= 240
    assert set(plan.pools["pool"]) == {"A Luoi/Hong Thai", "A Luoi/Hong Kim"}


def test_village_too_far_for_a_day_is_reported_not_planned():
    vill = villages(("FAR", "Hong Thai", 250), ("A", "Hong Thai", 30))
    plan = plan_visits(people(("FAR", [0.9]), ("A", [0.1])), vill, "40", CONFIG)
    assert "FAR" not in set(plan.trips["village_id"])
    assert plan.unreachable["village_id"].tolist() == ["FAR"]


def test_nothing_fits_gives_an_empty_plan():
    plan = plan_visits(people(("A", [0.5])), villages(("A", "Hong Thai", 120)), "A Luoi=1", CONFIG)
    assert plan.trips.empty and plan.visits.empty and plan.expected_averted == 0
    assert plan.pools["hours_used"].tolist() == [0.0]


def test_same_input_same_plan():
    vill = villages(("A", "Hong Thai", 30), ("B", "Hong Kim", 90))
    scores = people(("A", [0.4, 0.3, 0.2]), ("B", [0.7, 0.7]))
    a, b = plan_visits(scores, vill, "10", CONFIG), plan_visits(scores, vill, "10", CONFIG)
    pd.testing.assert_frame_equal(a.visits, b.visits)
    pd.testing.assert_frame_equal(a.trips, b.trips)


# ---------------------------------------------------------------- input and config errors


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda s, v: (s.drop(columns="risk"), v), "scores: missing column(s) ['risk']"),
        (lambda s, v: (s.assign(risk=[1.5]), v), "scores.risk: must be a probability"),
        (lambda s, v: (s.assign(village_id=["X"]), v), "scores.village_id: not in villages"),
        (lambda s, v: (pd.concat([s, s]), v), "scores.participant_id: duplicated"),
        (lambda s, v: (s, v.assign(travel_minutes=[-5])), "villages.travel_minutes"),
    ],
)
def test_bad_inputs_are_refused_naming_the_column(change, words):
    scores, vill = change(people(("A", [0.5])), villages(("A", "Hong Thai", 30)))
    with pytest.raises(PlanInputError) as err:
        plan_visits(scores, vill, "10", CONFIG)
    assert words in str(err.value)


def test_config_refuses_missing_and_unknown_keys():
    with pytest.raises(ConfigError, match="home_visit"):
        plan_config_from_dict({k: v for k, v in RAW.items() if k != "home_visit"})
    with pytest.raises(ConfigError, match="exactly one of relative_reduction or log_odds_change"):
        plan_config_from_dict({**RAW, "home_visit": {"minutes": 45}})
    with pytest.raises(ConfigError, match="typo"):
        plan_config_from_dict({**RAW, "typo": 1})
    with pytest.raises(ConfigError, match="--visit-minutes"):
        CONFIG.with_visit_minutes(0)


def test_the_project_config_loads_and_visit_minutes_override():
    cfg = load_plan_config()
    assert cfg.home_visit.minutes == 45 and cfg.day_minutes == 480
    assert cfg.with_visit_minutes(30).home_visit.minutes == 30


def test_assumed_gains_forms():
    g = assumed_gains(np.array([0.5]), CONFIG)
    assert g.iloc[0].tolist() == pytest.approx([0.25, 0.1, 0.5 - 0.5 * 0.5 * 0.8])
    logodds = plan_config_from_dict({**RAW, "home_visit": {"minutes": 60, "log_odds_change": -np.log(3)}})
    assert assumed_gains(np.array([0.5]), logodds)["gain_visit"].iloc[0] == pytest.approx(0.25)


def test_the_planner_never_reads_the_simulator():
    """True visit effects are for evaluation only: no planning module imports dropout.simulate."""
    root = Path(__file__).resolve().parents[1] / "src" / "dropout"
    for path in [*(root / "plan").glob("*.py"), root / "commands" / "plan.py"]:
        if path.name == "evaluate.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not [m for m in names if m.startswith("dropout.simulate")], path


# ---------------------------------------------------------------- Excel


def test_excel_has_one_sheet_per_officer_day_with_bilingual_headers(tmp_path):
    cfg = plan_config_from_dict({**RAW, "evening_session": {**RAW["evening_session"], "max_people": 1}})
    vill = villages(("A", "Hong Thai", 60), ("B", "Hong Kim", 100))
    plan = plan_visits(people(("A", [0.5] * 8), ("B", [0.6] * 2)), vill, "A Luoi=20", cfg)
    files = write_plan(plan, tmp_path)
    assert {"plan_parquet", "plan_csv", "trips_csv", "pools_csv", "plan_xlsx"} <= set(files)
    wb = load_workbook(files["plan_xlsx"])
    assert wb.sheetnames == plan.days["officer_day"].tolist()
    assert len(wb.sheetnames) >= 2
    for ws in wb.worksheets:
        headers = [c.value for c in ws[1]]
        assert "Mã số BHXH / SI number" in headers and "Thôn/bản / Village" in headers
        assert "Hình thức / Action" in headers and "Số người giữ được (kỳ vọng) / Expected lapses averted" in headers
        assert all(" / " in h for h in headers)
        sessions = int(plan.trips.loc[plan.trips["officer_day"] == ws.title, "session"].sum())
        assert ws.max_row - 1 == int((plan.visits["officer_day"] == ws.title).sum()) + sessions
    back = pd.read_parquet(files["plan_parquet"])
    assert len(back) == len(plan.visits) and "reason_1_vi" in back.columns


# ---------------------------------------------------------------- properties


def _brute_force_best(scores, vill, hours, config) -> float:
    """The best total value over every combination of one option per village."""
    p = scores.copy()
    for c, g in assumed_gains(p["risk"].to_numpy(), config).items():
        p[c] = g.to_numpy()
    ids = np.unique(p["village_id"])
    p["v"] = np.searchsorted(ids, p["village_id"])
    travel = vill.set_index("village_id").loc[ids, "travel_minutes"].to_numpy(float)
    opt = village_options(rank_people(p, config), travel, np.full(len(ids), hours * 60), config)
    choices = [[(0.0, 0.0)] + list(zip(g["cost"], g["value"])) for _, g in opt.groupby("v")]
    best = 0.0
    for combo in itertools.product(*choices):
        if sum(c for c, _ in combo) <= hours * 60 + 1e-9:
            best = max(best, sum(v for _, v in combo))
    return best


world = st.integers(1, 4).flatmap(
    lambda n_v: st.tuples(
        st.lists(st.integers(0, 260), min_size=n_v, max_size=n_v),
        st.lists(st.tuples(st.integers(0, n_v - 1), st.floats(0.0, 1.0)), min_size=1, max_size=9),
        st.floats(0.5, 30.0),
    )
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world)
def test_capacity_is_never_exceeded_and_the_plan_is_optimal(w):
    travel, persons, hours = w
    vill = pd.DataFrame({"village_id": [f"V{i}" for i in range(len(travel))], "commune": "C", "district": "D",
                         "travel_minutes": travel})
    scores = pd.DataFrame({"participant_id": np.arange(1, len(persons) + 1),
                           "village_id": [f"V{i}" for i, _ in persons], "risk": [r for _, r in persons]})
    plan = plan_visits(scores, vill, f"D={hours}", CONFIG)
    assert plan.officer_hours <= hours + 1e-9
    assert (plan.trips["minutes"] <= CONFIG.day_minutes).all()
    assert (plan.days["minutes"] <= CONFIG.day_minutes).all()
    home = plan.visits[plan.visits["action"] != "evening_session"]
    assert not home["participant_id"].duplicated().any()
    assert plan.visits["expected_averted"].sum() == pytest.approx(plan.expected_averted)
    assert plan.expected_averted == pytest.approx(float(plan.pools["expected_averted"].sum()))
    assert plan.expected_averted <= float(plan.pools["lp_bound"].sum()) + 1e-9
    assert plan.expected_averted == pytest.approx(_brute_force_best(scores, vill, hours, CONFIG), abs=1e-9)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.floats(1.0, 60.0))
def test_capacity_respected_on_bigger_random_districts(seed, hours):
    rng = np.random.default_rng(seed)
    n_v = 40
    vill = pd.DataFrame({"village_id": [f"V{i}" for i in range(n_v)], "commune": [f"C{i % 5}" for i in range(n_v)],
                         "district": [f"D{i % 5 % 2}" for i in range(n_v)], "travel_minutes": rng.integers(0, 240, n_v)})
    n = 300
    scores = pd.DataFrame({"participant_id": np.arange(1, n + 1), "village_id": rng.choice(vill["village_id"], n),
                           "risk": rng.beta(1, 5, n)})
    cfg = load_plan_config()
    plan = plan_visits(scores, vill.assign(enrolled=rng.integers(5, 40, n_v)), f"{hours}, D1/C1={hours / 3:.2f}", cfg)
    used = plan.trips.groupby("pool")["minutes"].sum() / 60
    cap = plan.pools.set_index("pool")["capacity_hours"]
    assert (used <= cap.reindex(used.index) + 1e-9).all()
    assert (plan.trips["minutes"] <= cfg.day_minutes).all()
    assert set(plan.trips.loc[plan.trips["commune"] == "C1", "pool"]) <= {"D1/C1"}


def test_excel_session_row_names_the_whole_village(tmp_path):
    vill = villages(("A", "Hong Thai", 60)).assign(enrolled=20)
    plan = plan_visits(people(("A", [0.5] * 12)), vill, "A Luoi=4", CONFIG)
    ws = load_workbook(write_plan(plan, tmp_path)["plan_xlsx"]).worksheets[0]
    actions = [r[6] for r in ws.iter_rows(min_row=2, values_only=True)]
    assert actions[0].startswith("Họp thôn buổi tối, cả thôn (") and "Evening session, whole village" in actions[0]
    assert actions[1:] == ["Mời họp thôn buổi tối / Invite to evening session"] * 10
