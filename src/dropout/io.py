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


def find_table_file(folder: Path, name: str) -> Path | None:
    for ext in (".parquet", ".csv", ".xlsx"):
        p = folder / f"{name}{ext}"
        if p.exists():
            return p
    return None


def read_table_file(path: Path) -> pd.DataFrame:
    """Read one table file by its extension, with no typing applied yet."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    if path.suffix == ".xlsx":
        return pd.read_excel(path, dtype=str)
    raise InputError(f"{path}: unsupported file type {path.suffix!r} (use .parquet, .csv or .xlsx)")


def read_extracted_on(folder: Path) -> pd.Timestamp:
    """The extraction date from manifest.json, or today when there is none."""
    manifest = folder / MANIFEST
    if manifest.exists():
        meta = json.loads(manifest.read_text(encoding="utf-8"))
        if "extracted_on" in meta:
            return pd.Timestamp(meta["extracted_on"]).normalize()
    return pd.Timestamp.today().normalize()


def read_raw_folder(folder: str | os.PathLike) -> tuple[dict[str, pd.DataFrame | None], pd.Timestamp]:
    """Read every contract table present in `folder` (None where missing), untyped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder {folder} does not exist")
    raw: dict[str, pd.DataFrame | None] = {}
    for name in TABLE_NAMES:
        p = find_table_file(folder, name)
        raw[name] = read_table_file(p) if p else None
    return raw, read_extracted_on(folder)


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
