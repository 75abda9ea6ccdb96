"""In-process CPU per `POST /score` of one person (issue 17): the service's own work, no HTTP.

Loads the risk engine (`RiskEngine.load`, as `dropout serve` does) on the A Lưới demo
(`out/bench-serve`, made by benchmarks/serve.py or `dropout demo`) and times, one person
per request, what a worker does for a request body once BentoML has it: parse and check
the body (`ScoreRequest.model_validate_json`), `engine.score`, and the JSON answer
(`model_dump_json`). CPU time per request (`time.process_time`), median over the requests.

Before/after side by side: `--base DIR` names a source tree of the code before the change
(e.g. `git archive main src | tar -x -C /tmp/base`); each round runs the base and this
tree in fresh processes, interleaved, and the table gives the median and spread over rounds.

    uv run python benchmarks/score_cpu.py --base /tmp/base/src --rounds 5
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
GOAL_MS = 5.0


def _model_dir(folder: Path, facts: dict) -> Path:
    """The demo's model folder (the demo may have been made elsewhere and copied here)."""
    path = Path(facts["files"]["model"])
    if path.exists():
        return path
    parts = path.parts
    return folder.joinpath(*parts[parts.index("runs"):])


def child(folder: Path, people: int, repeat: int, model: Path | None) -> dict:
    """One process: load, warm up, then time each request; CPU ms per request."""
    import numpy as np
    import pandas as pd

    from dropout.io import load_tables
    from dropout.score.core import check_job, due_participants
    from dropout.service.core import RiskEngine
    from dropout.service.models import ScoreRequest
    from dropout.service.records import participant_records
    from dropout.service.settings import ServiceSettings

    facts = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    tables = load_tables(folder / "data")
    as_of, window = pd.Timestamp(facts["as_of"]), int(str(facts["window"]).rstrip("d"))
    due = due_participants(tables, check_job(tables, as_of, window))
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(due), size=min(people, len(due)), replace=False))
    ids = [int(p) for p in due["participant_id"].to_numpy()[pick]]
    head = {"as_of": str(as_of.date()), "window_days": window, "lang": "en",
            "extracted_on": str(tables.extracted_on.date())}
    bodies = [json.dumps({**head, "participants": [r]}).encode() for r in participant_records(tables, ids)]
    engine = RiskEngine.load(ServiceSettings(model=str(model or _model_dir(folder, facts)), data_dir=folder / "data"))
    for b in bodies[:50]:  # warm-up: first calls import and fill caches
        engine.score(ScoreRequest.model_validate_json(b)).model_dump_json()
    per = []
    scored = 0
    for _ in range(repeat):
        for b in bodies:
            t0 = time.process_time()
            out = engine.score(ScoreRequest.model_validate_json(b)).model_dump_json()
            per.append(time.process_time() - t0)
            scored += '"scored":true' in out
    return {"ms_median": 1000 * statistics.median(per), "ms_mean": 1000 * statistics.fmean(per),
            "requests": len(per), "scored": scored}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo-dir", type=Path, default=ROOT / "out" / "bench-serve")
    ap.add_argument("--base", type=Path, help="source tree (the folder holding `dropout/`) of the code before")
    ap.add_argument("--model", type=Path, help="a model folder (default: the demo's)")
    ap.add_argument("--base-label", default="before", help="how the results name the --base code")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=2, help="passes over the people in each process")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/score_cpu.json")
    args = ap.parse_args(argv)
    folder = args.demo_dir.resolve()
    if args.child:
        print(json.dumps(child(folder, args.people, args.repeat, args.model)))
        return 0
    trees = {"after": ROOT / "src"}
    if args.base:
        trees = {"before": args.base.resolve(), **trees}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    for r in range(args.rounds):
        for label, src in trees.items():
            env = {**os.environ, "PYTHONPATH": str(src), "DROPOUT_LOG_LEVEL": "WARNING"}
            out = subprocess.run([sys.executable, __file__, "--child", "--demo-dir", str(folder),
                                  "--people", str(args.people), "--repeat", str(args.repeat),
                                  *(["--model", str(args.model.resolve())] if args.model else [])],
                                 env=env, check=True, capture_output=True, text=True).stdout
            runs[label].append(json.loads(out.strip().splitlines()[-1]))
            print(f"round {r + 1} {label:>6}: {runs[label][-1]['ms_median']:.2f} ms CPU per request", flush=True)
    print(f"\nin-process CPU per POST /score of one person ({args.people} people x {args.repeat}, "
          f"{args.rounds} interleaved rounds; load average {os.getloadavg()[0]:.1f})")
    print(f"{'code':>8} | {'median ms':>9} | {'spread (min-max of rounds)':>26}")
    summary = {}
    for label, rs in runs.items():
        ms = [x["ms_median"] for x in rs]
        summary[label] = {"median_ms": statistics.median(ms), "min_ms": min(ms), "max_ms": max(ms), "rounds": rs}
        print(f"{label:>8} | {statistics.median(ms):9.2f} | {min(ms):.2f}-{max(ms):.2f}")
    after = summary["after"]["median_ms"]
    verdict = "meets" if after <= GOAL_MS else "misses"
    print(f"verdict: {after:.2f} ms {verdict} the goal of <= {GOAL_MS:g} ms CPU per request (in process)")
    if args.save:
        sys.path.insert(0, str(Path(__file__).parent))
        from _results import save

        side = (f"{args.base_label} {summary['before']['median_ms']:.1f} ms" if "before" in summary else "")
        save("score_cpu", {"people": args.people, "repeat": args.repeat, "runs": summary},
             readme=[{"benchmark": "`uv run python benchmarks/score_cpu.py`",
                      "what": "in-process CPU per POST /score of one person (parse, score, JSON answer), "
                              "A Lưới demo model",
                      "ours": f"{after:.1f} ms (spread {summary['after']['min_ms']:.1f}-"
                              f"{summary['after']['max_ms']:.1f})",
                      "side_by_side": side, "goal": f"<= {GOAL_MS:g} ms"}])
    return 0


if __name__ == "__main__":
    sys.exit(main())
