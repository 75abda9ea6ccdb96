"""Made-up data for the web pages' tests and for a demo before a scoring run exists.

Two small districts with contract-valid raw tables, heuristic scores with reasons in
both languages, and the real planner's plan of them. Nothing here is a model: the risk is a made-up
formula, and pages built on it show a "test data" banner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dropout.schema import Tables
from dropout.reference import subsidy_policies
from dropout.score.output import LANGS, N_REASONS, SCORE_COLUMNS, risk_band
from dropout.simulate.contacts import addresses, full_names, phones
from dropout.web.data import InMemoryData

EXTRACTED_ON = pd.Timestamp("2025-06-10")
WINDOW_DAYS = 30
FAKE_RUN_ID = "fake-run-1"
# district -> (province, {commune: [(village_id, travel_minutes, ethnic_language)]})
GEOGRAPHY = {
    "A Lưới": (
        "Thua Thien Hue",
        {
            "Hồng Thái": [("ALU-HT-01", 75, "Ta Oi"), ("ALU-HT-02", 95, "Ta Oi")],
            "A Ngo": [("ALU-AN-01", 20, "Pa Ko"), ("ALU-AN-02", 35, "Vietnamese")],
            "Hồng Vân": [("ALU-HV-01", 140, "Ta Oi")],
        },
    ),
    "Hướng Hóa": (
        "Quang Tri",
        {
            "Hướng Phùng": [("HHO-HP-01", 60, "Van Kieu"), ("HHO-HP-02", 80, "Van Kieu")],
            "A Dơi": [("HHO-AD-01", 110, "Pa Ko")],
        },
    ),
}
_MODES = {"monthly": (1, 1), "quarterly": (3, 3), "semiannual": (6, 4), "annual": (12, 7)}
_POVERTY_LINE = 1_500_000
_RATE = 0.22


def fake_tables(participants_per_district: int = 40, seed: int = 0) -> Tables:
    """Contract-valid raw tables of two small districts, extracted on EXTRACTED_ON."""
    rng = np.random.default_rng(seed)
    villages = pd.DataFrame(
        [
            (vid, commune, district, province, minutes, language)
            for district, (province, communes) in GEOGRAPHY.items()
            for commune, vs in communes.items()
            for vid, minutes, language in vs
        ],
        columns=["village_id", "commune", "district", "province", "travel_minutes", "ethnic_language"],
    )
    villages["travel_minutes"] = villages["travel_minutes"].astype("int64")
    villages["village_name"] = [f"Thôn {name}" for name in ("A Đớt", "Pa Ríp", "Ka Vá", "Thôn 2", "Ta Lo", "Tà Rùng",
                                                              "Xa Re", "A Xói")][: len(villages)]
    villages["village_name"] = villages["village_name"].str.replace("Thôn Thôn", "Thôn")

    people, installments, poverty, visits = [], [], [], []
    pid = 4600000000
    for district in GEOGRAPHY:
        vids = villages.loc[villages["district"] == district, "village_id"].to_numpy()
        for k in range(participants_per_district):
            pid += int(rng.integers(1, 50))
            household = 7000000 + len(people)
            vid = str(vids[k % len(vids)])
            mode = str(rng.choice(list(_MODES), p=[0.5, 0.2, 0.15, 0.15]))
            enrolled = pd.Timestamp(year=int(rng.integers(2019, 2024)), month=int(rng.integers(1, 13)), day=1)
            base = int(_POVERTY_LINE * rng.choice([1, 1, 1, 2]))
            people.append((pid, household, vid, int(rng.integers(1960, 2000)), str(rng.choice(["F", "M"])),
                           str(rng.choice(["Ta Oi", "Pa Ko", "Van Kieu", "Kinh"])),
                           str(rng.choice(["farmer", "farmer", "forest_worker", "trader"])),
                           enrolled, mode, base))
            reliability = rng.beta(5, 2)
            installments += _schedule(rng, pid, enrolled, mode, base, reliability)
            left_poor = rng.random() < 0.3
            if left_poor:
                poverty.append((household, "poor", pd.Timestamp("2019-01-01"), pd.Timestamp("2024-12-31")))
                poverty.append((household, "none", pd.Timestamp("2025-01-01"), pd.NaT))
            else:
                poverty.append((household, str(rng.choice(["poor", "near_poor", "none"])), pd.Timestamp("2019-01-01"), pd.NaT))
            if rng.random() < 0.25:
                day = EXTRACTED_ON - pd.Timedelta(days=int(rng.integers(20, 400)))
                visits.append((pid, vid, day, "home_visit", "Vietnamese", "Đã giải thích quyền lợi hưu trí"))
    participants = pd.DataFrame(people, columns=["participant_id", "household_id", "village_id", "birth_year", "sex",
                                                 "ethnicity", "occupation", "enrolled_on", "payment_mode", "income_base"])
    names_rng = np.random.default_rng([seed, 1])
    participants["full_name"] = full_names(names_rng, participants["ethnicity"].to_numpy(object),
                                           participants["sex"].to_numpy(object))
    participants["phone"] = phones(names_rng, len(participants))
    participants["address"] = addresses(names_rng, len(participants))
    inst = pd.DataFrame(installments, columns=["participant_id", "period_start", "due_on", "months_covered",
                                               "income_base", "amount_due", "paid_on", "amount_paid"])
    inst["amount_paid"] = pd.array(inst["amount_paid"], dtype="Int64")
    pov = pd.DataFrame(poverty, columns=["household_id", "status", "valid_from", "valid_to"]).drop_duplicates(
        ["household_id", "valid_from"])
    vis = pd.DataFrame(visits, columns=["participant_id", "village_id", "visited_on", "kind", "language", "outcome_note"])
    vis.insert(0, "visit_id", np.arange(1, len(vis) + 1, dtype="int64"))
    vis["participant_id"] = pd.array(vis["participant_id"], dtype="Int64")
    disasters = pd.DataFrame(
        [("Hồng Thái", pd.Timestamp("2024-10-28"), "flood", 3), ("Hồng Vân", pd.Timestamp("2024-09-15"), "landslide", 2),
         ("A Dơi", pd.Timestamp("2023-10-10"), "flash_flood", 2), ("Hướng Phùng", pd.Timestamp("2025-04-02"), "drought", 1)],
        columns=["commune", "started_on", "kind", "severity"],
    )
    return Tables(
        villages=villages,
        participants=participants,
        installments=inst,
        poverty=pov.reset_index(drop=True),
        disasters=disasters,
        subsidy_policies=subsidy_policies(),
        visits=vis,
        withdrawals=pd.DataFrame({"participant_id": pd.Series(dtype="int64"),
                                  "claimed_on": pd.Series(dtype="datetime64[ns]")}),
        extracted_on=EXTRACTED_ON,
    )


def _schedule(rng, pid, enrolled, mode, base, reliability) -> list[tuple]:
    months, deadline = _MODES[mode]
    rows = []
    start = enrolled
    horizon = EXTRACTED_ON + pd.DateOffset(months=12)
    while start <= horizon:
        due = start + pd.DateOffset(months=deadline) - pd.Timedelta(days=1)
        amount = int(_RATE * base * months)
        paid_on, paid = pd.NaT, None
        if due < EXTRACTED_ON and rng.random() < 0.6 + 0.4 * reliability:
            late = rng.random() > reliability
            shift = int(rng.integers(1, 60)) if late else -int(rng.integers(0, 25))
            paid_on = min(max(due + pd.Timedelta(days=shift), enrolled), EXTRACTED_ON)
            paid = int(amount * 0.7)
        rows.append((pid, start, due, months, base, amount, paid_on, paid))
        start = start + pd.DateOffset(months=months)
    return rows


_REASONS = {
    "late": ("Đã đóng trễ {k} trong {n} kỳ gần nhất", "Paid late in {k} of the last {n} installments"),
    "unpaid": ("Còn {k} kỳ chưa đóng", "{k} installments still unpaid"),
    "poverty": ("Hộ vừa ra khỏi danh sách hộ nghèo nên mức hỗ trợ giảm",
                "The household recently left the poor list, so the state support fell"),
    "disaster": ("Xã bị thiên tai nặng trong năm qua", "The commune had a severe disaster in the past year"),
    "routine": ("Kỳ gần nhất không đóng đúng hạn", "Did not pay the last installment on time"),
    "amount": ("Kỳ tới phải đóng {a} đồng", "The next payment is {a} VND"),
}


ACTIONS = {
    "arrears": ("Hướng dẫn đóng bù các tháng còn nợ", "Help with a make-up payment for the months owed"),
    "late": ("Thống nhất ngày đóng trước hạn", "Agree on a date before the deadline"),
    "poverty": ("Kiểm tra việc xét hộ nghèo của hộ", "Check the household's poverty listing"),
    "disaster": ("Hỏi thăm thiệt hại do thiên tai", "Ask about disaster losses"),
    "cost": ("Giải thích số tiền sau hỗ trợ", "Explain the amount after support"),
}


def fake_scores(tables: Tables, as_of: pd.Timestamp = EXTRACTED_ON, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    """Heuristic scores of everyone due in (as_of, as_of + window]: a stand-in for a scoring run."""
    inst = tables.installments
    nxt = inst[(inst["due_on"] > as_of) & (inst["due_on"] <= as_of + pd.Timedelta(days=window_days))]
    nxt = nxt.sort_values("due_on").drop_duplicates("participant_id")
    past = inst[inst["due_on"] <= as_of].sort_values("due_on").groupby("participant_id").tail(8)
    past = past.assign(late=(past["paid_on"] > past["due_on"]), unpaid=past["paid_on"].isna())
    hist = past.groupby("participant_id").agg(n=("due_on", "size"), late=("late", "sum"), unpaid=("unpaid", "sum"))
    people = tables.participants.merge(tables.villages, on="village_id")
    left_poor = tables.poverty[(tables.poverty["status"] == "none") & (tables.poverty["valid_from"] > as_of - pd.Timedelta(days=365))]
    hit = tables.disasters[(tables.disasters["started_on"] > as_of - pd.Timedelta(days=365)) & (tables.disasters["severity"] >= 2)]
    rows = nxt.merge(people, on="participant_id").merge(hist, on="participant_id", how="left").fillna({"n": 0, "late": 0, "unpaid": 0})
    rows["poverty_loss"] = rows["household_id"].isin(left_poor["household_id"])
    rows["disaster"] = rows["commune"].isin(hit["commune"])
    share = (rows["late"] + 2 * rows["unpaid"]) / rows["n"].clip(lower=1)
    logit = -2.2 + 2.5 * share + 1.2 * rows["poverty_loss"] + 0.8 * rows["disaster"] + rows["travel_minutes"] / 120
    rows["risk"] = 1 / (1 + np.exp(-logit))
    rows["risk_band"] = risk_band(rows["risk"].to_numpy())
    rows = rows.sort_values(["risk", "participant_id"], ascending=[False, True]).reset_index(drop=True)
    rows["rank_in_district"] = rows.groupby("district").cumcount() + 1
    rows["rank_in_commune"] = rows.groupby(["district", "commune"]).cumcount() + 1
    support = np.select([rows["poverty_loss"], rows["ethnicity"] != "Kinh"], [0.2, 0.3], 0.2)
    rows["net_amount"] = (rows["amount_due"] - support * _RATE * _POVERTY_LINE * rows["months_covered"]).clip(lower=0).round().astype("int64")
    rows["arrears_installments"] = rows["unpaid"].astype("int64")
    rows["arrears_vnd"] = (rows["arrears_installments"] * rows["amount_due"]).astype("int64")
    rows["status"] = np.where(rows["arrears_installments"] > 0, "in_arrears", "paying")
    rows["arrears_months"] = (rows["arrears_installments"] * rows["months_covered"]).astype("int64")
    oldest = past[past["unpaid"]].groupby("participant_id")["due_on"].min()
    rows["arrears_since"] = rows["participant_id"].map(oldest).astype("datetime64[ns]")
    rows.loc[rows["arrears_installments"] == 0, "arrears_since"] = pd.NaT
    reasons = [_reasons_of(r) for r in rows.itertuples(index=False)]
    for i in range(N_REASONS):
        for j, lang in enumerate(LANGS):
            rows[f"reason_{i + 1}_{lang}"] = [rs[i][j] if i < len(rs) else None for rs in reasons]
        rows[f"reason_{i + 1}_feature"] = [rs[i][2] if i < len(rs) else None for rs in reasons]
    first = [rs[0][2] if rs else None for rs in reasons]
    actions = {"unpaid_count": ACTIONS["arrears"], "late_share": ACTIONS["late"], "left_poor_list": ACTIONS["poverty"],
               "disaster_severe_12m": ACTIONS["disaster"], "on_time_streak": ACTIONS["late"],
               "next_amount_vnd": ACTIONS["cost"]}
    for j, lang in enumerate(LANGS):
        rows[f"action_{lang}"] = [actions[f][j] if f in actions else None for f in first]
    rows["run_id"] = FAKE_RUN_ID
    rows["expected_lapse"] = rows["risk"]
    return rows[["run_id", *SCORE_COLUMNS]]


def _reasons_of(r) -> list[tuple[str, str, str]]:
    """(vi, en, feature) of the reasons that apply, strongest first."""
    out = []
    if r.unpaid > 0:
        out.append((*(s.format(k=int(r.unpaid)) for s in _REASONS["unpaid"]), "unpaid_count"))
    if r.late > 0:
        out.append((*(s.format(k=int(r.late), n=int(r.n)) for s in _REASONS["late"]), "late_share"))
    if r.poverty_loss:
        out.append((*_REASONS["poverty"], "left_poor_list"))
    if r.disaster:
        out.append((*_REASONS["disaster"], "disaster_severe_12m"))
    if r.late > 0 and r.unpaid == 0:
        out.append((*_REASONS["routine"], "on_time_streak"))
    if len(out) < 2:
        out.append((_REASONS["amount"][0].format(a=f"{int(r.amount_due):,}".replace(",", ".")),
                    _REASONS["amount"][1].format(a=f"{int(r.amount_due):,}"), "next_amount_vnd"))
    return out[:N_REASONS]


def fake_runs(scores: pd.DataFrame, as_of: pd.Timestamp = EXTRACTED_ON, window_days: int = WINDOW_DAYS) -> pd.DataFrame:
    districts = sorted(scores["district"].unique())
    return pd.DataFrame({
        "run_id": FAKE_RUN_ID, "district": districts, "as_of": as_of, "window_days": window_days,
        "model": "fake-heuristic", "finished_at": as_of + pd.Timedelta(hours=6),
    })


def fake_plan(scores: pd.DataFrame, villages: pd.DataFrame, capacity: str = "16") -> pd.DataFrame:
    """The real planner (dropout.plan) on the fake scores: `capacity` officer-hours per district."""
    from dropout.plan import load_plan_config, plan_visits

    return plan_visits(scores, villages, capacity, load_plan_config()).visits


def fake_data(participants_per_district: int = 40, seed: int = 0) -> InMemoryData:
    """A complete fake `WebData`: tables, one scoring run, a plan; flagged as test data."""
    tables = fake_tables(participants_per_district, seed)
    scores = fake_scores(tables)
    return InMemoryData(
        scores=scores,
        runs=fake_runs(scores),
        tables=tables,
        plan=fake_plan(scores, tables.villages),
        test_data=True,
    )
