"""Write the corpus of bad data folders under tests/data/bad/ (run from the repo root):

    uv run python tests/data/make_bad.py

Each folder is a small valid export (2 villages, 3 participants, 9 installments) broken
in one way a careless user or an attacker would break it: unreadable files, symlinks,
two formats of one table, a corrupt manifest, the wrong encoding or delimiter, numbers
that overflow, control characters, impossible dates, rows that break the rules between
tables. `expect.json` says what `dropout validate` must answer: the words of the contract
error (`"refused"`), or that the folder loads (`"loads"`, e.g. time-zone-aware dates,
which count by their own day). tests/test_bad_data.py runs every folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "bad"

VILLAGES = """village_id,commune,district,province,travel_minutes,ethnic_language
V1,Hong Thai,A Luoi,Thua Thien Hue,60,Ta Oi
V2,A Ngo,A Luoi,Thua Thien Hue,90,Pa Ko
"""
PARTICIPANTS = """participant_id,household_id,village_id,birth_year,sex,ethnicity,occupation,enrolled_on,payment_mode,income_base
4600000001,1,V1,1980,F,Ta Oi,farmer,2025-01-10,monthly,1500000
4600000002,2,V1,1975,M,Kinh,trader,2025-01-10,monthly,1500000
4600000003,3,V2,1990,F,Pa Ko,farmer,2025-01-10,monthly,1500000
"""
_ROWS = []
for _pid in (4600000001, 4600000002, 4600000003):
    for _m, (_start, _due, _paid) in enumerate((("2025-01-01", "2025-01-31", "2025-01-20"),
                                                ("2025-02-01", "2025-02-28", "2025-02-20"),
                                                ("2025-03-01", "2025-03-31", "2025-03-20"))):
        _unpaid = _pid == 4600000003 and _m == 2
        _ROWS.append(f"{_pid},{_start},{_due},1,1500000,330000,{'' if _unpaid else _paid},{'' if _unpaid else 330000}")
INSTALLMENTS = ("participant_id,period_start,due_on,months_covered,income_base,amount_due,paid_on,amount_paid\n"
                + "\n".join(_ROWS) + "\n")
MANIFEST = '{"extracted_on": "2025-12-31"}\n'


def base(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "villages.csv").write_text(VILLAGES, encoding="utf-8")
    (folder / "participants.csv").write_text(PARTICIPANTS, encoding="utf-8")
    (folder / "installments.csv").write_text(INSTALLMENTS, encoding="utf-8")
    (folder / "manifest.json").write_text(MANIFEST, encoding="utf-8")
    return folder


def edit(folder: Path, table: str, column: str, row: int, value: str) -> None:
    """Set one cell of a CSV table (as text)."""
    df = pd.read_csv(folder / f"{table}.csv", dtype=str, keep_default_na=False)
    df.loc[row, column] = value
    df.to_csv(folder / f"{table}.csv", index=False)


def to_parquet(folder: Path, table: str, **changes) -> pd.DataFrame:
    """Replace a CSV table by Parquet, typed as an export would type it, with `changes`."""
    from dropout.io import load_tables

    df = getattr(load_tables(_ok_copy()), table).copy()
    for column, values in changes.items():
        df[column] = values
    (folder / f"{table}.csv").unlink()
    df.to_parquet(folder / f"{table}.parquet", index=False)
    return df


def _ok_copy() -> Path:
    ok = OUT.parent / ".base"
    if not ok.exists():
        base(ok)
    return ok


def replace_text(folder: Path, table: str, old: str, new: str) -> None:
    p = folder / f"{table}.csv"
    p.write_text(p.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


# ---------------------------------------------------------------- the cases: name -> (break it, expect)

def _truncated_parquet(f):
    to_parquet(f, "installments")
    p = f / "installments.parquet"
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _parquet_year_3000(f):
    import datetime

    import pyarrow as pa
    import pyarrow.parquet as pq

    df = pd.read_csv(f / "installments.csv", dtype=str, keep_default_na=False)
    days = [datetime.date(3000, 1, 1)] + [datetime.date.fromisoformat(d) for d in df["period_start"][1:]]
    table = pa.table({c: df[c] for c in df.columns if c != "period_start"}).append_column(
        "period_start", pa.array(days, pa.date32()))
    (f / "installments.csv").unlink()
    pq.write_table(table, f / "installments.parquet")


def _tz_aware(f):
    df = to_parquet(f, "installments")
    (f / "installments.parquet").unlink()
    df["paid_on"] = df["paid_on"].dt.tz_localize("Asia/Ho_Chi_Minh")
    df.to_parquet(f / "installments.parquet", index=False)


def _bool_minutes(f):
    to_parquet(f, "villages", travel_minutes=[True, False])


def _uint64_ids(f):
    import numpy as np

    to_parquet(f, "participants", participant_id=np.array([2**64 - 1, 4600000002, 4600000003], dtype=np.uint64))


def _cp1252(f):
    (f / "villages.csv").write_bytes(VILLAGES.replace("Hong Thai", "Hồng Thái").encode("utf-8")
                                     .replace("Hồng Thái".encode(), "Caf\xe9".encode("cp1252")))


def _semicolons(f):
    (f / "participants.csv").write_text(PARTICIPANTS.replace(",", ";"), encoding="utf-8")


def _tabs(f):
    (f / "participants.csv").write_text(PARTICIPANTS.replace(",", "\t"), encoding="utf-8")


def _dup_header(f):
    (f / "participants.csv").write_text(PARTICIPANTS.replace("occupation,", "sex,", 1), encoding="utf-8")


def _both_formats(f):
    pd.read_csv(f / "villages.csv").to_parquet(f / "villages.parquet", index=False)


def _symlink(f):
    (f / "participants.csv").unlink()
    os.symlink("/etc/passwd", f / "participants.csv")


def _directory(f):
    (f / "participants.csv").unlink()
    (f / "participants.csv").mkdir()
    (f / "participants.csv" / ".keep").write_text("")


def _withdrawal_then_paid(f):
    (f / "withdrawals.csv").write_text("participant_id,claimed_on\n4600000001,2025-02-10\n", encoding="utf-8")


def _binary_csv(f):
    (f / "villages.csv").write_bytes(bytes(range(256)) * 4)


def _header_only(f):
    (f / "installments.csv").write_text(INSTALLMENTS.splitlines()[0] + "\n", encoding="utf-8")


def _missing_column(f):
    df = pd.read_csv(f / "participants.csv", dtype=str)
    df.drop(columns="birth_year").to_csv(f / "participants.csv", index=False)


def _formula(f):
    evil = '=HYPERLINK("http://evil.example","V1")'
    edit(f, "villages", "village_id", 0, evil)
    for row in (0, 1):
        edit(f, "participants", "village_id", row, evil)


def _bom(f):
    (f / "villages.csv").write_bytes(b"\xef\xbb\xbf" + VILLAGES.encode("utf-8"))


CASES = {
    # unreadable files
    "zero_byte_csv": (lambda f: (f / "participants.csv").write_bytes(b""), "participants.csv: is empty (0 bytes)"),
    "zero_byte_parquet": (lambda f: (to_parquet(f, "installments"), (f / "installments.parquet").write_bytes(b"")),
                          "installments.parquet: is empty (0 bytes)"),
    "truncated_parquet": (_truncated_parquet, "installments.parquet: cannot be read as parquet"),
    "text_as_parquet": (lambda f: (to_parquet(f, "villages"), (f / "villages.parquet").write_text("village_id\nV1\n")),
                        "villages.parquet: cannot be read as parquet"),
    "garbage_xlsx": (lambda f: ((f / "villages.csv").unlink(), (f / "villages.xlsx").write_bytes(b"PK\x03\x04junk")),
                     "villages.xlsx: cannot be read as xlsx"),
    "binary_csv": (_binary_csv, "villages.csv: is not UTF-8 text"),
    "cp1252_csv": (_cp1252, "villages.csv: is not UTF-8 text"),
    "symlink_to_etc_passwd": (_symlink, "participants.csv: is a symbolic link"),
    "table_is_a_directory": (_directory, "participants.csv: is not a regular file"),
    "semicolon_separated": (_semicolons, "separated by semicolons"),
    "tab_separated": (_tabs, "separated by tabs"),
    "duplicated_header": (_dup_header, "named twice in the header"),
    "csv_and_parquet": (_both_formats, "found as villages.parquet and villages.csv: keep exactly one"),
    "required_table_missing": (lambda f: (f / "participants.csv").unlink(), "participants: table missing"),
    "missing_column": (_missing_column, "participants.birth_year: missing column"),
    "header_only": (_header_only, "installments: empty table"),
    "unbalanced_quote": (lambda f: replace_text(f, "villages", "Hong Thai", '"Hong Thai'), "villages"),
    # the manifest
    "manifest_not_json": (lambda f: (f / "manifest.json").write_text("{extracted_on: 2025"), "manifest.json: is not valid"),
    "manifest_month_13": (lambda f: (f / "manifest.json").write_text('{"extracted_on": "2026-13-45"}'),
                          "extracted_on '2026-13-45' is not a date"),
    "manifest_year_3000": (lambda f: (f / "manifest.json").write_text('{"extracted_on": "3000-01-01"}'),
                           "outside 1990-2100"),
    "manifest_a_list": (lambda f: (f / "manifest.json").write_text("[1, 2]"), "manifest.json: is not a JSON object"),
    "manifest_nested_deep": (lambda f: (f / "manifest.json").write_text("[" * 100_000 + "]" * 100_000),
                             "manifest.json: is not valid"),
    # numbers
    "inf_in_amount_due": (lambda f: edit(f, "installments", "amount_due", 0, "inf"),
                          "installments.amount_due: wrong type"),
    "nan_in_income_base": (lambda f: edit(f, "participants", "income_base", 1, "NaN"),
                           "participants.income_base: wrong type"),
    "id_1e30": (lambda f: edit(f, "participants", "participant_id", 0, "1e30"), "participants.participant_id: wrong type"),
    "id_2pow64_text": (lambda f: edit(f, "participants", "participant_id", 0, str(2**64 - 1)),
                       "participants.participant_id: wrong type"),
    "id_2pow64_parquet": (_uint64_ids, "participants.participant_id: wrong type"),
    "amount_1e30": (lambda f: edit(f, "installments", "amount_due", 2, "1e30"), "installments.amount_due: wrong type"),
    "negative_amount": (lambda f: edit(f, "installments", "amount_paid", 0, "-330000"), "negative value"),
    "fractional_months": (lambda f: edit(f, "installments", "months_covered", 0, "1.5"),
                          "installments.months_covered: wrong type"),
    "bool_travel_minutes_parquet": (_bool_minutes, "villages.travel_minutes: wrong type"),
    "bool_travel_minutes_text": (lambda f: edit(f, "villages", "travel_minutes", 0, "True"),
                                 "villages.travel_minutes: wrong type"),
    "birth_year_1800": (lambda f: edit(f, "participants", "birth_year", 0, "1800"), "value out of range"),
    # text
    "nul_in_commune": (lambda f: edit(f, "villages", "commune", 0, "Hong\x00Thai"), "villages.commune: control characters"),
    "newline_in_village_id": (lambda f: edit(f, "villages", "village_id", 1, "V2\nV3"),
                              "villages.village_id: control characters"),
    "c1_control_in_ethnicity": (lambda f: edit(f, "participants", "ethnicity", 0, "Ta\x85Oi"),
                                "participants.ethnicity: control characters"),
    "unknown_payment_mode": (lambda f: edit(f, "participants", "payment_mode", 0, "weekly"), "value not allowed"),
    "blank_required_text": (lambda f: edit(f, "participants", "sex", 2, "   "), "participants.sex: missing values"),
    # dates
    "paid_in_year_3000": (lambda f: edit(f, "installments", "paid_on", 0, "3000-01-01"), "installments.paid_on: wrong type"),
    "period_in_year_3000_parquet": (_parquet_year_3000, "installments.period_start: wrong type"),
    "february_30": (lambda f: edit(f, "installments", "paid_on", 1, "2025-02-30"), "installments.paid_on: wrong type"),
    "month_13": (lambda f: edit(f, "participants", "enrolled_on", 1, "2025-13-01"), "participants.enrolled_on: wrong type"),
    "payment_after_extraction": (lambda f: edit(f, "installments", "paid_on", 0, "2026-01-05"), "in the future"),
    # between tables
    "duplicate_participant": (lambda f: edit(f, "participants", "participant_id", 1, "4600000001"), "duplicate"),
    "orphan_installment": (lambda f: edit(f, "installments", "participant_id", 0, "4600000009"), "orphan rows"),
    "orphan_village": (lambda f: edit(f, "participants", "village_id", 0, "V9"), "orphan rows"),
    "paid_after_withdrawal": (_withdrawal_then_paid, "payment after the participant's lump-sum withdrawal"),
    "paid_before_enrolment": (lambda f: edit(f, "installments", "paid_on", 0, "2024-12-20"), "payment before enrolment"),
    "paid_on_without_amount": (lambda f: edit(f, "installments", "amount_paid", 0, ""), "installments.amount_paid"),
    # folders that must load: the oddity is harmless once read right
    "timezone_aware_dates": (_tz_aware, None),
    "utf8_with_bom": (_bom, None),
    "formula_in_village_id": (_formula, None),
}


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    ok = OUT.parent / ".base"
    if ok.exists():
        shutil.rmtree(ok)
    for name, (breaks, expect) in CASES.items():
        folder = base(OUT / name)
        breaks(folder)
        (OUT / f"{name}.expect.json").write_text(
            json.dumps({"outcome": "loads" if expect is None else "refused", "message": expect}, indent=1) + "\n")
    shutil.rmtree(ok, ignore_errors=True)
    print(f"{len(CASES)} folders in {OUT}")


if __name__ == "__main__":
    main()
