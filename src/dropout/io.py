"""Reading and writing raw tables and outputs: the edge of the library.

Tables are read from a folder (Parquet native; CSV and Excel accepted), typed to the
contract, validated (`dropout.schema`), and handed on as a `Tables` bundle. Every file we write goes to a
temporary name first and is renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

from dropout.errors import DataContractError, InputError
from dropout.schema import TABLE_NAMES, Tables, validate_raw

MANIFEST = "manifest.json"


# ---------------------------------------------------------------- atomic writes


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` only on success."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame to Parquet atomically (no index)."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(path)


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a DataFrame to UTF-8 CSV atomically (no index)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False, encoding="utf-8")
    return Path(path)


def write_text(text: str, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(obj, path: str | os.PathLike) -> Path:
    return write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", path)


# ---------------------------------------------------------------- reading


TABLE_FORMATS = (".parquet", ".csv", ".xlsx")


def table_files(folder: Path, name: str) -> list[Path]:
    """Every file of table `name` in `folder` (one expected), symlinks included."""
    return [folder / f"{name}{ext}" for ext in TABLE_FORMATS
            if (folder / f"{name}{ext}").exists() or (folder / f"{name}{ext}").is_symlink()]


def find_table_file(folder: Path, name: str) -> Path | None:
    files = table_files(folder, name)
    return files[0] if files else None


def _unreadable(table: str, path: Path, why: str) -> dict:
    return {"table": table, "column": None, "check": f"{path.name}: {why}", "rows": []}


def read_table_file(path: Path, table: str | None = None) -> pd.DataFrame:
    """Read one table file by its extension, with no typing applied yet.

    Raises:
        DataContractError: the file cannot be read as a table (empty, truncated, not
            UTF-8, a symlink, a duplicated or delimiter-less header...), naming the file.
    """
    table = table or path.stem
    if path.suffix not in TABLE_FORMATS:
        raise InputError(f"{path}: unsupported file type {path.suffix!r} (use .parquet, .csv or .xlsx)")
    if path.is_symlink():
        raise DataContractError([_unreadable(table, path, "is a symbolic link; copy the file itself into the folder")])
    if not path.is_file():
        raise DataContractError([_unreadable(table, path, "is not a regular file")])
    if path.stat().st_size == 0:
        raise DataContractError([_unreadable(table, path, "is empty (0 bytes)")])
    try:
        if path.suffix == ".parquet":
            return _read_parquet(path)
        if path.suffix == ".csv":
            return _read_csv(path, table)
        return pd.read_excel(path, dtype=str)
    except DataContractError:
        raise
    except UnicodeDecodeError:
        why = "is not UTF-8 text (saved as ANSI/Windows-1252?); save it as \"CSV UTF-8\""
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as err:
        why = f"cannot be read as CSV ({_first_line(err)})"
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as err:  # noqa: BLE001 - pyarrow, openpyxl and zipfile raise many types for a bad file
        why = f"cannot be read as {path.suffix[1:]} ({type(err).__name__}: {_first_line(err)})"
    raise DataContractError([_unreadable(table, path, why)])


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return (text[0] if text else "")[:200]


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    arrow = pq.read_table(path)
    arrow.validate(full=True)  # e.g. text that is not UTF-8 inside a string column
    if len(set(arrow.column_names)) != len(arrow.column_names):
        raise DataContractError([_unreadable(path.stem, path, "has the same column name twice")])
    try:
        return arrow.to_pandas()
    except Exception:  # noqa: BLE001 - e.g. a timestamp beyond year 2262: keep the values as objects
        return arrow.to_pandas(timestamp_as_object=True, date_as_object=True)


def _read_csv(path: Path, table: str) -> pd.DataFrame:
    import csv

    with open(path, encoding="utf-8-sig", newline="") as f:
        header = next(csv.reader([f.readline()]), [])
    names = [h.strip() for h in header]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataContractError([{"table": table, "column": ", ".join(twice),
                                  "check": f"{path.name}: column(s) named twice in the header", "rows": []}])
    if len(header) == 1:
        line = header[0] if header else ""
        for sep, word in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
            if line.count(sep) >= 2:
                raise DataContractError([_unreadable(
                    table, path, f"the header is separated by {word}, not commas; save it as comma-separated "
                                 "\"CSV UTF-8\" (the delimiter must be ',')")])
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig")


def read_extracted_on(folder: Path) -> pd.Timestamp:
    """The extraction date from manifest.json, or today when there is none.

    Raises:
        DataContractError: the manifest is not JSON, or its extracted_on is not a date.
    """
    manifest = folder / MANIFEST
    if manifest.exists() or manifest.is_symlink():
        def refuse(why: str):
            return DataContractError([{"table": "manifest", "column": "extracted_on",
                                       "check": f"{MANIFEST}: {why}", "rows": []}])

        if manifest.is_symlink() or not manifest.is_file():
            raise refuse("is not a regular file (symlinks are refused)")
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
        except (ValueError, RecursionError):
            raise refuse("is not valid UTF-8 JSON") from None
        if not isinstance(meta, dict):
            raise refuse("is not a JSON object")
        if "extracted_on" in meta:
            value = meta["extracted_on"]
            try:
                day = pd.Timestamp(pd.to_datetime(str(value), format="%Y-%m-%d"))
            except (ValueError, TypeError, OverflowError):
                raise refuse(f"extracted_on {str(value)[:40]!r} is not a date YYYY-MM-DD") from None
            if not pd.Timestamp("1990-01-01") <= day <= pd.Timestamp("2100-12-31"):
                raise refuse(f"extracted_on {day.date()} is outside 1990-2100")
            return day.normalize()
    return pd.Timestamp.today().normalize()


def read_raw_folder(folder: str | os.PathLike) -> tuple[dict[str, pd.DataFrame | None], pd.Timestamp]:
    """Read every contract table present in `folder` (None where missing), untyped.

    Raises:
        FileNotFoundError: no such folder.
        DataContractError: a file cannot be read, or a table comes in two formats; every
            such problem of the folder at once.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    raw: dict[str, pd.DataFrame | None] = {}
    problems: list[dict] = []
    for name in TABLE_NAMES:
        files = table_files(folder, name)
        raw[name] = None
        if len(files) > 1:
            problems.append({"table": name, "column": None, "rows": [],
                             "check": f"found as {' and '.join(p.name for p in files)}: keep exactly one"})
            continue
        if files:
            try:
                raw[name] = read_table_file(files[0], name)
            except DataContractError as err:
                problems.extend(err.problems)
    try:
        extracted_on = read_extracted_on(folder)
    except DataContractError as err:
        problems.extend(err.problems)
    if problems:
        raise DataContractError(problems, source=str(folder))
    return raw, extracted_on


def load_tables(folder: str | os.PathLike) -> Tables:
    """Read, type and validate a data folder; raise DataContractError on any problem."""
    raw, extracted_on = read_raw_folder(folder)
    try:
        return validate_raw(raw, extracted_on)
    except DataContractError as err:
        err.source = str(folder)
        raise


def write_tables(tables: Tables, folder: str | os.PathLike, **manifest_extra) -> Path:
    """Write all eight tables as Parquet plus manifest.json into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.as_dict().items():
        write_parquet(df, folder / f"{name}.parquet")
    write_json({"extracted_on": tables.extracted_on.date().isoformat(), **manifest_extra}, folder / MANIFEST)
    return folder
