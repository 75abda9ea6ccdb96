"""A flame graph of the risk service answering POST /score, one person per request (issue 17).

Starts `dropout serve` with one worker on the A Lưới demo (made by benchmarks/serve.py, or
`dropout demo --out out/bench-serve`), sends requests back to back from one client and
records the worker with py-spy (a sampling profiler, dev dependency) for `--seconds`,
writing an SVG flame graph. Also prints the server's CPU per request (/proc) over the
recorded stretch (py-spy's sampling adds a little).

    uv run python benchmarks/flame_serve.py --out benchmarks/results/serve-flame-after.svg
    # the code before a change: the same script with an older checkout first on the path
    DROPOUT_HOME=/tmp/old PYTHONPATH=/tmp/old/src uv run python benchmarks/flame_serve.py \
        --out benchmarks/results/serve-flame-before.svg
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import BIN, ROOT, _proc_tree, free_port, proc_cpu_seconds  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo-dir", type=Path, default=ROOT / "out" / "bench-serve")
    ap.add_argument("--out", type=Path, required=True, help="the SVG to write")
    ap.add_argument("--path", default="/score", choices=["/score", "/score_ids"])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    args = ap.parse_args(argv)

    import pandas as pd

    from dropout.io import load_tables
    from dropout.score.core import check_job, due_participants
    from dropout.service.records import participant_records

    folder = args.demo_dir.resolve()
    facts = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    tables = load_tables(folder / "data")
    as_of, window = pd.Timestamp(facts["as_of"]), int(str(facts["window"]).rstrip("d"))
    due = due_participants(tables, check_job(tables, as_of, window))
    ids = [int(p) for p in due["participant_id"][:300]]
    head = {"as_of": str(as_of.date()), "window_days": window, "lang": "en",
            "extracted_on": str(tables.extracted_on.date())}
    if args.path == "/score":
        bodies = [json.dumps({**head, "participants": [r]}).encode() for r in participant_records(tables, ids)]
    else:
        bodies = [json.dumps({"participant_ids": [i], "lang": "en"}).encode() for i in ids]
    port, key = free_port(), "k" * 40
    env = {**os.environ, "DROPOUT_API_KEYS": key, "BENTOML_DO_NOT_TRACK": "true",
           "BENTOML_HOME": str(folder / "servers" / "bentoml")}
    cmd = [str(BIN / "dropout"), "serve", "--port", str(port), "--workers", "1", "--model", facts["files"]["model"],
           "--data", str(folder / "data"), "--store", f"sqlite:///{folder / 'scores.db'}"]
    log = open(folder / "servers" / "flame.log", "wb") if (folder / "servers").is_dir() else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        c = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False,
                         headers={"X-API-Key": key, "Content-Type": "application/json"})
        for _ in range(960):
            try:
                if c.get("/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        for b in bodies[:60]:
            assert c.post(args.path, content=b).status_code == 200
        tree = _proc_tree(proc.pid)
        worker = max(tree[1:] or tree, key=lambda pid: proc_cpu_seconds([pid]))  # the one that answered
        stop = threading.Event()
        sent = [0]

        def load() -> None:
            while not stop.is_set():
                c.post(args.path, content=bodies[sent[0] % len(bodies)])
                sent[0] += 1

        cpu0 = proc_cpu_seconds(tree)
        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(BIN / "py-spy"), "record", "--pid", str(worker), "--duration", str(int(args.seconds)),
                        "--rate", str(args.rate), "--format", "flamegraph", "--output", str(args.out), "--nonblocking"],
                       check=True)
        stop.set()
        thread.join()
        cpu = proc_cpu_seconds(tree) - cpu0
        print(f"{args.path}: {sent[0]} requests, server CPU {1000 * cpu / max(sent[0], 1):.2f} ms/request "
              f"(load average {os.getloadavg()[0]:.1f}); flame graph: {args.out}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
