"""Start-up of the `dropout` command: `--help` and three commands' `--help`, side by side
with `python -c "import pandas"` in one run (goal: each help <= 0.5 s on 2 cores).

Interleaved repeats (one round runs every command once, in turn), each a fresh process
timed from outside; medians and spreads (min-max) are printed with the verdict.

    uv run python benchmarks/cli.py               # 7 rounds
    uv run python benchmarks/cli.py --rounds 15

Results: benchmarks/results/cli.json (committed; the README table comes from it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "cli.json"
GOAL_SECONDS = 0.5


def commands() -> dict[str, list[str]]:
    dropout = [sys.executable, "-m", "dropout.cli"]
    return {
        "dropout --help": [*dropout, "--help"],
        "dropout score --help": [*dropout, "score", "--help"],
        "dropout train --help": [*dropout, "train", "--help"],
        "dropout models list --help": [*dropout, "models", "list", "--help"],
        'python -c "import pandas" (peer)': [sys.executable, "-c", "import pandas"],
    }


def run_once(argv: list[str]) -> float:
    env = {**os.environ, "COLUMNS": "100"}
    t = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return seconds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    cmds = commands()
    for argv in cmds.values():  # warm-up: the file cache, .pyc files
        run_once(argv)
    times: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.rounds):
        for name, argv in cmds.items():
            times[name].append(run_once(argv))
    rows = []
    print(f"{'command':38} {'median s':>9} {'min':>7} {'max':>7}  goal <= {GOAL_SECONDS} s")
    for name, ts in times.items():
        med = statistics.median(ts)
        peer = name.endswith("(peer)")
        ok = None if peer else med <= GOAL_SECONDS
        rows.append({"command": name, "median_s": med, "min_s": min(ts), "max_s": max(ts), "met": ok})
        print(f"{name:38} {med:9.3f} {min(ts):7.3f} {max(ts):7.3f}  {'' if peer else ('met' if ok else 'NOT met')}")
    ours = [r for r in rows if r["met"] is not None]
    peer = next(r for r in rows if r["met"] is None)
    verdict = all(r["met"] for r in ours)
    print(f"verdict: {'every help answers within' if verdict else 'NOT every help answers within'} {GOAL_SECONDS} s "
          f"(slowest median {max(r['median_s'] for r in ours):.3f} s; importing pandas alone: {peer['median_s']:.3f} s)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rounds": args.rounds, "load_average_1m": load, "goal_s": GOAL_SECONDS,
                                   "rows": rows, "met": verdict}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
