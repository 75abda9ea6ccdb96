"""The officers' workbooks: bilingual headers, one sheet per key, no index, atomic."""

from __future__ import annotations

import pandas as pd
import pytest
from openpyxl import load_workbook

from dropout.excel import header_for, sheet_title, write_workbook


def test_workbook_has_sheets_headers_and_values(tmp_path):
    df = pd.DataFrame(
        {
            "participant_id": [4600000001, 4600000002],
            "due_on": pd.to_datetime(["2025-07-31", "2025-08-31"]),
            "risk": [0.8, 0.35],
            "amount_due": pd.array([330000, None], dtype="Int64"),
            "reason_1_vi": ["Đã lỡ 2 trong 4 kỳ đóng gần nhất", None],
        }
    )
    path = write_workbook({"Hong Thai": df, "Hong/Kim: A": df.iloc[:1]}, tmp_path / "A Luoi.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Hong Thai", "Hong-Kim- A"]
    ws = wb["Hong Thai"]
    headers = [c.value for c in ws[1]]
    assert headers == ["Mã số BHXH / SI number", "Hạn đóng / Due date", "Nguy cơ bỏ đóng / Risk of lapse",
                       "Số tiền phải đóng (VND) / Amount due (VND)", "Lý do 1 / Reason 1"]
    assert ws["A2"].value == 4600000001 and ws["E2"].value.startswith("Đã lỡ")
    assert ws["D3"].value is None
    assert ws.max_row == 3 and wb["Hong-Kim- A"].max_row == 2
    assert ws.column_dimensions["E"].width == 60
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_sheet_titles_are_valid_and_unique():
    used: set[str] = set()
    long = "x" * 40
    assert sheet_title(long, used) == "x" * 31
    assert sheet_title(long, used) == "x" * 27 + " (2)"
    assert header_for("unknown_column") == "unknown_column"


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(ValueError):
        write_workbook({}, tmp_path / "empty.xlsx")
    assert list(tmp_path.iterdir()) == []
