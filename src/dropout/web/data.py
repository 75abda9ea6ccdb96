"""What the pages read: the latest scores per district, raw records, visit plans.

`WebData` is the interface the pages use; `InMemoryData` implements it over DataFrames
(the score rows, the runs, the raw `Tables`, the plan). `dropout.web.sources` fills one
from the score store and a data folder; `dropout.web.fake` fills one with made-up data
for tests. Pages never touch the store or files themselves.

Normalised shapes (what the loaders must hand in):

- runs: one row per (run, district): run_id, district, as_of, window_days, model,
  finished_at.
- scores: run_id plus the score row (`dropout.score.output.SCORE_COLUMNS`); reasons as
  reason_1_vi .. reason_4_en (empty string where a person has fewer reasons).
- plan: `dropout.plan`'s visits table, one row per contact: pool (whose officer-hours),
  officer_day (label), day (number within the pool), trip, visit_order, village_id,
  action (home_visit, evening_session or both joined by '+'), participant_id,
  expected_averted; district is added from the villages when missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from dropout.schema import Tables
from dropout.score.output import LANGS, SCORE_COLUMNS, reason_text_columns

#: The sentence columns of both languages (empty string where a person has fewer reasons).
REASON_COLUMNS = [c for lang in LANGS for c in reason_text_columns(lang)]
RUN_COLUMNS = ["run_id", "district", "as_of", "window_days", "model", "finished_at"]
#: Who a person is and how to reach them (participants' optional contract columns).
CONTACT_COLUMNS = ["full_name", "phone", "address"]
PLAN_COLUMNS = [
    "pool",
    "officer_day",
    "day",
    "trip",
    "visit_order",
    "village_id",
    "action",
    "participant_id",
    "expected_averted",
]


@dataclass(frozen=True)
class RunInfo:
    """The scoring run whose list a district sees."""

    run_id: str
    district: str
    as_of: pd.Timestamp
    window_days: int | None
    model: str | None
    finished_at: pd.Timestamp | None


@dataclass
class ParticipantRecord:
    """Everything the participant page shows about one person."""

    participant_id: int
    district: str
    commune: str
    village: pd.Series | None  # villages row
    person: pd.Series | None  # participants row
    score: pd.Series | None  # latest scores row, enriched
    installments: pd.DataFrame
    poverty: pd.DataFrame
    disasters: pd.DataFrame
    visits: pd.DataFrame  # from the raw data (recorded web visits are added by the page)


class WebData(Protocol):
    """The read side of the officers' pages."""

    test_data: bool

    def districts(self) -> list[str]: ...

    def latest_run(self, district: str) -> RunInfo | None: ...

    def scores(self, district: str) -> pd.DataFrame: ...

    def villages(self, district: str) -> pd.DataFrame: ...

    def participant(self, participant_id: int) -> ParticipantRecord | None: ...

    def district_of(self, participant_id: int) -> str | None: ...

    def plan(self, district: str) -> pd.DataFrame: ...

    def reference_day(self, district: str) -> pd.Timestamp: ...


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


class InMemoryData:
    """`WebData` over DataFrames already in memory (see the module docstring for shapes)."""

    def __init__(
        self,
        scores: pd.DataFrame,
        runs: pd.DataFrame,
        tables: Tables | None = None,
        plan: pd.DataFrame | None = None,
        test_data: bool = False,
        payments: pd.DataFrame | None = None,
        payments_as_of: pd.Timestamp | None = None,
        visits: pd.DataFrame | None = None,
    ):
        """payments: merged by `dropout refresh` (participant_id, due_on, paid_on);
        visits: the latest recorded home visit per person (participant_id, visited_on,
        outcome, promised_on). Both mark people done since scoring: they leave the plan."""
        missing = [c for c in ["run_id", *SCORE_COLUMNS] if c not in scores.columns]
        if missing:
            raise ValueError(f"scores: missing column(s) {missing}")
        missing = [c for c in RUN_COLUMNS if c not in runs.columns]
        if missing:
            raise ValueError(f"runs: missing column(s) {missing}")
        self.test_data = test_data
        self.tables = tables
        self.payments_as_of = payments_as_of
        self._payments = payments
        self._visits = visits
        self._runs = runs.sort_values(["district", "as_of", "finished_at"], na_position="first")
        latest = self._runs.groupby("district", sort=True).tail(1)
        self._latest: dict[str, RunInfo] = {
            r.district: RunInfo(
                run_id=str(r.run_id),
                district=r.district,
                as_of=pd.Timestamp(r.as_of),
                window_days=None if pd.isna(r.window_days) else int(r.window_days),
                model=None if pd.isna(r.model) else str(r.model),
                finished_at=None if pd.isna(r.finished_at) else pd.Timestamp(r.finished_at),
            )
            for r in latest.itertuples(index=False)
        }
        keep = pd.MultiIndex.from_arrays([latest["run_id"].astype(str), latest["district"]])
        rows = scores.assign(run_id=scores["run_id"].astype(str))
        rows = rows[pd.MultiIndex.from_arrays([rows["run_id"], rows["district"]]).isin(keep)]
        rows = self._enrich(rows)
        rows = self._since_scoring(rows, runs)
        self._scores = {d: g.reset_index(drop=True) for d, g in rows.groupby("district", sort=False)}
        self._district_of = self._participant_districts(rows)
        self._plan = self._normalise_plan(plan)

    # ------------------------------------------------------------ building

    def _enrich(self, rows: pd.DataFrame) -> pd.DataFrame:
        rows = rows.copy()
        rows["participant_id"] = rows["participant_id"].astype("int64")
        rows["due_on"] = pd.to_datetime(rows["due_on"])
        for c in REASON_COLUMNS:
            rows[c] = rows[c].fillna("").astype(str)
        t = self.tables
        if t is not None:
            people = t.participants[["participant_id", "payment_mode"]]
            rows = rows.drop(columns=[c for c in ["payment_mode"] if c in rows.columns])
            rows = rows.merge(people, on="participant_id", how="left")
            villages = t.villages[["village_id", "travel_minutes", "ethnic_language"]]
            rows = rows.drop(columns=[c for c in ["travel_minutes", "ethnic_language"] if c in rows.columns])
            rows = rows.merge(villages, on="village_id", how="left")
        for c in ("payment_mode", "travel_minutes", "ethnic_language"):
            if c not in rows.columns:
                rows[c] = None
        if t is not None:
            people = t.participants.reindex(columns=["participant_id", *CONTACT_COLUMNS])
            rows = rows.drop(columns=[c for c in CONTACT_COLUMNS if c in rows.columns])
            rows = rows.merge(people, on="participant_id", how="left")
            names = t.villages.reindex(columns=["village_id", "village_name"])
            rows = rows.drop(columns=[c for c in ["village_name"] if c in rows.columns]).merge(
                names, on="village_id", how="left")
        for c in (*CONTACT_COLUMNS, "village_name"):
            if c not in rows.columns:
                rows[c] = None
            rows[c] = rows[c].astype(object).where(rows[c].notna(), None)
        return rows.sort_values(["district", "rank_in_district"], kind="stable")

    def _since_scoring(self, rows: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
        """What happened after the scoring day: paid_on (the installment scored for, from
        `dropout refresh`), made_up_on (any other payment), visited_on / visit_outcome /
        promised_on (a home visit recorded on the pages), and `done` (leaves the plan)."""
        rows = rows.copy()
        as_of = rows["run_id"].map(dict(zip(runs["run_id"].astype(str), pd.to_datetime(runs["as_of"]))))
        rows["paid_on"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
        rows["made_up_on"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
        pay = self._payments
        if pay is not None and len(pay):
            due = pay.merge(rows[["participant_id", "due_on"]], on=["participant_id", "due_on"])
            rows["paid_on"] = rows["participant_id"].map(due.groupby("participant_id")["paid_on"].max())
            other = pay.groupby("participant_id")["paid_on"].max()
            rows["made_up_on"] = rows["participant_id"].map(other).where(rows["paid_on"].isna())
        rows["visited_on"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
        rows["visit_outcome"] = None
        rows["promised_on"] = pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns]")
        v = self._visits
        if v is not None and len(v):
            last = v.set_index("participant_id")
            rows["visited_on"] = rows["participant_id"].map(last["visited_on"])
            after = rows["visited_on"] >= as_of
            rows["visited_on"] = rows["visited_on"].where(after)
            rows["visit_outcome"] = rows["participant_id"].map(last["outcome"]).where(after, None)
            rows["promised_on"] = rows["participant_id"].map(last["promised_on"]).where(after)
        rows["visit_outcome"] = rows["visit_outcome"].astype(object).where(rows["visit_outcome"].notna(), None)
        in_arrears = rows["status"].astype(str).eq("in_arrears")
        rows["done"] = (rows["paid_on"].notna() | (in_arrears & rows["made_up_on"].notna())
                        | rows["visited_on"].notna())
        return rows

    def _participant_districts(self, rows: pd.DataFrame) -> dict[int, str]:
        t = self.tables
        if t is None:
            return dict(zip(rows["participant_id"].tolist(), rows["district"].tolist()))
        people = t.participants[["participant_id", "village_id"]].merge(
            t.villages[["village_id", "district"]], on="village_id", how="left"
        )
        return dict(zip(people["participant_id"].tolist(), people["district"].tolist()))

    def _normalise_plan(self, plan: pd.DataFrame | None) -> pd.DataFrame:
        if plan is None or plan.empty:
            return _empty([*PLAN_COLUMNS, "district"])
        plan = plan.copy()
        if "district" not in plan.columns:
            if self.tables is None:
                raise ValueError("plan: needs a district column when there are no raw tables")
            plan = plan.merge(self.tables.villages[["village_id", "district"]], on="village_id", how="left")
        for c in PLAN_COLUMNS:
            if c not in plan.columns:
                plan[c] = None
        plan["participant_id"] = pd.array(plan["participant_id"], dtype="Int64")
        return plan

    # ------------------------------------------------------------ WebData

    def districts(self) -> list[str]:
        known = set(self._latest)
        if self.tables is not None:
            known |= set(self.tables.villages["district"])
        return sorted(known)

    def latest_run(self, district: str) -> RunInfo | None:
        return self._latest.get(district)

    def scores(self, district: str) -> pd.DataFrame:
        return self._scores.get(district, _empty([*SCORE_COLUMNS, "payment_mode", "travel_minutes"]))

    def villages(self, district: str) -> pd.DataFrame:
        if self.tables is not None:
            v = self.tables.villages
            return v[v["district"] == district].sort_values(["commune", "village_id"]).reset_index(drop=True)
        s = self.scores(district)
        return s[["village_id", "commune", "district"]].drop_duplicates().sort_values(["commune", "village_id"])

    def district_of(self, participant_id: int) -> str | None:
        return self._district_of.get(int(participant_id))

    def reference_day(self, district: str) -> pd.Timestamp:
        """The day the district's pages are 'as of': the latest run's as_of, else the extraction day."""
        run = self.latest_run(district)
        if run is not None:
            return run.as_of
        if self.tables is not None:
            return self.tables.extracted_on
        return pd.Timestamp.today().normalize()

    def plan(self, district: str) -> pd.DataFrame:
        """The district's plan without the people done since scoring (paid, visited)."""
        p = self._plan[self._plan["district"] == district]
        scores = self.scores(district)
        if "done" in scores.columns and scores["done"].any():
            done = set(scores.loc[scores["done"], "participant_id"].astype("int64"))
            p = p[~p["participant_id"].isin(done).fillna(False).to_numpy(dtype=bool)]
        return p.sort_values(["pool", "day", "trip", "visit_order"], kind="stable").reset_index(drop=True)

    def participant(self, participant_id: int) -> ParticipantRecord | None:
        pid = int(participant_id)
        district = self.district_of(pid)
        if district is None:
            return None
        scores = self.scores(district)
        hit = scores[scores["participant_id"] == pid]
        score = hit.iloc[0] if len(hit) else None
        t = self.tables
        if t is None:
            assert score is not None
            empty = pd.DataFrame()
            return ParticipantRecord(pid, district, score["commune"], None, None, score, empty, empty, empty, empty)
        person = t.participants[t.participants["participant_id"] == pid].iloc[0]
        village = t.villages[t.villages["village_id"] == person["village_id"]].iloc[0]
        inst = t.installments[t.installments["participant_id"] == pid].sort_values("due_on")
        poverty = t.poverty[t.poverty["household_id"] == person["household_id"]].sort_values("valid_from")
        disasters = t.disasters[t.disasters["commune"] == village["commune"]].sort_values("started_on")
        visits = t.visits[
            (t.visits["participant_id"] == pid)
            | ((t.visits["kind"] == "evening_session") & (t.visits["village_id"] == person["village_id"]))
        ].sort_values("visited_on", ascending=False)
        return ParticipantRecord(
            pid, district, village["commune"], village, person, score,
            inst.reset_index(drop=True), poverty.reset_index(drop=True),
            disasters.reset_index(drop=True), visits.reset_index(drop=True),
        )


def filter_scores(rows: pd.DataFrame, village: str | None, band: str | None, mode: str | None) -> pd.DataFrame:
    """The rows matching the commune list's filters (None or '' = no filter)."""
    mask = np.ones(len(rows), dtype=bool)
    if village:
        mask &= (rows["village_id"] == village).to_numpy()
    if band:
        mask &= (rows["risk_band"] == band).to_numpy()
    if mode:
        mask &= (rows["payment_mode"] == mode).to_numpy()
    return rows[mask]
