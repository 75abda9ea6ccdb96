"""Every number of the README's benchmark table comes from a committed results file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import readme  # noqa: E402  (benchmarks/readme.py)
from _results import RESULTS_DIR  # noqa: E402

KEYS = {"benchmark", "what", "ours", "side_by_side", "goal"}


def test_every_results_file_says_where_it_was_measured_and_what_it_adds_to_the_readme():
    files = sorted(RESULTS_DIR.glob("*.json"))
    assert files, "no benchmark results are committed"
    for path in files:
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert {"cpus", "load_average_1m", "measured_at"} <= set(doc["machine"]), path.name
        for row in doc.get("readme", []):
            assert set(row) == KEYS, (path.name, set(row) ^ KEYS)


def test_the_readme_table_is_the_generated_one():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = f"<!-- {readme.MARKER}:start -->", f"<!-- {readme.MARKER}:end -->"
    body = text.split(start, 1)[1].split(end, 1)[0].strip("\n")
    assert body == readme.table(), "README's benchmark table differs: run `uv run python benchmarks/readme.py`"
