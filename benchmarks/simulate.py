"""Time and peak memory of the simulator at 100k and 1M participants over 5 years.

Each size runs in a fresh child process, so its peak resident memory (getrusage max RSS,
which includes numpy and Arrow buffers) is its own. The simulation and the Parquet
writing are timed separately. Goal (issue 2): 1M participants in <= 120 s and <= 8 GB
peak on 2 cores. Prints a markdown table and saves benchmarks/results/simulate.json
(committed; the README's benchmark table is generated from it).

    uv run python benchmarks/simulate.py                 # 100k and 1M, national preset
    uv run python benchmarks/simulate.py --sizes 100000  # one size
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from _results import save

START, END = "2021-07", "2026-06"  # 5 years
GOAL_SECONDS, GOAL_GB = 120, 8


def child(participants: int, preset: str) -> None:
    """Run one size and print one JSON line with its numbers."""
    import numpy as np
    import pandas as pd

    from dropout.simulate import simulate, write_simulation

    t0 = time.perf_counter()
    result = simulate(preset, participants=participants, start=START, end=END, seed=0)
    t1 = time.perf_counter()
    out = tempfile.mkdtemp(prefix="dropout-bench-")
    try:
        write_simulation(result, out)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    t2 = time.perf_counter()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb = usage.ru_maxrss  # kilobytes on Linux
    print(json.dumps({
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "participants": participants,
        "installments": len(result.tables.installments),
        "simulate_s": t1 - t0,
        "write_s": t2 - t1,
        "peak_gb": peak_kb * 1024 / 1e9,
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--preset", default="national")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.preset)
        return

    rows = []
    for n in args.sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", str(n), "--preset", args.preset],
            capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            sys.stderr.write(proc.stderr)
            raise SystemExit(f"benchmark child for {n:,} participants failed (exit {proc.returncode})")
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))

    first = rows[0]
    load = os.getloadavg()[0]
    print(f"Simulator benchmark: preset `{args.preset}`, {START} to {END} (5 years + 12 months of schedule), seed 0; "
          f"{os.cpu_count()} CPUs (load average {load:.1f} at the end), Python {platform.python_version()}, "
          f"numpy {first['numpy']}, pandas {first['pandas']}. Times are wall-clock; CPU = user + system "
          f"(includes imports).\n")
    print("| participants | installment rows | simulate (s) | write Parquet (s) | total (s) | CPU (s) | peak RSS (GB) |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        total = r["simulate_s"] + r["write_s"]
        print(f"| {r['participants']:,} | {r['installments']:,} | {r['simulate_s']:.1f} | {r['write_s']:.1f} "
              f"| {total:.1f} | {r['cpu_s']:.1f} | {r['peak_gb']:.2f} |")
    readme = []
    for r in rows:
        total = r["simulate_s"] + r["write_s"]
        goal = ""
        if r["participants"] >= 1_000_000:
            met = total <= GOAL_SECONDS and r["peak_gb"] <= GOAL_GB
            goal = f"<= {GOAL_SECONDS} s, <= {GOAL_GB} GB at 1M: {'met' if met else '**not met**'}"
        readme.append({"benchmark": "`simulate.py`",
                       "what": f"{r['participants']:,} participants x 5 years ({r['installments']:,} installments), "
                               "simulate + write Parquet",
                       "ours": f"{total:.1f} s (CPU {r['cpu_s']:.1f} s), {r['peak_gb']:.2f} GB peak",
                       "side_by_side": "", "goal": goal})
    save("simulate", {"preset": args.preset, "period": [START, END], "rows": rows}, readme)


if __name__ == "__main__":
    main()
