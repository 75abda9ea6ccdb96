"""Write the README's benchmark table from the committed results in benchmarks/results/.

Each results file carries the rows its benchmark contributes (see benchmarks/_results.py);
this script only collects them, in a fixed order, with the machine load each was measured
under. No number in the table is typed by hand.

    uv run python benchmarks/readme.py           # rewrite the table in README.md
    uv run python benchmarks/readme.py --print   # print it only
"""

from __future__ import annotations

import argparse
import json
import sys

from _results import RESULTS_DIR, replace_section

ORDER = ("simulate", "features", "train", "score", "targeting", "cli", "serve", "monitor", "whatif", "effects")
MARKER = "benchmarks-table"


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table() -> str:
    docs = []
    for path in sorted(RESULTS_DIR.glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("readme"):
            docs.append(doc)
    docs.sort(key=lambda d: (ORDER.index(d["benchmark"]) if d["benchmark"] in ORDER else len(ORDER), d["benchmark"]))
    lines = ["| benchmark | what | ours | side by side | goal | load (1 min), when and code measured |",
             "|---|---|---|---|---|---|"]
    for doc in docs:
        load = doc.get("machine", {}).get("load_average_1m")
        when = f"{load:.1f}, {doc['machine'].get('measured_at', '')}" if load is not None else ""
        if doc.get("machine", {}).get("commit"):
            when += f", code {doc['machine']['commit']}"
        for row in doc["readme"]:
            lines.append("| " + " | ".join(_cell(row[k]) for k in ("benchmark", "what", "ours", "side_by_side", "goal"))
                         + f" | {when} |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--print", action="store_true", help="print the table without touching README.md")
    args = ap.parse_args()
    text = table()
    if not args.print:
        replace_section(MARKER, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
