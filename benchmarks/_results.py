"""Saving a benchmark's results and the README rows generated from them.

Every benchmark writes `benchmarks/results/<name>.json` (atomically) with its measurements
and a `readme` list: the rows it contributes to the README's benchmark table, already
worded (benchmark, what, ours, side by side, goal). `benchmarks/readme.py` collects the
rows of every results file and writes the table between the README's markers, so every
number in it has a command and a committed JSON behind it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from dropout.io import write_text

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"


def results_path(name: str) -> Path:
    return RESULTS_DIR / f"{name}.json"


def machine() -> dict:
    """Where and when: the numbers of a shared machine mean little without its load."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
            "load_average_1m": load, "measured_at": time.strftime("%Y-%m-%d %H:%M", time.gmtime()) + " UTC",
            "commit": commit()}


def commit() -> str | None:
    """The code measured: the checkout's commit, '+' when it has uncommitted changes."""
    import subprocess

    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+" if dirty else "")


def save(name: str, payload: dict, readme: list[dict], measured_on: dict | None = None) -> Path:
    """Write the results of benchmark `name` with its README rows, atomically.

    `measured_on` keeps the machine record of results measured earlier (when only the
    README rows are regenerated)."""
    for row in readme:
        missing = {"benchmark", "what", "ours", "side_by_side", "goal"} - set(row)
        if missing:
            raise ValueError(f"README row of {name} lacks {sorted(missing)}")
    doc = {"benchmark": name, "machine": measured_on or machine(), **payload, "readme": readme}
    return write_text(json.dumps(doc, indent=1, default=float, ensure_ascii=False) + "\n", results_path(name))


def load(name: str) -> dict:
    path = results_path(name)
    if not path.exists():
        raise SystemExit(f"{path.relative_to(ROOT)} does not exist: run `uv run python benchmarks/{name}.py` first")
    return json.loads(path.read_text(encoding="utf-8"))


def replace_section(marker: str, body: str, path: Path = README) -> None:
    """Put `body` between `<!-- marker:start -->` and `<!-- marker:end -->` of the README."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text(encoding="utf-8")
    if start not in text or end not in text:
        raise SystemExit(f"{path.name} lacks the markers {start} ... {end}")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    write_text(before + start + "\n" + body.strip("\n") + "\n" + end + after, path)
