"""Excel workbooks an officer can read: bilingual headers, set widths, no index column.

One function writes every workbook of the project (risk lists per district, visit plans
per officer-day), atomically.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from dropout.io import atomic_path

# Column headers shown to officers: Vietnamese first, English after the slash.
HEADERS: dict[str, tuple[str, str]] = {
    "participant_id": ("Mã số BHXH", "SI number"),
    "household_id": ("Mã hộ", "Household"),
    "village_id": ("Thôn/bản", "Village"),
    "village": ("Thôn/bản", "Village"),
    "commune": ("Xã", "Commune"),
    "district": ("Huyện", "District"),
    "province": ("Tỉnh", "Province"),
    "due_on": ("Hạn đóng", "Due date"),
    "amount_due": ("Số tiền phải đóng (VND)", "Amount due (VND)"),
    "net_amount": ("Số tiền sau hỗ trợ (VND)", "Net amount (VND)"),
    "risk": ("Nguy cơ bỏ đóng", "Risk of lapse"),
    "risk_band": ("Mức nguy cơ", "Risk band"),
    "rank_in_district": ("Thứ hạng trong huyện", "Rank in district"),
    "rank_in_commune": ("Thứ hạng trong xã", "Rank in commune"),
    "expected_lapse": ("Kỳ vọng bỏ đóng", "Expected lapse"),
    "payment_mode": ("Phương thức đóng", "Payment mode"),
    "travel_minutes": ("Thời gian đi (phút)", "Travel (minutes)"),
    "reason_1": ("Lý do 1", "Reason 1"),
    "reason_2": ("Lý do 2", "Reason 2"),
    "reason_3": ("Lý do 3", "Reason 3"),
    "reason_4": ("Lý do 4", "Reason 4"),
    "officer_day": ("Ngày công tác", "Officer day"),
    "trip": ("Chuyến đi", "Trip"),
    "action": ("Hình thức", "Action"),
    "visit_order": ("Thứ tự", "Order"),
    "expected_averted": ("Số người giữ được (kỳ vọng)", "Expected lapses averted"),
    "minutes": ("Thời gian (phút)", "Minutes"),
    "language": ("Ngôn ngữ", "Language"),
    "ethnic_language": ("Ngôn ngữ", "Language"),
    "full_name": ("Họ tên", "Name"),
    "phone": ("Điện thoại", "Phone"),
    "address": ("Địa chỉ", "Address"),
    "village_name": ("Tên thôn", "Village name"),
    "status": ("Tình trạng", "Status"),
    "arrears_installments": ("Số kỳ nợ", "Installments owed"),
    "arrears_months": ("Số tháng nợ", "Months owed"),
    "arrears_vnd": ("Số tiền nợ (VND)", "Amount owed (VND)"),
    "arrears_since": ("Nợ từ hạn", "Owed since"),
    "suggested_action": ("Việc nên làm", "Suggested action"),
    "since_scoring": ("Tình hình từ khi lập danh sách", "Since scoring"),
    "visit_date": ("Ngày đi", "Visit date"),
}

_WIDTHS = {"reason": 60, "default_min": 10, "default_max": 40}
_INVALID_SHEET_CHARS = re.compile(r"[\[\]\*\?/\\:]")


def header_for(column: str) -> str:
    """'Vietnamese / English' for a known column; reason columns by their prefix."""
    base = re.sub(r"_(vi|en)$", "", column)
    if column in ("action_vi", "action_en"):  # the suggested action (score row), not the plan's "action"
        base = "suggested_action"
    if base in HEADERS:
        vi, en = HEADERS[base]
        return f"{vi} / {en}"
    return column


def sheet_title(name: str, used: set[str]) -> str:
    """A valid, unique Excel sheet title (31 characters, no []*?/\\:)."""
    title = _INVALID_SHEET_CHARS.sub("-", str(name)).strip() or "Sheet"
    title = title[:31]
    candidate, n = title, 2
    while candidate.lower() in used:
        suffix = f" ({n})"
        candidate = title[: 31 - len(suffix)] + suffix
        n += 1
    used.add(candidate.lower())
    return candidate


def write_workbook(sheets: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Write one sheet per DataFrame, in order, atomically; returns the path.

    Headers are bilingual where the column is known (see HEADERS), the header row is
    bold, frozen and filterable (autofilter), widths follow the content, dates are real
date cells (dd/mm/yyyy), no index column, no "nan" (missing cells stay empty).
    """
    if not sheets:
        raise ValueError(f"{path}: no sheets to write")
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, df in sheets.items():
        ws = wb.create_sheet(sheet_title(name, used))
        _fill_sheet(ws, df)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return Path(path)


def _fill_sheet(ws, df: pd.DataFrame) -> None:
    headers = [header_for(c) for c in df.columns]
    df = df.copy()
    for c in df.columns:  # dates kept as objects (blanks for missing) become real date cells too
        if df[c].dtype == object and len(df) and df[c].map(lambda v: hasattr(v, "year") and hasattr(v, "day")).any():
            df[c] = df[c].map(lambda v: v if hasattr(v, "year") else None)
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    values = df.astype(object).where(df.notna(), None)
    for row in values.itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in row])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
                cell.data_type = "s"  # data that looks like a formula stays text, never runs
    for i, column in enumerate(df.columns, start=1):
        letter = get_column_letter(i)
        if pd.api.types.is_datetime64_any_dtype(df[column]) or column in _DATE_COLUMNS:
            for cell in ws[letter][1:]:
                cell.number_format = "dd/mm/yyyy"
        elif column == "risk":
            for cell in ws[letter][1:]:
                cell.number_format = "0%"
        elif column in _MONEY_COLUMNS or (pd.api.types.is_integer_dtype(df[column]) and "amount" in column):
            for cell in ws[letter][1:]:
                cell.number_format = "#,##0"
        ws.column_dimensions[letter].width = _width(column, headers[i - 1], df[column])
        if column.startswith(("reason", "action")):
            for cell in ws[letter][1:]:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    if len(df.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(df.columns))}{max(len(df) + 1, 1)}"


#: A cell starting with one of these would be read by a spreadsheet as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")
_DATE_COLUMNS = {"due_on", "paid_on", "visited_on", "visit_date", "arrears_since", "enrolled_on"}
_MONEY_COLUMNS = {"net_amount", "amount_due", "arrears_vnd", "amount_paid"}


def _cell_value(v):
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if v is pd.NaT:
        return None
    if hasattr(v, "item"):
        return v.item()
    return v


def _width(column: str, header: str, values: pd.Series) -> float:
    if column.startswith(("reason", "action")):
        return _WIDTHS["reason"]
    # pandas 3 keeps missing values missing through astype(str): blank them first.
    sample = [("" if pd.isna(v) else str(v)) for v in values.head(200).tolist()]
    longest = max([len(header) * 0.6, *(len(s) for s in sample)], default=10)
    return float(min(max(longest + 2, _WIDTHS["default_min"]), _WIDTHS["default_max"]))
