"""The subsidy what-if: policy files refused with clear errors, the table a policy makes,
the budget cost on a hand-computed case, and a response monotone in net cost."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import TablesBuilder, random_tables

from dropout.features import feature_names
from dropout.reference import contribution_rules, subsidy_policies
from dropout.whatif import PolicyError, apply_policy, read_policy_file, run_whatif
from dropout.whatif.policy import parse_policies

RULES = contribution_rules()
LINE = RULES.poverty_line_vnd
PROVINCES = ["Quang Nam", "Quang Ninh", "Quang Tri", "Thua Thien Hue"]
HEADER = "policy,province,group,valid_from,valid_to,rate\n"


def write(tmp_path, text: str, name: str = "policies.csv"):
    path = tmp_path / name
    path.write_text(HEADER + text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- validation


def test_a_valid_file_gives_one_policy_per_name_in_file_order(tmp_path):
    path = write(tmp_path, "raise,Quang Tri,ethnic_minority,2025-01-01,2026-12-31,0.10\n"
                           "central,*,near_poor,2025-07-01,,60%\n"
                           "raise,Quang Tri,other,2025-01-01,2026-12-31,0.05\n")
    pols = read_policy_file(path, PROVINCES)
    assert [p.name for p in pols] == ["raise", "central"]
    assert len(pols[0].rows) == 2
    assert pols[1].rows["rate"].iloc[0] == pytest.approx(0.60)
    assert pols[1].rows["valid_to"].iloc[0] > pd.Timestamp("2200-01-01")  # open-ended


def test_overlapping_rows_of_one_policy_are_refused_naming_both_lines(tmp_path):
    path = write(tmp_path, "p,Quang Tri,poor,2025-01-01,2025-12-31,0.2\n"
                           "p,Quang Tri,near_poor,2025-01-01,2025-12-31,0.2\n"
                           "p,Quang Tri,poor,2025-06-01,,0.3\n")
    with pytest.raises(PolicyError) as err:
        read_policy_file(path, PROVINCES)
    msg = str(err.value)
    assert "lines 2 and 4" in msg and "Quang Tri / poor" in msg and "overlapping" in msg


def test_the_same_group_in_two_policies_is_no_overlap(tmp_path):
    path = write(tmp_path, "a,Quang Tri,poor,2025-01-01,,0.2\nb,Quang Tri,poor,2025-01-01,,0.3\n")
    assert [p.name for p in read_policy_file(path, PROVINCES)] == ["a", "b"]


@pytest.mark.parametrize("rate", ["1.5", "-0.1", "120%"])
def test_rates_out_of_range_are_refused(tmp_path, rate):
    path = write(tmp_path, f"p,Quang Tri,poor,2025-01-01,,{rate}\n")
    with pytest.raises(PolicyError, match=r"line 2: rate .* out of range"):
        read_policy_file(path, PROVINCES)


def test_unknown_province_and_group_are_refused_with_a_suggestion(tmp_path):
    path = write(tmp_path, "p,Quang Trii,poor,2025-01-01,,0.1\np,Quang Tri,minority,2025-01-01,,0.1\n")
    with pytest.raises(PolicyError) as err:
        read_policy_file(path, PROVINCES)
    msg = str(err.value)
    assert "2 problem(s)" in msg
    assert "line 2: unknown province 'Quang Trii'; did you mean 'Quang Tri'?" in msg
    assert "line 3: unknown group 'minority'" in msg and "ethnic_minority" in msg


def test_bad_dates_missing_columns_and_reversed_dates(tmp_path):
    path = write(tmp_path, "p,Quang Tri,poor,soon,,0.1\np,Quang Tri,other,2025-06-01,2025-01-01,0.1\n")
    with pytest.raises(PolicyError) as err:
        read_policy_file(path, PROVINCES)
    assert "line 2: valid_from 'soon' is not a date" in str(err.value)
    assert "line 3: valid_to 2025-01-01 is before valid_from 2025-06-01" in str(err.value)
    bad = tmp_path / "bad.csv"
    bad.write_text("province,group,rate\nQuang Tri,poor,0.1\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"missing column\(s\) \['valid_from', 'valid_to'\]"):
        read_policy_file(bad, PROVINCES)
    with pytest.raises(PolicyError, match="no such file"):
        read_policy_file(tmp_path / "none.csv", PROVINCES)


# ---------------------------------------------------------------- applying a policy


def test_a_policy_replaces_the_current_rate_only_over_its_dates():
    current = subsidy_policies()
    raw = pd.DataFrame({"province": ["Quang Nam"], "group": ["other"], "valid_from": ["2025-01-01"],
                        "valid_to": ["2025-06-30"], "rate": ["0"]})
    table = apply_policy(current, parse_policies(raw, "t", PROVINCES)[0])
    qn = table[(table["province"] == "Quang Nam") & (table["group"] == "other")]
    assert list(zip(qn["valid_from"].dt.date.astype(str), qn["valid_to"].dt.date.astype(str))) == [
        ("2022-01-01", "2024-12-31"), ("2025-07-01", "2025-12-31")]
    others = table[~((table["province"] == "Quang Nam") & (table["group"] == "other"))]
    assert len(others) == len(current) - 1  # every other row untouched
    # brought forward: a row starting after the scoring day counts from that day
    raw2 = raw.assign(rate=["0.3"], valid_from=["2025-03-01"], valid_to=[""])
    table2 = apply_policy(current, parse_policies(raw2, "t", PROVINCES)[0], in_force_from="2025-01-31")
    row = table2[(table2["province"] == "Quang Nam") & (table2["group"] == "other") & (table2["rate"] == 0.3)]
    assert row["valid_from"].iloc[0] == pd.Timestamp("2025-01-31") and row["valid_to"].isna().all()


# ---------------------------------------------------------------- budget cost by hand


class StubModel:
    """Risk 0.3 without a provincial top-up and 0.1 with one (reads the feature column)."""

    def __init__(self):
        self.feature_names = feature_names()
        self.monotone = [0] * len(self.feature_names)
        self._at = self.feature_names.index("subsidy_rate_provincial")

    def predict_proba(self, X):
        return np.where(np.asarray(X)[:, self._at] > 0, 0.1, 0.3)


def test_budget_cost_on_a_hand_computed_case():
    b = TablesBuilder(extracted_on="2025-12-31")
    b.village("V1", province="Thua Thien Hue", district="A Luoi", commune="Hong Thai")
    pid = b.participant(enrolled_on="2024-01-10", ethnicity="Kinh", occupation="farmer")
    b.schedule(pid)
    tables = b.build()
    raw = pd.DataFrame({"policy": ["topup"], "province": ["Thua Thien Hue"], "group": ["other"],
                        "valid_from": ["2025-10-01"], "valid_to": [""], "rate": ["0.10"]})
    result = run_whatif(tables, StubModel(), parse_policies(raw, "t", PROVINCES), "2025-10-01", "12m")
    row = result.summary.set_index("policy").loc["topup"]
    # central 'other' 20 % from 2025-07; support for 12 months: rate x 22 % x 1,500,000 x 12
    now = 0.20 * 0.22 * LINE * 12  # 792,000
    new = 0.30 * 0.22 * LINE * 12  # 1,188,000
    assert now == pytest.approx(792_000) and new == pytest.approx(1_188_000)
    assert row["people"] == 1 and row["people_support_changed"] == 1
    assert row["expected_lapses_current"] == pytest.approx(0.3)
    assert row["contributors_kept"] == pytest.approx(0.2)
    assert row["contribution_months_kept"] == pytest.approx(2.4)
    # paid with probability 0.9 at the new support, 0.7 at the old: 1,069,200 - 554,400
    assert row["budget_cost_vnd_year"] == pytest.approx(514_800)
    assert row["cost_per_kept_vnd"] == pytest.approx(2_574_000)
    assert result.by["district"].set_index(["policy", "district"]).loc[("topup", "A Luoi"), "contributors_kept"] \
        == pytest.approx(0.2)
    assert set(result.by) == {"province", "district", "commune", "ethnicity", "poverty_status"}
    assert result.by["province"]["province"].tolist() == ["Thua Thien Hue", "Thua Thien Hue"]


# ---------------------------------------------------------------- monotone in net cost


def _small_model(tables):
    from dropout.features import load_catalog
    from dropout.labels import build_training_frame
    from dropout.model.gbm import DropoutModel, monotone_constraints

    names = feature_names()
    frame = build_training_frame(tables, pd.date_range("2022-06-01", "2025-06-01", freq="MS"), "lapse",
                                 horizon_days=365)
    cut = pd.Timestamp("2025-01-01")
    tr, va = frame[frame["as_of"] < cut], frame[frame["as_of"] >= cut]
    return DropoutModel({"num_leaves": 7, "min_data_in_leaf": 10, "learning_rate": 0.2, "verbosity": -1,
                         "num_threads": 1, "seed": 1, "deterministic": True},
                        feature_names=names, monotone=monotone_constraints(load_catalog(), names),
                        num_boost_round=40, early_stopping_rounds=40,
                        metadata={"target": "lapse", "horizon_days": 365}).fit(
        tr[names], tr["label"], va[names], va["label"])


def test_more_support_never_raises_anyones_risk():
    tables = random_tables(seed=2, n_participants=200)
    model = _small_model(tables)
    raw = pd.DataFrame({"policy": ["more", "less"], "province": ["*", "*"], "group": ["other", "other"],
                        "valid_from": ["2025-07-01", "2025-07-01"], "valid_to": ["", ""], "rate": ["0.6", "0"]})
    result = run_whatif(tables, model, parse_policies(raw, "t"), "2025-10-01", "12m")
    assert result.monotone["monotone"], result.monotone
    people = result.people
    more, less = people[people["policy"] == "more"], people[people["policy"] == "less"]
    assert (more["support_rate"] >= more["support_rate_current"]).all()
    assert (more["risk"] <= more["risk_current"] + 1e-12).all()
    assert (less["risk"] >= less["risk_current"] - 1e-12).all()
    # a central 'other' rate of 60 % lies outside the rates seen in training: reported
    oor = result.out_of_range.set_index(["policy", "feature"])
    assert oor.loc[("more", "subsidy_rate_central"), "people_outside"] \
        > oor.loc[("current", "subsidy_rate_central"), "people_outside"]


# ---------------------------------------------------------------- the command


@pytest.mark.slow
def test_the_command_writes_the_report_and_refuses_a_bad_policy_file(tmp_path):
    import json

    from typer.testing import CliRunner
    from test_score_world import AS_OF, write_world

    from dropout.cli import app

    data, model = write_world(tmp_path)
    good = write(tmp_path, "raise,Thua Thien Hue,other,2025-10-01,,0.10\nend,*,poor,2025-10-01,,0\n")
    runner = CliRunner()
    res = runner.invoke(app, ["whatif", "--data", str(data), "--policy", str(good), "--as-of", AS_OF,
                              "--horizon", "12m", "--model", str(model), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    (folder,) = (tmp_path / "out").iterdir()
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "raise" in report and "end" in report and "data:image/png;base64," in report
    meta = json.loads((folder / "whatif.json").read_text(encoding="utf-8"))
    assert meta["policy_files"][0]["sha256"] and meta["model"]["sha256"]
    assert {r["policy"] for r in meta["summary"]} == {"current", "raise", "end"}
    assert "participant_id" not in (folder / "by_commune.csv").read_text(encoding="utf-8")

    bad = write(tmp_path, "p,Thua Thien Hue,poor,2025-10-01,,2\n", name="bad.csv")
    res = runner.invoke(app, ["whatif", "--data", str(data), "--policy", str(bad), "--as-of", AS_OF,
                              "--model", str(model), "--out", str(tmp_path / "out2")])
    assert res.exit_code == 2 and "line 2: rate 2 is out of range" in res.output
    assert not (tmp_path / "out2").exists()
