"""Tiny, valid `Tables` for tests: build them row by row, or draw a random small world.

    b = TablesBuilder(extracted_on="2025-06-30")
    b.village("V1", commune="Hong Thai", province="Quang Tri")
    pid = b.participant(village_id="V1", enrolled_on="2025-01-10", payment_mode="monthly")
    b.schedule(pid, paid=[0, 3, None])        # Jan on time, Feb 3 days late, Mar unpaid...
    b.poverty(b.household_of(pid), "poor", "2024-01-01")
    tables = b.build()

Every default follows the data contract (docs/data.md) and the contribution rules
(features/contribution_rules.yaml): due dates by payment mode, amount_due = 22 % x
income base x months. Tables come out typed as `dropout.io.load_tables` would type them
(int64, datetime64[ns], str, nullable Int64), so features, labels and training can use
them directly; `tests/test_features_factories.py` checks they pass the schema.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd

from dropout.schema import Tables
from dropout.reference import contribution_rules, subsidy_policies

EXTRACTED_ON = "2025-12-31"
FIRST_ID = 4_600_000_001

COLUMNS = {
    "villages": {"village_id": "str", "commune": "str", "district": "str", "province": "str",
                 "travel_minutes": "int64", "ethnic_language": "str"},
    "participants": {"participant_id": "int64", "household_id": "int64", "village_id": "str",
                     "birth_year": "int64", "sex": "str", "ethnicity": "str", "occupation": "str",
                     "enrolled_on": "datetime64[ns]", "payment_mode": "str", "income_base": "int64"},
    "installments": {"participant_id": "int64", "period_start": "datetime64[ns]", "due_on": "datetime64[ns]",
                     "months_covered": "int64", "income_base": "int64", "amount_due": "int64",
                     "paid_on": "datetime64[ns]", "amount_paid": "Int64"},
    "poverty": {"household_id": "int64", "status": "str", "valid_from": "datetime64[ns]",
                "valid_to": "datetime64[ns]"},
    "disasters": {"commune": "str", "started_on": "datetime64[ns]", "kind": "str", "severity": "int64"},
    "visits": {"visit_id": "int64", "participant_id": "Int64", "village_id": "str",
               "visited_on": "datetime64[ns]", "kind": "str", "language": "str", "outcome_note": "str"},
    "withdrawals": {"participant_id": "int64", "claimed_on": "datetime64[ns]"},
}


def ts(value) -> pd.Timestamp | None:
    return None if value is None else pd.Timestamp(value).normalize()


def month_end(day: pd.Timestamp, months_ahead: int = 0) -> pd.Timestamp:
    """Last day of the month `months_ahead` months after `day`'s month."""
    return (pd.Timestamp(day).to_period("M") + months_ahead).to_timestamp(how="end").normalize()


def typed_frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """Rows as a DataFrame typed to the contract (an empty table keeps its columns)."""
    cols = COLUMNS[table]
    df = pd.DataFrame(rows, columns=list(cols))
    for name, dtype in cols.items():
        if dtype == "str":
            df[name] = df[name].astype("str").where(df[name].notna())
        elif dtype.startswith("datetime"):
            df[name] = pd.to_datetime(df[name]).astype("datetime64[ns]")
        else:
            df[name] = df[name].astype(dtype)
    return df


class TablesBuilder:
    """Build a small valid data set row by row; `build()` returns a typed `Tables`."""

    def __init__(self, extracted_on=EXTRACTED_ON):
        self.extracted_on = ts(extracted_on)
        self.rules = contribution_rules()
        self.rows: dict[str, list[dict]] = {t: [] for t in COLUMNS}
        self._participants: dict[int, dict] = {}
        self._next_id = FIRST_ID

    # -------------------------------------------------------- places and people

    def village(self, village_id="V1", commune="Hong Thai", district="A Luoi", province="Thua Thien Hue",
                travel_minutes=60, ethnic_language="Ta Oi") -> str:
        self.rows["villages"].append(dict(village_id=village_id, commune=commune, district=district,
                                          province=province, travel_minutes=travel_minutes,
                                          ethnic_language=ethnic_language))
        return village_id

    def participant(self, participant_id=None, village_id="V1", household_id=None, enrolled_on="2024-01-01",
                    payment_mode="monthly", income_base=1_500_000, birth_year=1980, sex="F", ethnicity="Ta Oi",
                    occupation="farmer") -> int:
        """Add a person (and their village with defaults if it does not exist yet); return the id."""
        if participant_id is None:
            participant_id = self._next_id
        self._next_id = max(self._next_id, participant_id) + 1
        if village_id not in {v["village_id"] for v in self.rows["villages"]}:
            self.village(village_id)
        row = dict(participant_id=participant_id, household_id=household_id or participant_id % 10**6,
                   village_id=village_id, birth_year=birth_year, sex=sex, ethnicity=ethnicity,
                   occupation=occupation, enrolled_on=ts(enrolled_on), payment_mode=payment_mode,
                   income_base=income_base)
        self.rows["participants"].append(row)
        self._participants[participant_id] = row
        return participant_id

    def household_of(self, participant_id: int) -> int:
        return self._participants[participant_id]["household_id"]

    # -------------------------------------------------------- contributions

    def due_on(self, period_start, months_covered: int) -> pd.Timestamp:
        """The deadline the contract gives an installment starting `period_start`."""
        deadline = next((m.deadline_months for m in self.rules.payment_modes.values()
                         if m.months_covered == months_covered),
                        self.rules.payment_modes["multi_year"].deadline_months if months_covered > 12
                        else months_covered)
        return month_end(ts(period_start), deadline - 1)

    def installment(self, participant_id: int, period_start, paid_on=None, months_covered=None, due_on=None,
                    income_base=None, amount_due=None, amount_paid=None) -> dict:
        """One installment; defaults follow the participant's mode and income base."""
        p = self._participants[participant_id]
        months = months_covered or self.rules.payment_modes[p["payment_mode"]].months_covered
        base = income_base or p["income_base"]
        amount = amount_due if amount_due is not None else int(round(self.rules.contribution_rate * base * months))
        paid_on = ts(paid_on)
        if paid_on is not None and amount_paid is None:
            amount_paid = amount
        row = dict(participant_id=participant_id, period_start=ts(period_start),
                   due_on=ts(due_on) if due_on is not None else self.due_on(period_start, months),
                   months_covered=months, income_base=base, amount_due=amount, paid_on=paid_on,
                   amount_paid=amount_paid if paid_on is not None else None)
        self.rows["installments"].append(row)
        return row

    def schedule(self, participant_id: int, paid: str | Sequence | Callable = "on_time", start=None,
                 until=None, months_covered=None, income_base=None) -> list[dict]:
        """The participant's installments from `start` (enrolment month) while period_start <= `until`.

        Args:
            paid: "on_time" (paid 10 days before each deadline), "never", a list of
                days after the deadline per installment (None = unpaid; negative = early;
                installments past the list's end are unpaid), or a function
                (row_number, due_on) -> paid_on or None.
            until: last period start to include (default: extraction date + 12 months).

        Payments that would fall after the extraction date are left unpaid.
        """
        p = self._participants[participant_id]
        months = months_covered or self.rules.payment_modes[p["payment_mode"]].months_covered
        period = ts(start) if start is not None else p["enrolled_on"].to_period("M").to_timestamp()
        until = ts(until) if until is not None else self.extracted_on + pd.DateOffset(months=12)
        rows, i = [], 0
        while period <= until:
            due = self.due_on(period, months)
            if paid == "on_time":
                paid_on = due - pd.Timedelta(days=10)
            elif paid == "never":
                paid_on = None
            elif callable(paid):
                paid_on = ts(paid(i, due))
            else:
                offset = paid[i] if i < len(paid) else None
                paid_on = None if offset is None else due + pd.Timedelta(days=int(offset))
            if paid_on is not None:
                paid_on = max(paid_on, p["enrolled_on"])
                if paid_on > self.extracted_on:
                    paid_on = None
            rows.append(self.installment(participant_id, period, paid_on=paid_on, months_covered=months,
                                         income_base=income_base))
            period = period + pd.DateOffset(months=months)
            i += 1
        return rows

    # -------------------------------------------------------- events

    def poverty(self, household_id: int, status: str, valid_from, valid_to=None) -> None:
        self.rows["poverty"].append(dict(household_id=household_id, status=status, valid_from=ts(valid_from),
                                         valid_to=ts(valid_to)))

    def disaster(self, commune: str, started_on, kind="storm", severity=2) -> None:
        self.rows["disasters"].append(dict(commune=commune, started_on=ts(started_on), kind=kind,
                                           severity=severity))

    def visit(self, visited_on, participant_id=None, village_id=None, kind=None, language=None,
              outcome_note=None) -> None:
        """A home visit (give participant_id) or an evening session (give only village_id)."""
        if kind is None:
            kind = "home_visit" if participant_id is not None else "evening_session"
        if village_id is None:
            village_id = self._participants[participant_id]["village_id"]
        if language is None:
            language = next(v["ethnic_language"] for v in self.rows["villages"] if v["village_id"] == village_id)
        self.rows["visits"].append(dict(visit_id=len(self.rows["visits"]) + 1, participant_id=participant_id,
                                        village_id=village_id, visited_on=ts(visited_on), kind=kind,
                                        language=language, outcome_note=outcome_note))

    def withdrawal(self, participant_id: int, claimed_on) -> None:
        self.rows["withdrawals"].append(dict(participant_id=participant_id, claimed_on=ts(claimed_on)))

    def build(self) -> Tables:
        frames = {t: typed_frame(t, rows) for t, rows in self.rows.items()}
        frames["installments"] = frames["installments"].sort_values(
            ["participant_id", "period_start"], ignore_index=True)
        return Tables(subsidy_policies=subsidy_policies(), extracted_on=self.extracted_on, **frames)


# ---------------------------------------------------------------- a random small world


def random_tables(seed: int = 0, n_participants: int = 40, extracted_on=EXTRACTED_ON) -> Tables:
    """A random but contract-valid small world: 4 villages in 3 communes and 2 provinces.

    Participants enrol 2021-2025 in any payment mode; each installment is paid on time,
    late (make-up) or never; some with a long arrears withdraw (their schedule stops at the
    claim); households move between poverty statuses; communes get disasters; officers visit.
    """
    rng = np.random.default_rng(seed)
    b = TablesBuilder(extracted_on=extracted_on)
    ext = b.extracted_on
    b.village("V1", commune="Hong Thai", province="Quang Tri", travel_minutes=30, ethnic_language="Ta Oi")
    b.village("V2", commune="Hong Thai", province="Quang Tri", travel_minutes=150, ethnic_language="Pa Ko")
    b.village("V3", commune="A Ngo", province="Thua Thien Hue", travel_minutes=200, ethnic_language="Ta Oi")
    b.village("V4", commune="Tra Leng", province="Quang Nam", travel_minutes=90, ethnic_language="Co Tu")
    villages = ["V1", "V2", "V3", "V4"]
    modes = list(b.rules.payment_modes)
    start = pd.Timestamp("2021-01-01")
    span = (ext - start).days
    households = []
    for _ in range(n_participants):
        household = int(rng.integers(1, max(2, n_participants // 2)))
        mode = modes[int(rng.choice(len(modes), p=[0.5, 0.15, 0.1, 0.2, 0.05]))]
        enrolled = start + pd.Timedelta(days=int(rng.integers(0, span)))
        base = int(rng.choice([1_500_000, 2_000_000, 3_000_000, 5_000_000]))
        pid = b.participant(village_id=villages[int(rng.integers(0, 4))], household_id=household,
                            enrolled_on=enrolled, payment_mode=mode, income_base=base,
                            birth_year=int(rng.integers(1960, 2005)), sex=str(rng.choice(["F", "M"])),
                            ethnicity=str(rng.choice(["Ta Oi", "Kinh", "Pa Ko", "Co Tu"])),
                            occupation=str(rng.choice(["farmer", "village_worker", "trader", "other"])))
        households.append(household)
        habit = rng.uniform(0.5, 0.98)

        def paid(i, due, habit=habit):
            u = rng.uniform()
            if u < habit:
                return due - pd.Timedelta(days=int(rng.integers(0, 25)))
            if u < habit + (1 - habit) / 2:
                return due + pd.Timedelta(days=int(rng.integers(1, 200)))
            return None

        rows = b.schedule(pid, paid=paid)
        if rng.uniform() < 0.1 and len(rows) > 3:  # a downgrade part-way
            k = int(rng.integers(1, len(rows)))
            for r in rows[k:]:
                r["income_base"] = 1_500_000
                r["amount_due"] = int(round(b.rules.contribution_rate * 1_500_000 * r["months_covered"]))
                if r["paid_on"] is not None:
                    r["amount_paid"] = r["amount_due"]
        # Withdraw some of those 12+ months behind: the claim ends the record and the schedule.
        unpaid = [r for r in rows if r["paid_on"] is None]
        if unpaid and rng.uniform() < 0.4 and enrolled < pd.Timestamp("2025-07-01"):
            claim = unpaid[0]["due_on"] + pd.DateOffset(months=12) + pd.Timedelta(days=int(rng.integers(1, 60)))
            if claim <= ext:
                b.withdrawal(pid, claim)
                b.rows["installments"] = [
                    r for r in b.rows["installments"]
                    if not (r["participant_id"] == pid and (r["period_start"] > claim
                                                            or (r["paid_on"] is not None and r["paid_on"] > claim)))
                ]
    for household in sorted(set(households)):
        day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 400)))
        while day <= ext:
            length = int(rng.integers(120, 900))
            end = day + pd.Timedelta(days=length - 1)
            status = str(rng.choice(["poor", "near_poor", "none"]))
            gap = int(rng.choice([0, 0, 0, 40]))
            b.poverty(household, status, day, end if end < ext or gap else None)
            if end >= ext:
                break
            day = end + pd.Timedelta(days=1 + gap)
    for commune in ["Hong Thai", "A Ngo", "Tra Leng"]:
        for _ in range(int(rng.integers(2, 8))):
            b.disaster(commune, start + pd.Timedelta(days=int(rng.integers(0, span))),
                       kind=str(rng.choice(["storm", "flood", "landslide", "flash_flood", "drought"])),
                       severity=int(rng.integers(1, 4)))
    pids = list(b._participants)
    for _ in range(n_participants):
        day = start + pd.Timedelta(days=int(rng.integers(0, span)))
        if rng.uniform() < 0.6:
            pid = pids[int(rng.integers(0, len(pids)))]
            if b._participants[pid]["enrolled_on"] <= day:
                b.visit(day, participant_id=pid, language=str(rng.choice(["Ta Oi", "Vietnamese", "Pa Ko"])))
        else:
            b.visit(day, village_id=villages[int(rng.integers(0, 4))],
                    language=str(rng.choice(["Ta Oi", "Vietnamese", "Co Tu"])))
    return b.build()


def features_of(tables: Tables, as_of, participant_id: int, families=None) -> pd.Series:
    """One participant's feature row at one as-of date (KeyError if not in the cohort)."""
    from dropout.features import build_features

    df = build_features(tables, [as_of], families=families)
    row = df.loc[df["participant_id"] == participant_id]
    if row.empty:
        raise KeyError(f"participant {participant_id} is not in the cohort at {as_of}")
    return row.iloc[0]
