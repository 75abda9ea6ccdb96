"""Seasonality and the next deadline, including schedules that end (projected next installment)."""

from __future__ import annotations

from factories import TablesBuilder, features_of


def test_next_installment_skips_one_paid_early():
    b = TablesBuilder(extracted_on="2025-12-31")
    pid = b.participant(enrolled_on="2025-01-10")
    b.schedule(pid, paid=lambda i, due: "2025-06-25" if i == 6 else due)  # July paid in June
    f = features_of(b.build(), "2025-07-01", pid, families=["seasonality"])
    assert (f["days_to_next_deadline"], f["next_deadline_month"]) == (61, 8)  # August, due 08-31
    assert (f["next_amount_due_vnd"], f["next_months_covered"]) == (330_000, 1)


def test_annual_deadline_is_the_end_of_the_seventh_month():
    b = TablesBuilder(extracted_on="2025-12-31")
    pid = b.participant(enrolled_on="2024-03-05", payment_mode="annual", income_base=2_000_000)
    b.schedule(pid)
    f = features_of(b.build(), "2025-01-01", pid, families=["seasonality"])
    assert (f["days_to_next_deadline"], f["next_deadline_month"]) == (272, 9)  # 2025-09-30
    assert (f["next_amount_due_vnd"], f["next_months_covered"]) == (5_280_000, 12)


def test_projected_when_the_schedule_ends_or_is_missing():
    b = TablesBuilder(extracted_on="2025-12-31")
    ended = b.participant(enrolled_on="2025-01-10")
    b.schedule(ended, until="2025-06-01")  # e.g. a later withdrawal cut the schedule
    fresh = b.participant(enrolled_on="2025-06-15", payment_mode="quarterly")  # no rows yet
    tables = b.build()
    f = features_of(tables, "2025-07-01", ended, families=["seasonality"])
    assert (f["days_to_next_deadline"], f["next_deadline_month"], f["next_amount_due_vnd"]) == (30, 7, 330_000)
    g = features_of(tables, "2025-07-01", fresh, families=["seasonality"])
    # Period 2025-06 to 2025-08, due at the end of its 3rd month.
    assert (g["days_to_next_deadline"], g["next_amount_due_vnd"], g["next_months_covered"]) == (61, 990_000, 3)
