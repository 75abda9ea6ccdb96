"""Start-up of the `dropout` command: `--help` and three commands' `--help`, side by side
with `python -c "import pandas"` in one run (goal: each help <= 0.5 s on 2 cores).
Wall time and CPU time (user + system) of each process are both reported: on a shared
machine the wall time carries the other jobs' load, the CPU time much less so.

Interleaved repeats (one round runs every command once, in turn), each a fresh process
timed from outside; medians and spreads (min-max) are printed with the verdict.

    uv run python benchmarks/cli.py               # 7 rounds
    uv run python benchmarks/cli.py --rounds 15

Results: benchmarks/results/cli.json (committed; the README table comes from it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _results import save

ROOT = Path(__file__).resolve().parents[1]
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


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_once(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one fresh process."""
    env = {**os.environ, "COLUMNS": "100"}
    cpu = _children_cpu()
    t = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - t
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-500:]}")
    return seconds, _children_cpu() - cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    cmds = commands()
    for argv in cmds.values():  # warm-up: the file cache, .pyc files
        run_once(argv)
    wall: dict[str, list[float]] = {name: [] for name in cmds}
    cpu: dict[str, list[float]] = {name: [] for name in cmds}
    for _ in range(args.rounds):
        for name, argv in cmds.items():
            w, c = run_once(argv)
            wall[name].append(w)
            cpu[name].append(c)
    rows = []
    print(f"{'command':38} {'wall median s':>13} {'min':>6} {'max':>6} {'CPU median s':>13}  goal <= {GOAL_SECONDS} s")
    for name in cmds:
        med, cmed = statistics.median(wall[name]), statistics.median(cpu[name])
        peer = name.endswith("(peer)")
        ok = None if peer else med <= GOAL_SECONDS
        rows.append({"command": name, "median_s": med, "min_s": min(wall[name]), "max_s": max(wall[name]),
                     "cpu_median_s": cmed, "cpu_min_s": min(cpu[name]), "cpu_max_s": max(cpu[name]), "met": ok})
        print(f"{name:38} {med:13.3f} {min(wall[name]):6.3f} {max(wall[name]):6.3f} {cmed:13.3f}  "
              f"{'' if peer else ('met' if ok else 'NOT met')}")
    ours = [r for r in rows if r["met"] is not None]
    peer = next(r for r in rows if r["met"] is None)
    verdict = all(r["met"] for r in ours)
    slowest = max(ours, key=lambda r: r["median_s"])
    print(f"verdict: {'every help answers within' if verdict else 'NOT every help answers within'} {GOAL_SECONDS} s "
          f"(slowest median {slowest['median_s']:.3f} s; importing pandas alone: {peer['median_s']:.3f} s)")
    fastest = min(ours, key=lambda r: r["median_s"])
    readme = [{
        "benchmark": "`cli.py`",
        "what": f"start-up: `dropout --help` and three subcommands' `--help`, {args.rounds} interleaved rounds",
        "ours": f"wall median {fastest['median_s']:.2f}-{slowest['median_s']:.2f} s "
                f"(CPU {min(r['cpu_median_s'] for r in ours):.2f}-{max(r['cpu_median_s'] for r in ours):.2f} s)",
        "side_by_side": f"`python -c \"import pandas\"`: wall {peer['median_s']:.2f} s, CPU {peer['cpu_median_s']:.2f} s",
        "goal": f"each <= {GOAL_SECONDS} s: {'met' if verdict else '**not met**'}",
    }]
    save("cli", {"rounds": args.rounds, "goal_s": GOAL_SECONDS, "rows": rows, "met": verdict}, readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
