"""Benchmark of the feature builders at national scale.

    uv run python benchmarks/features.py                      # 1M participants, 12 monthly as-of dates
    uv run python benchmarks/features.py --participants 100000 --source simulator

Prints a markdown table: time and peak memory of all families, and two ratios measured
in the same run:
- against a straightforward per-participant `groupby().apply` reference of the payment
  history family (`dropout.features._naive`) on a 1 % sample, per row (goal: >= 50x);
- against the floor: one `groupby(participant_id).sum()` over the visible ledger
  (installments with due_on < as_of) per as-of date (goal: <= 10x).

Data: `--source synthetic` (default) draws contract-shaped tables with numpy in seconds;
`--source simulator` uses `dropout.simulate` (slower to generate at 1M).
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import numpy as np
import pandas as pd

from _results import save
from dropout.features import build_features
from dropout.features._naive import payment_history_reference
from dropout.schema import Tables
from dropout.reference import contribution_rules, subsidy_policies

EXTRACTED_ON = pd.Timestamp("2025-12-31")
PROVINCES = ["Quang Tri", "Quang Nam", "Thua Thien Hue", "Quang Ninh"]


# ---------------------------------------------------------------- memory


class PeakRSS:
    """Samples this process's resident memory every 20 ms in a thread; `.peak` in bytes."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._page = os.sysconf("SC_PAGE_SIZE")

    def rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page

    def __enter__(self):
        self.baseline = self.peak = self.rss()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.rss())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


# ---------------------------------------------------------------- synthetic data


def _days(values) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[D]")


def synthetic_tables(n: int, seed: int = 0) -> Tables:
    """Contract-shaped tables for `n` participants, drawn with numpy only (no Python loop over rows)."""
    rng = np.random.default_rng(seed)
    rules = contribution_rules()
    ext = _days(EXTRACTED_ON.date())
    n_villages = max(4, n // 20)
    n_communes = max(2, n_villages // 8)
    village_ids = np.char.add("V", np.arange(n_villages).astype(str))
    commune_of_village = rng.integers(0, n_communes, n_villages)
    commune_names = np.char.add("C", np.arange(n_communes).astype(str))
    villages = pd.DataFrame({
        "village_id": village_ids, "commune": commune_names[commune_of_village],
        "district": np.char.add("D", (commune_of_village // 10).astype(str)),
        "province": np.array(PROVINCES)[commune_of_village % len(PROVINCES)],
        "travel_minutes": rng.integers(10, 400, n_villages), "ethnic_language": rng.choice(["Ta Oi", "Pa Ko", "Vietnamese"], n_villages),
    })

    pid = 4_600_000_001 + np.arange(n, dtype=np.int64)
    village = rng.integers(0, n_villages, n)
    start = _days("2020-01-01")
    enrolled = start + rng.integers(0, (ext - start).astype(int) + 1, n).astype("timedelta64[D]")
    mode_names = list(rules.payment_modes)
    mode = rng.choice(len(mode_names), n, p=[0.4, 0.2, 0.1, 0.25, 0.05])
    months_of_mode = np.array([rules.payment_modes[m].months_covered for m in mode_names])
    deadline_of_mode = np.array([rules.payment_modes[m].deadline_months for m in mode_names])
    income = rng.choice([1_500_000, 2_000_000, 3_000_000, 5_000_000], n, p=[0.6, 0.2, 0.15, 0.05])
    participants = pd.DataFrame({
        "participant_id": pid, "household_id": np.arange(n, dtype=np.int64) // 2 + 1,
        "village_id": village_ids[village], "birth_year": rng.integers(1960, 2006, n),
        "sex": rng.choice(["F", "M"], n), "ethnicity": rng.choice(["Kinh", "Ta Oi", "Pa Ko", "Van Kieu"], n),
        "occupation": rng.choice(["farmer", "forest_worker", "trader", "village_worker", "other"], n),
        "enrolled_on": enrolled.astype("datetime64[ns]"), "payment_mode": np.array(mode_names)[mode],
        "income_base": income,
    })

    # Schedule: from the enrolment month to 12 months after the extraction.
    first_month = enrolled.astype("datetime64[M]").astype(np.int64)
    last_month = (ext.astype("datetime64[M]") + 12).astype(np.int64)
    months = months_of_mode[mode]
    periods = (last_month - first_month) // months + 1
    rows = np.repeat(np.arange(n), periods)
    k = np.arange(len(rows)) - np.repeat(np.cumsum(periods) - periods, periods)
    period_month = first_month[rows] + k * months[rows]
    period_start = period_month.astype("datetime64[M]").astype("datetime64[D]")
    due = (period_month + deadline_of_mode[mode][rows]).astype("datetime64[M]").astype("datetime64[D]") - 1
    habit = rng.beta(8, 1.5, n)[rows]
    u = rng.random(len(rows))
    paid = np.where(u < habit, due - rng.integers(0, 20, len(rows)),
                    np.where(u < habit + (1 - habit) / 2, due + rng.integers(1, 200, len(rows)), np.datetime64("NaT")))
    paid = paid.astype("datetime64[D]")
    paid = np.where(paid < enrolled[rows], enrolled[rows], paid)
    paid[paid > ext] = np.datetime64("NaT")
    amount = np.rint(rules.contribution_rate * income[rows] * months[rows]).astype(np.int64)

    # A few withdraw: the claim ends the record and the schedule.
    claims = np.flatnonzero((rng.random(n) < 0.03) & (enrolled < _days("2024-06-01")))
    claimed = enrolled[claims] + 400 + rng.integers(0, 300, len(claims)).astype("timedelta64[D]")
    keep_claims = claimed <= ext
    claims, claimed = claims[keep_claims], claimed[keep_claims]
    claim_of = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    claim_of[claims] = claimed
    cut = ~np.isnat(claim_of[rows]) & ((period_start > claim_of[rows]) | (paid > claim_of[rows]))
    keep = ~cut
    installments = pd.DataFrame({
        "participant_id": pid[rows][keep], "period_start": period_start[keep].astype("datetime64[ns]"),
        "due_on": due[keep].astype("datetime64[ns]"), "months_covered": months[rows][keep],
        "income_base": income[rows][keep], "amount_due": amount[keep],
        "paid_on": paid[keep].astype("datetime64[ns]"),
        "amount_paid": pd.array(np.where(np.isnat(paid[keep]), 0, amount[keep]), dtype="Int64"),
    })
    installments.loc[installments["paid_on"].isna(), "amount_paid"] = pd.NA
    withdrawals = pd.DataFrame({"participant_id": pid[claims], "claimed_on": claimed.astype("datetime64[ns]")})

    # Poverty: two spells per household, split on a random day.
    n_hh = n // 2 + 1
    hh = np.arange(1, n_hh + 1, dtype=np.int64)
    split = _days("2021-01-01") + rng.integers(0, 1800, n_hh).astype("timedelta64[D]")
    status = np.array(["poor", "near_poor", "none"])
    poverty = pd.DataFrame({
        "household_id": np.concatenate([hh, hh]),
        "status": np.concatenate([rng.choice(status, n_hh, p=[0.3, 0.3, 0.4]), rng.choice(status, n_hh, p=[0.2, 0.3, 0.5])]),
        "valid_from": np.concatenate([np.full(n_hh, _days("2019-01-01")), split]).astype("datetime64[ns]"),
        "valid_to": np.concatenate([split - 1, np.full(n_hh, np.datetime64("NaT"), dtype="datetime64[D]")]).astype("datetime64[ns]"),
    })

    n_dis = n_communes * 12
    disasters = pd.DataFrame({
        "commune": commune_names[rng.integers(0, n_communes, n_dis)],
        "started_on": (_days("2019-01-01") + rng.integers(0, 2555, n_dis).astype("timedelta64[D]")).astype("datetime64[ns]"),
        "kind": rng.choice(["storm", "flood", "flash_flood", "landslide", "drought"], n_dis),
        "severity": rng.integers(1, 4, n_dis),
    })

    n_home, n_eve = n // 3, n_villages * 10
    who = rng.integers(0, n, n_home)
    visit_day = np.maximum(enrolled[who], _days("2021-01-01")) + rng.integers(0, 700, n_home).astype("timedelta64[D]")
    visit_day = np.minimum(visit_day, ext)
    eve_village = rng.integers(0, n_villages, n_eve)
    visits = pd.DataFrame({
        "visit_id": np.arange(n_home + n_eve, dtype=np.int64) + 1,
        "participant_id": pd.array(np.concatenate([pid[who], np.zeros(n_eve, dtype=np.int64)]), dtype="Int64"),
        "village_id": np.concatenate([village_ids[village[who]], village_ids[eve_village]]),
        "visited_on": np.concatenate([visit_day, _days("2020-01-01") + rng.integers(0, 2190, n_eve).astype("timedelta64[D]")]).astype("datetime64[ns]"),
        "kind": np.concatenate([np.full(n_home, "home_visit"), np.full(n_eve, "evening_session")]),
        "language": rng.choice(["Ta Oi", "Pa Ko", "Vietnamese"], n_home + n_eve),
        "outcome_note": pd.array([None] * (n_home + n_eve), dtype="str"),
    })
    visits.loc[n_home:, "participant_id"] = pd.NA
    for df in (villages, participants, installments, poverty, disasters, visits, withdrawals):
        for col in df.columns:
            if df[col].dtype == object:
                df[col] = df[col].astype("str")
    return Tables(villages=villages, participants=participants, installments=installments, poverty=poverty,
                  disasters=disasters, subsidy_policies=subsidy_policies(), visits=visits,
                  withdrawals=withdrawals, extracted_on=EXTRACTED_ON)


def simulator_tables(n: int, seed: int = 0) -> Tables:
    from dropout.simulate import simulate

    return simulate("a-luoi", participants=n, seed=seed).tables


def sample(tables: Tables, share: float, seed: int = 0) -> Tables:
    """The same world restricted to a random share of participants."""
    rng = np.random.default_rng(seed)
    p = tables.participants
    keep = p["participant_id"].to_numpy()[rng.random(len(p)) < share]
    def only(df):
        return df[df["participant_id"].isin(keep)].reset_index(drop=True)
    return tables.replace(participants=only(p), installments=only(tables.installments),
                          withdrawals=only(tables.withdrawals))


# ---------------------------------------------------------------- timings


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--participants", type=int, default=1_000_000)
    ap.add_argument("--dates", type=int, default=12, help="monthly as-of dates ending 2025-12-01")
    ap.add_argument("--source", choices=["synthetic", "simulator"], default="synthetic")
    ap.add_argument("--reference-share", type=float, default=0.01)
    ap.add_argument("--reference-dates", type=int, default=1, help="as-of dates for the slow reference")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    make = synthetic_tables if args.source == "synthetic" else simulator_tables
    tables, gen_s = timed(lambda: make(args.participants, args.seed))
    if args.source == "simulator":
        tables = tables.replace(extracted_on=tables.extracted_on)
    last = min(pd.Timestamp("2025-12-01"), tables.extracted_on.to_period("M").to_timestamp())
    dates = list(pd.date_range(end=last, periods=args.dates, freq="MS"))
    print(f"data: {args.source}, {len(tables.participants):,} participants, {len(tables.installments):,} installments, "
          f"generated in {gen_s:.1f} s; as-of dates {dates[0].date()} .. {dates[-1].date()} ({len(dates)})")

    family_s: dict[str, float] = {}
    clock = [time.perf_counter()]

    def tick(family: str, done: int, total: int) -> None:
        now = time.perf_counter()
        family_s[family] = family_s.get(family, 0.0) + now - clock[0]
        clock[0] = now

    with PeakRSS() as mem:
        start = time.perf_counter()
        clock[0] = start
        feats, ours_s = timed(lambda: build_features(tables, dates, progress=tick))
    rows = len(feats)
    del feats
    ph, ph_s = timed(lambda: build_features(tables, dates, families=["payment_history"]))
    del ph

    inst = tables.installments[["participant_id", "due_on", "amount_due", "months_covered"]]
    def floor():
        for t in dates:
            inst[inst["due_on"] < t].groupby("participant_id")[["amount_due", "months_covered"]].sum()
    _, floor_s = timed(floor)

    small = sample(tables, args.reference_share, args.seed)
    ref_dates = dates[-args.reference_dates:]
    ref_rows = 0
    def reference():
        nonlocal ref_rows
        for t in ref_dates:
            ref_rows += len(payment_history_reference(small, t))
    _, ref_s = timed(reference)
    ours_per_row = ph_s / rows
    ref_per_row = ref_s / max(ref_rows, 1)

    print()
    print("| measure | value |")
    print("|---|---|")
    print(f"| feature rows (participant x as-of) | {rows:,} |")
    print(f"| all 7 families, {len(dates)} as-of dates | {ours_s:.1f} s |")
    print(f"| peak memory during build (RSS, above the loaded tables) | {(mem.peak - mem.baseline) / 2**30:.2f} GiB "
          f"(process peak {mem.peak / 2**30:.2f} GiB) |")
    for family, secs in family_s.items():
        print(f"| - {family} (first date includes its share of the one-off sorting) | {secs:.1f} s |")
    print(f"| - assembling the output frame | {ours_s - sum(family_s.values()):.1f} s |")
    print(f"| payment history family alone | {ph_s:.1f} s ({ours_per_row * 1e6:.2f} us/row) |")
    print(f"| floor: groupby(participant).sum() over the visible ledger x {len(dates)} | {floor_s:.1f} s |")
    print(f"| all families / floor | {ours_s / floor_s:.1f}x (goal <= 10x) |")
    print(f"| naive groupby().apply payment history, {args.reference_share:.1%} sample x {len(ref_dates)} dates "
          f"| {ref_s:.1f} s for {ref_rows:,} rows ({ref_per_row * 1e6:.0f} us/row) |")
    print(f"| speed-up per row vs naive | {ref_per_row / ours_per_row:.0f}x (goal >= 50x) |")
    print(f"| goal: all families <= 60 s | {'met' if ours_s <= 60 else 'NOT met'} |")
    speedup, vs_floor = ref_per_row / ours_per_row, ours_s / floor_s
    met = ours_s <= 60 and vs_floor <= 10 and speedup >= 50
    save("features", {
        "source": args.source, "participants": int(len(tables.participants)),
        "installments": int(len(tables.installments)), "dates": [str(d.date()) for d in dates], "rows": rows,
        "seconds": {"all_families": ours_s, "families": family_s, "payment_history": ph_s, "floor": floor_s,
                    "naive_reference": ref_s},
        "peak_gib_above_tables": (mem.peak - mem.baseline) / 2**30, "naive_rows": ref_rows,
        "speedup_per_row_vs_naive": speedup, "ratio_to_floor": vs_floor,
    }, [{
        "benchmark": "`features.py`",
        "what": f"{len(tables.participants):,} participants x {len(dates)} monthly as-of dates ({rows:,} rows, "
                f"all 7 families, {args.source} data)",
        "ours": f"{ours_s:.1f} s, +{(mem.peak - mem.baseline) / 2**30:.1f} GiB",
        "side_by_side": f"{vs_floor:.1f}x one `groupby().sum()` over the ledger per date; {speedup:,.0f}x faster per "
                        f"row than a naive `groupby().apply` ({args.reference_share:.1%} sample)",
        "goal": f"<= 60 s, <= 10x floor, >= 50x naive: {'met' if met else '**not met**'}",
    }])


if __name__ == "__main__":
    main()
