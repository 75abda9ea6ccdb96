"""Latency, throughput and server CPU of the risk service against `mlflow models serve` (issue 17).

What it does, all on loopback (127.0.0.1):

1. the A Lưới demo model: `dropout demo` (simulate A Lưới, seed 0; train
   experiments/a-luoi.yaml; score on the extraction day; plan) into `--demo-dir`
   (default out/bench-serve), once: later runs reuse it. The demo's registered model,
   its data folder (the service's reference data) and its score store are what both
   servers serve;
2. starts both servers of that same registered model, each a subprocess with the same
   number of worker processes (`--workers`): ours (`dropout serve`) and
   `mlflow models serve --env-manager local`. Ours gets POST /score with one person's raw
   records and answers with risk, band and four reasons (validation, features,
   calibration, pred_contrib); MLflow gets POST /invocations with the same person's
   ready-made feature row (`dataframe_split`) and answers with the booster's probability
   only (the registered LightGBM trees, without the blended logistic line and calibration).
   The people are those the demo's batch run scored (same as-of and window); the first
   answer of each server is checked against the model in process (ours also against the
   batch run's stored risk, to 1e-9);
3. measures each server under the same loads, interleaved: for each of `--repeats`
   rounds, the open loop (`--rate` req/s for `--seconds`, latency from each request's
   scheduled time, so a slow server cannot slow the load down) and the closed loop at
   each `--concurrency` level (N clients back to back), ours and MLflow one after the
   other, the first of the pair alternating between rounds. Server CPU per request is
   read from /proc (utime + stime of the server process and all its descendants) before
   and after each run. Ours also answers POST /score_ids (one id, the stored batch row)
   in a closed loop with one client;
4. reports per (server, load) the median of the rounds and their spread (min-max) for
   p50, p99, throughput and CPU per request, the verdicts against the goals, and writes
   benchmarks/results/serve.json with the README rows (benchmarks/_results.py).

Goals (issue 17): server CPU <= 5 ms per /score; p99 <= 25 ms at 200 req/s open loop for
60 s with 0 errors on 2 cores (the load generator shares them, as a sidecar would);
>= 3x the throughput of `mlflow models serve` at equal p99; /score_ids <= 2 ms CPU.

    uv run python benchmarks/serve.py                          # full: 3 rounds, 60 s open loop
    uv run python benchmarks/serve.py --seconds 10 --closed-seconds 4 --repeats 3   # a quick look
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
START_TIMEOUT_S = 240
REQUEST_TIMEOUT_S = 10.0  # a request not answered by then is an error; keeps every run bounded
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    """One server endpoint under load: where to POST and the pre-encoded bodies, one person each."""

    name: str
    url: str
    path: str
    headers: dict[str, str]
    bodies: list[bytes]


@dataclass
class Run:
    """Latencies (ms) and errors of one load run."""

    server: str
    mode: str  # "open" or "closed"
    load: float  # req/s offered (open) or concurrent clients (closed)
    seconds: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    server_cpu_s: float = 0.0  # CPU time of the server's processes during the run (/proc)
    client_cpu_s: float = 0.0  # CPU time of this load generator during the run
    load_avg: float = 0.0  # 1-minute load average before the run (other work on the machine)

    def count(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def summary(self) -> dict:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.asarray([np.nan])
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        ok = len(self.latencies_ms)
        # CPU per request the server saw: a request dropped by the load generator never reached it.
        sent = max(ok + self.errors - self.error_kinds.get("dropped", 0), 1)
        return {"server": self.server, "mode": self.mode, "load": self.load, "requests": ok + self.errors,
                "errors": self.errors, "error_kinds": self.error_kinds, "p50_ms": float(p50), "p95_ms": float(p95),
                "p99_ms": float(p99), "max_ms": float(np.max(lat)), "achieved_rps": ok / self.seconds,
                "seconds": round(self.seconds, 2), "server_cpu_s": self.server_cpu_s,
                "server_cpu_ms_per_request": 1000 * self.server_cpu_s / sent,
                "client_cpu_ms_per_request": 1000 * self.client_cpu_s / sent, "load_avg_before": self.load_avg}


# ---------------------------------------------------------------- the demo's model and data


def demo(folder: Path) -> dict:
    """The A Lưới demo (`dropout demo`) in `folder`: made once, then reused."""
    summary = folder / "summary.json"
    if not summary.exists():
        from dropout.pipeline import run_demo

        print(f"training the A Lưới demo model once into {folder} (dropout demo) ...", flush=True)
        t0 = time.perf_counter()
        run_demo(folder)
        print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)
    return json.loads(summary.read_text(encoding="utf-8"))


def prepare(folder: Path, people: int) -> dict:
    """Both servers' request bodies for the people the demo's batch run scored."""
    import pandas as pd

    from dropout.io import load_tables
    from dropout.model.gbm import DropoutModel
    from dropout.score.core import check_job, due_participants, feature_matrix
    from dropout.service.records import participant_records

    facts = demo(folder)
    data = folder / "data"
    tables = load_tables(data)  # typed as the service reads its reference folder
    model = DropoutModel.load(facts["files"]["model"])
    as_of = pd.Timestamp(facts["as_of"])
    window = int(str(facts["window"]).rstrip("d"))
    job = check_job(tables, as_of, window)
    due = due_participants(tables, job)  # people who get a score (not "not due"), as in production
    rng = np.random.default_rng(0)
    pick = np.sort(rng.choice(len(due), size=min(people, len(due)), replace=False))
    due = due.iloc[pick].reset_index(drop=True)
    X = feature_matrix(tables, job, due, list(model.feature_names))
    ids = [int(p) for p in due["participant_id"]]
    head = {"as_of": str(as_of.date()), "window_days": window, "lang": "en",
            "extracted_on": str(tables.extracted_on.date())}
    ours = [json.dumps({**head, "participants": [rec]}).encode() for rec in participant_records(tables, ids)]
    columns = list(X.columns)
    theirs = [json.dumps({"dataframe_split": {"columns": columns, "data": [[None if np.isnan(v) else float(v)
                                                                           for v in row]]}}).encode()
              for row in X.to_numpy(dtype=np.float64, na_value=np.nan)]
    by_id = [json.dumps({"participant_ids": [i], "lang": "en"}).encode() for i in ids]
    m = facts["model"]
    tracking = f"sqlite:///{folder / 'mlflow.db'}"
    return {"tracking_uri": tracking, "model_uri": f"models:/{m['name']}/{m['version']}",
            "model_ref": f"{m['name']}@{m['alias']}", "data": data, "store": f"sqlite:///{folder / 'scores.db'}",
            "model": model, "X": X, "ids": ids, "ours": ours, "theirs": theirs, "by_id": by_id,
            "info": {"model": m["name"], "version": m["version"], "alias": m["alias"], "features": len(columns),
                     "trees": int(model.booster_.num_trees()), "demo_dir": str(folder),
                     "participants_in_data": int(len(tables.participants)), "as_of": facts["as_of"],
                     "window_days": window, "people_in_bodies": len(ids),
                     "mean_body_bytes": {"ours": int(np.mean([len(b) for b in ours])),
                                         "mlflow": int(np.mean([len(b) for b in theirs]))}}}


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_tree(root: int) -> list[int]:
    """`root` and all its descendants, from /proc (pid -> parent pid)."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields_ = _stat_fields(int(entry))
        if fields_:
            parent[int(entry)] = int(fields_[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, ppid in parent.items() if ppid in frontier]
        tree.extend(frontier)
    return tree


def _stat_fields(pid: int) -> list[bytes]:
    """The fields of /proc/<pid>/stat after the command name (empty when the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return []
    return stat[stat.rindex(b")") + 2:].split()


def proc_cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes so far (/proc/<pid>/stat, clock ticks)."""
    total = 0
    for pid in pids:
        fields_ = _stat_fields(pid)
        if fields_:
            total += int(fields_[11]) + int(fields_[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


class Server:
    """A server subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], log: Path, ready_path: str, port: int):
        self.name, self.log, self.ready_path = name, log, ready_path
        self.url = f"http://127.0.0.1:{port}"
        self.pids: list[int] = []
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> float:
        """Seconds until the readiness probe answers 200; raise with the log's tail if it never does."""
        t0 = time.monotonic()
        with httpx.Client(base_url=self.url, timeout=5, trust_env=False) as c:
            while time.monotonic() - t0 < timeout:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
                try:
                    if c.get(self.ready_path).status_code == 200:
                        return time.monotonic() - t0
                except httpx.TransportError:
                    pass
                time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.tail()}")

    def cpu_seconds(self) -> float:
        """CPU time of the server process and every descendant (workers), from /proc."""
        if not self.pids:
            self.pids = _proc_tree(self.proc.pid)  # workers are up once the server is ready
        return proc_cpu_seconds(self.pids)

    def settle(self, idle_share: float = 0.05, timeout: float = 60.0) -> None:
        """Wait until the server is idle (< idle_share of a core), e.g. done with a backlog."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            before = self.cpu_seconds()
            time.sleep(0.5)
            if self.cpu_seconds() - before < 0.5 * idle_share:
                return

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_ours(prep: dict, root: Path, key: str, workers: int) -> Server:
    port = free_port()
    env = {**os.environ, "DROPOUT_API_KEYS": key, "DROPOUT_SERVICE_WORKERS": str(workers),
           "BENTOML_HOME": str(root / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"}
    cmd = [str(BIN / "dropout"), "serve", "--host", "127.0.0.1", "--port", str(port), "--model", prep["model_ref"],
           "--tracking-uri", prep["tracking_uri"], "--data", str(prep["data"]), "--store", prep["store"]]
    return Server("ours", cmd, env, root / "ours.log", "/readyz", port)


def start_mlflow(prep: dict, root: Path, workers: int) -> Server:
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": prep["tracking_uri"], "MLFLOW_REGISTRY_URI": prep["tracking_uri"],
           "OMP_NUM_THREADS": "1",  # as ours: one row per request, LightGBM threads only add overhead
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # it runs `uvicorn` from PATH
    cmd = [str(BIN / "mlflow"), "models", "serve", "-m", prep["model_uri"], "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port), "-w", str(workers)]
    return Server("mlflow", cmd, env, root / "mlflow.log", "/ping", port)


# ---------------------------------------------------------------- load


def _client(target: Target, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=target.url, headers={"Content-Type": "application/json", **target.headers},
                             limits=limits, timeout=httpx.Timeout(REQUEST_TIMEOUT_S), trust_env=False)


async def _send(client: httpx.AsyncClient, target: Target, body: bytes, run: Run, t_start: float) -> None:
    try:
        r = await asyncio.wait_for(client.post(target.path, content=body), REQUEST_TIMEOUT_S)
    except (TimeoutError, httpx.HTTPError) as err:
        run.count(type(err).__name__)
        return
    if r.status_code != 200:
        run.count(f"HTTP {r.status_code}")
        return
    run.latencies_ms.append((time.perf_counter() - t_start) * 1000)


async def open_loop(target: Target, rate: float, seconds: float, max_inflight: int) -> Run:
    """rate * seconds requests at fixed intervals; latency from each request's scheduled time.

    A request due while `max_inflight` are still unanswered is not sent and counts as an
    error ("dropped"): the schedule never waits for the server, and an overloaded server
    cannot drown the load generator.
    """
    n = int(rate * seconds)
    run = Run(target.name, "open", rate, seconds)
    async with _client(target, connections=max_inflight) as client:
        start = time.perf_counter()
        tasks: set[asyncio.Task] = set()
        for i in range(n):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) >= max_inflight:
                run.count("dropped")
                continue
            task = asyncio.create_task(_send(client, target, target.bodies[i % len(target.bodies)], run, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        run.seconds = max(seconds, time.perf_counter() - start)
    return run


async def closed_loop(target: Target, concurrency: int, seconds: float) -> Run:
    """`concurrency` clients, each sending its next request as soon as the last one is answered."""
    run = Run(target.name, "closed", concurrency, seconds)
    async with _client(target, connections=concurrency) as client:
        start = time.perf_counter()
        stop = start + seconds

        async def worker(k: int) -> None:
            i = k
            while time.perf_counter() < stop:
                await _send(client, target, target.bodies[i % len(target.bodies)], run, time.perf_counter())
                i += concurrency

        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        run.seconds = time.perf_counter() - start
    return run


async def warm_up(target: Target, requests: int = 40) -> None:
    """A few requests on a few connections (every worker loads lazily); all must succeed."""
    async with _client(target, connections=4) as client:
        for start in range(0, requests, 4):
            rs = await asyncio.gather(*(client.post(target.path, content=target.bodies[i % len(target.bodies)])
                                        for i in range(start, start + 4)))
            bad = [r.status_code for r in rs if r.status_code != 200]
            if bad:
                raise RuntimeError(f"{target.name}: warm-up answered HTTP {bad[0]}")  # bodies may echo records


def check_same_model(prep: dict, ours: Target, theirs: Target, stored: Target) -> dict:
    """Both servers score the first person as the in-process model does (ours calibrated, MLflow
    raw), and ours as the demo's batch run stored it."""
    model, X = prep["model"], prep["X"].iloc[[0]]
    with httpx.Client(timeout=30, trust_env=False) as c:
        def post(t: Target) -> dict:
            return c.post(t.url + t.path, content=t.bodies[0],
                          headers={"Content-Type": "application/json", **t.headers}).json()

        a, b, s = post(ours), post(theirs), post(stored)
    res = a["results"][0]
    raw = float(np.ravel(b["predictions"])[0])
    batch = s["results"][0] if s.get("results") else {}
    out = {"ours_risk_matches_model": bool(np.isclose(res["risk"], model.predict_proba(X)[0], rtol=0, atol=1e-9)),
           "ours_risk_matches_batch_run": bool(abs(res["risk"] - batch.get("risk", np.inf)) <= 1e-9),
           "ours_reasons_match_batch_run": [r["text"] for r in res["reasons"]] == [r["text"] for r in
                                                                                    batch.get("reasons", [])],
           # MLflow serves the registered LightGBM booster as it is: the trees' probability,
           # without the blended logistic line and the calibration ours applies.
           "mlflow_matches_booster": bool(np.isclose(raw, model.booster_.predict(
               X.to_numpy(dtype=np.float64, na_value=np.nan))[0], rtol=0, atol=1e-9)),
           "ours_reasons": len(res["reasons"])}
    if not (all(v for k, v in out.items() if k != "ours_reasons") and res["scored"]):
        raise RuntimeError(f"the servers do not serve the same model: {out}")
    return out


def measure(server: Server, coro_factory: Callable[[], Awaitable[Run]]) -> dict:
    """Run one load (a coroutine factory) once the server is idle; add CPU use and machine load."""
    server.settle()
    load_avg = os.getloadavg()[0]
    server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
    run = asyncio.run(coro_factory())
    run.server_cpu_s = server.cpu_seconds() - server_cpu
    run.client_cpu_s = time.process_time() - client_cpu
    run.load_avg = load_avg
    return run.summary()


# ---------------------------------------------------------------- summary and verdicts

STATS = ("p50_ms", "p99_ms", "achieved_rps", "server_cpu_ms_per_request")


def aggregate(runs: list[dict]) -> list[dict]:
    """Per (server, mode, load): the median of the rounds and their min and max."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        groups.setdefault((r["server"], r["mode"], r["load"]), []).append(r)
    out = []
    for (server, mode, load), rs in groups.items():
        row = {"server": server, "mode": mode, "load": load, "rounds": len(rs),
               "requests": int(sum(r["requests"] for r in rs)), "errors": int(sum(r["errors"] for r in rs))}
        for s in STATS:
            values = np.array([r[s] for r in rs], dtype=float)
            row[s] = float(np.median(values))
            row[s + "_min"], row[s + "_max"] = float(values.min()), float(values.max())
        out.append(row)
    return out


def best_within(rows: list[dict], server: str, p99_ms: float) -> dict | None:
    """The closed-loop level with the most req/s (median) among those with median p99 <= budget, no errors."""
    ok = [r for r in rows if r["server"] == server and r["mode"] == "closed" and r["errors"] == 0
          and r["p99_ms"] <= p99_ms]
    return max(ok, key=lambda r: r["achieved_rps"]) if ok else None


def compare_at(rows: list[dict], p99_ms: float) -> dict:
    best = {s: best_within(rows, s, p99_ms) for s in ("ours", "mlflow")}
    ratio = best["ours"]["achieved_rps"] / best["mlflow"]["achieved_rps"] if all(best.values()) else None
    return {"p99_budget_ms": p99_ms, "ours": best["ours"], "mlflow": best["mlflow"], "ratio": ratio}


def judge(rows: list[dict], ids_rows: list[dict], args) -> dict:
    def row(server: str, mode: str, load: float) -> dict | None:
        return next((r for r in rows if (r["server"], r["mode"], r["load"]) == (server, mode, load)), None)

    ours_open = row("ours", "open", args.rate)
    mlflow_open = row("mlflow", "open", args.rate)
    cpu = {}
    for s in ("ours", "mlflow"):
        closed = [r for r in rows if r["server"] == s and r["mode"] == "closed"]
        cpu[s] = float(np.median([r["server_cpu_ms_per_request"] for r in closed])) if closed else None
    ids_cpu = float(np.median([r["server_cpu_ms_per_request"] for r in ids_rows])) if ids_rows else None
    latency_ok = bool(ours_open and ours_open["errors"] == 0 and ours_open["p99_ms"] <= args.p99_ms)
    at_goal = compare_at(rows, args.p99_ms)
    floors = {s: min((r["p99_ms"] for r in rows if r["server"] == s and r["mode"] == "closed" and r["errors"] == 0),
                     default=np.inf) for s in ("ours", "mlflow")}
    common = max(floors.values())
    at_common = compare_at(rows, common) if np.isfinite(common) else None
    goals = {
        "cpu_per_score_ms": {"goal": f"<= {args.cpu_goal_ms:g} ms", "ours": cpu["ours"],
                             "met": bool(cpu["ours"] is not None and cpu["ours"] <= args.cpu_goal_ms)},
        "p99_open_loop": {"goal": f"p99 <= {args.p99_ms:g} ms at {args.rate:g} req/s for {args.seconds:g} s, 0 errors",
                          "ours_p99_ms": ours_open["p99_ms"] if ours_open else None,
                          "ours_errors": ours_open["errors"] if ours_open else None, "met": latency_ok,
                          "full_length": args.seconds >= 60},
        "throughput_vs_mlflow": {"goal": f">= {args.ratio_goal:g}x at equal p99", "at_goal_p99": at_goal,
                                 "at_equal_p99": at_common,
                                 "met": bool(at_goal["ratio"] is not None and at_goal["ratio"] >= args.ratio_goal)},
        "cpu_per_score_ids_ms": {"goal": f"<= {args.ids_goal_ms:g} ms", "ours": ids_cpu,
                                 "met": bool(ids_cpu is not None and ids_cpu <= args.ids_goal_ms)},
    }

    def verdict(ok: bool) -> str:
        return "MET" if ok else "NOT MET"

    lines = []
    lines.append(f"server CPU per /score (median of the closed-loop runs): ours {cpu['ours']:.2f} ms, "
                 f"mlflow /invocations {cpu['mlflow']:.2f} ms -> goal <= {args.cpu_goal_ms:g} ms: "
                 f"{verdict(goals['cpu_per_score_ms']['met'])}")
    if ours_open:
        theirs = (f"; mlflow p99 {mlflow_open['p99_ms']:.1f} ms, {mlflow_open['errors']} errors, "
                  f"{mlflow_open['achieved_rps']:.0f} req/s") if mlflow_open else ""
        lines.append(f"open loop {args.rate:g} req/s for {args.seconds:g} s (median of {ours_open['rounds']}): "
                     f"ours p99 {ours_open['p99_ms']:.1f} ms (spread {ours_open['p99_ms_min']:.1f}-"
                     f"{ours_open['p99_ms_max']:.1f}), {ours_open['errors']} errors, "
                     f"{ours_open['achieved_rps']:.0f} req/s answered{theirs} -> goal p99 <= {args.p99_ms:g} ms, "
                     f"0 errors: {verdict(latency_ok)}"
                     + ("" if args.seconds >= 60 else f" (a {args.seconds:g} s run, not the goal's 60 s)"))

    def cmp_line(c: dict | None, label: str) -> str:
        if c is None:
            return f"throughput at {label}: n/a"
        parts = [f"{s} {c[s]['achieved_rps']:.0f} req/s ({c[s]['load']:g} clients, p99 {c[s]['p99_ms']:.1f} ms)"
                 if c[s] else f"{s}: no level within budget" for s in ("ours", "mlflow")]
        ratio = f"{c['ratio']:.2f}x" if c["ratio"] is not None else "n/a"
        return f"throughput at {label}: " + ", ".join(parts) + f" -> ratio {ratio}"

    lines.append(cmp_line(at_goal, f"p99 <= {args.p99_ms:g} ms") + f" (goal >= {args.ratio_goal:g}x: "
                 f"{verdict(goals['throughput_vs_mlflow']['met'])})")
    lines.append(cmp_line(at_common, f"equal p99 <= {common:.1f} ms (the tightest both reach)"))
    if ids_cpu is not None:
        lines.append(f"server CPU per /score_ids (one id, closed loop): ours {ids_cpu:.2f} ms -> goal <= "
                     f"{args.ids_goal_ms:g} ms: {verdict(goals['cpu_per_score_ids_ms']['met'])}")
    return {"goals": goals, "server_cpu_ms_per_request": cpu, "lines": lines}


def show(rows: list[dict], verdict: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="risk service vs mlflow models serve (loopback, one person per request; "
                        "median of the rounds [min-max])")
    for col in ("server", "path", "mode", "load", "rounds", "requests", "errors", "p50 ms", "p99 ms", "req/s",
                "srv CPU ms/req"):
        table.add_column(col, justify="left" if col in ("server", "path", "mode") else "right", no_wrap=True)

    def cell(r: dict, s: str, fmt: str) -> str:
        return f"{r[s]:{fmt}} [{r[s + '_min']:{fmt}}-{r[s + '_max']:{fmt}}]"

    for r in rows:
        load = f"{r['load']:g} req/s" if r["mode"] == "open" else f"{r['load']:g} clients"
        table.add_row(r["server"], r.get("path", ""), r["mode"], load, str(r["rounds"]), str(r["requests"]),
                      str(r["errors"]), cell(r, "p50_ms", ".1f"), cell(r, "p99_ms", ".1f"),
                      cell(r, "achieved_rps", ".0f"), cell(r, "server_cpu_ms_per_request", ".2f"))
    console = Console(width=max(Console().width, 160))
    console.print(table)
    for text in verdict["lines"]:
        console.print(text, highlight=False)


def readme_rows(rows: list[dict], ids_rows: list[dict], verdict: dict, info: dict, args,
                runs: list[dict] = ()) -> list[dict]:
    g = verdict["goals"]
    loads = [r["load_avg_before"] for r in runs if r.get("load_avg_before") is not None]
    under = f"; load average {min(loads):.0f}-{max(loads):.0f} during the runs" if loads else ""

    def get(server: str, mode: str, load: float) -> dict | None:
        return next((r for r in rows if (r["server"], r["mode"], r["load"]) == (server, mode, load)), None)

    def lat(r: dict | None) -> str:
        if r is None:
            return "n/a"
        return (f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms [{r['p99_ms_min']:.0f}-{r['p99_ms_max']:.0f}], "
                f"{r['achieved_rps']:.0f} req/s, {r['errors']} errors, CPU {r['server_cpu_ms_per_request']:.1f} ms/req")

    what = (f"A Lưới demo model ({info['trees']} trees, {info['features']} features), one person per request, "
            f"{args.workers} workers each, loopback, median of {args.repeats} interleaved rounds [p99 min-max]{under}")
    c1 = args.concurrency[0]
    at = g["throughput_vs_mlflow"]["at_equal_p99"]
    ratio = (f"{at['ratio']:.2f}x mlflow's req/s at equal p99 <= {at['p99_budget_ms']:.0f} ms"
             if at and at["ratio"] is not None else "no common p99")

    def met(key: str) -> str:
        return "met" if g[key]["met"] else "**not met**"

    open_label = f"open loop {args.rate:g} req/s, {args.seconds:g} s"
    return [
        {"benchmark": "`serve.py`", "what": f"`POST /score` (raw records in, risk + 4 reasons out) vs mlflow "
                                           f"`/invocations` (feature row in, probability out); {what}",
         "ours": f"{open_label}: {lat(get('ours', 'open', args.rate))}; closed loop {c1} client: "
                 f"{lat(get('ours', 'closed', c1))}",
         "side_by_side": f"mlflow {open_label}: {lat(get('mlflow', 'open', args.rate))}; closed loop {c1} client: "
                         f"{lat(get('mlflow', 'closed', c1))}; ours {ratio}",
         "goal": f"CPU <= {args.cpu_goal_ms:g} ms/req: {met('cpu_per_score_ms')}; p99 <= {args.p99_ms:g} ms at "
                 f"{args.rate:g} req/s, 0 errors: {met('p99_open_loop')}; >= {args.ratio_goal:g}x mlflow at equal "
                 f"p99: {met('throughput_vs_mlflow')}"},
        {"benchmark": "`serve.py`", "what": "`POST /score_ids` (one id: the stored batch row), closed loop, 1 client",
         "ours": lat(ids_rows[0]) if ids_rows else "n/a", "side_by_side": "",
         "goal": f"CPU <= {args.ids_goal_ms:g} ms/req: {met('cpu_per_score_ids_ms')}"},
    ]


# ---------------------------------------------------------------- main


def report(runs: list[dict], ids_runs: list[dict], args) -> tuple[list[dict], list[dict], dict]:
    """The per-load summary (median and spread of the rounds) and the verdicts, printed."""
    rows = aggregate(runs)
    for r in rows:
        r["path"] = "/score" if r["server"] == "ours" else "/invocations"
    ids_rows = aggregate(ids_runs)
    for r in ids_rows:
        r["path"] = "/score_ids"
    verdict = judge(rows, ids_rows, args)
    show(rows + ids_rows, verdict)
    return rows, ids_rows, verdict


def resummarize() -> int:
    """Summarise the saved runs again (e.g. after a change to the summary), keeping when and
    where they were measured."""
    from _results import load

    doc = load("serve")
    args = argparse.Namespace(**doc["config"])
    saved = []
    for r in doc["runs"]:
        r = dict(r)
        cpu_s = r.get("server_cpu_s", r["server_cpu_ms_per_request"] * r["requests"] / 1000)
        sent = max(r["requests"] - r.get("error_kinds", {}).get("dropped", 0), 1)
        r["server_cpu_s"], r["server_cpu_ms_per_request"] = cpu_s, 1000 * cpu_s / sent
        saved.append(r)
    if any(r.get("path") == "/score_ids" for r in saved):
        runs = [r for r in saved if r.get("path") != "/score_ids"]
        ids_runs = [r for r in saved if r.get("path") == "/score_ids"]
    else:  # saved before runs were marked: the /score_ids runs come last, one per round
        runs, ids_runs = saved[:-args.repeats], [{**r, "path": "/score_ids"} for r in saved[-args.repeats:]]
    rows, ids_rows, verdict = report(runs, ids_runs, args)
    payload = {k: v for k, v in doc.items() if k not in ("benchmark", "machine", "readme")}
    payload.update({"summary": rows + ids_rows, "runs": runs + ids_runs,
                    **{k: v for k, v in verdict.items() if k != "lines"}, "verdict": verdict["lines"]})
    save("serve", payload, readme_rows(rows, ids_rows, verdict, doc["model"], args, runs + ids_runs),
         measured_on=doc["machine"])
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=200.0, help="open loop: requests per second")
    ap.add_argument("--seconds", type=float, default=60.0, help="open loop: duration per server and round")
    ap.add_argument("--max-inflight", type=int, default=256, help="open loop: unanswered requests before dropping")
    ap.add_argument("--concurrency", default="1,2,4,8", help="closed loop: client counts, the same for both servers")
    ap.add_argument("--closed-seconds", type=float, default=8.0, help="closed loop: duration per level and round")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved rounds of every load on both servers")
    ap.add_argument("--p99-ms", type=float, default=25.0, help="latency budget of the goals")
    ap.add_argument("--ratio-goal", type=float, default=3.0, help="throughput goal, ours / mlflow at equal p99")
    ap.add_argument("--cpu-goal-ms", type=float, default=5.0, help="server CPU per /score goal")
    ap.add_argument("--ids-goal-ms", type=float, default=2.0, help="server CPU per /score_ids goal")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of each server")
    ap.add_argument("--people", type=int, default=400, help="different people the request bodies cycle through")
    ap.add_argument("--demo-dir", type=Path, default=ROOT / "out" / "bench-serve",
                    help="the A Lưới demo (made once by `dropout demo`, then reused)")
    ap.add_argument("--no-save", action="store_true", help="print only; leave benchmarks/results/serve.json alone")
    ap.add_argument("--resummarize", action="store_true",
                    help="measure nothing: summarise the runs saved in benchmarks/results/serve.json again")
    args = ap.parse_args(argv)
    if args.resummarize:
        return resummarize()
    if not (0 < args.rate <= 2000 and 0 < args.seconds <= 600 and 1 <= args.repeats <= 20):
        ap.error("--rate must be in (0, 2000], --seconds in (0, 600], --repeats in 1-20")
    args.concurrency = [int(x) for x in str(args.concurrency).split(",") if x.strip()]
    if not args.concurrency or min(args.concurrency) < 1 or max(args.concurrency) > 256:
        ap.error("--concurrency takes client counts in 1-256")
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")

    key = secrets.token_urlsafe(32)
    root = args.demo_dir.resolve() / "servers"
    root.mkdir(parents=True, exist_ok=True)
    prep = prepare(args.demo_dir.resolve(), args.people)
    print(f"  {prep['info']}", flush=True)
    servers: list[Server] = []
    runs: list[dict] = []
    ids_runs: list[dict] = []
    try:
        servers = [start_ours(prep, root, key, args.workers), start_mlflow(prep, root, args.workers)]
        startup = {s.name: round(s.wait_ready(), 1) for s in servers}
        print(f"servers ready in {startup} s", flush=True)
        busy = os.getloadavg()[0]
        if busy > 1.0:
            print(f"warning: load average {busy:.1f} before the runs: other work shares the cores", flush=True)
        targets = {"ours": Target("ours", servers[0].url, "/score", {"X-API-Key": key}, prep["ours"]),
                   "mlflow": Target("mlflow", servers[1].url, "/invocations", {}, prep["theirs"])}
        by_id = Target("ours", servers[0].url, "/score_ids", {"X-API-Key": key}, prep["by_id"])
        parity = check_same_model(prep, targets["ours"], targets["mlflow"], by_id)
        del prep["model"], prep["X"]
        gc.collect()
        gc.freeze()  # the load generator's own pauses should not show as server latency
        for t in (*targets.values(), by_id):
            asyncio.run(warm_up(t))
        pair = [(servers[0], targets["ours"]), (servers[1], targets["mlflow"])]
        loads = [("open", args.rate)] + [("closed", n) for n in args.concurrency]
        for k in range(args.repeats):
            order = pair if k % 2 == 0 else pair[::-1]
            for mode, load in loads:
                for server, target in order:
                    if mode == "open":
                        factory = partial(open_loop, target, args.rate, args.seconds, args.max_inflight)
                    else:
                        factory = partial(closed_loop, target, int(load), args.closed_seconds)
                    r = measure(server, factory)
                    runs.append(r)
                    print(f"  round {k + 1} {target.name:6s} {mode:6s} {load:>5g}: p50 {r['p50_ms']:6.1f} ms, "
                          f"p99 {r['p99_ms']:6.1f} ms, {r['achieved_rps']:5.0f} req/s, {r['errors']} errors, "
                          f"CPU {r['server_cpu_ms_per_request']:5.2f} ms/req (load {r['load_avg_before']:.1f})",
                          flush=True)
            r = {**measure(servers[0], partial(closed_loop, by_id, 1, args.closed_seconds)), "path": "/score_ids"}
            ids_runs.append(r)
            print(f"  round {k + 1} ours /score_ids closed 1: p50 {r['p50_ms']:.1f} ms, "
                  f"CPU {r['server_cpu_ms_per_request']:.2f} ms/req", flush=True)
        alive = {s.name: s.proc.poll() is None for s in servers}
    finally:
        for s in servers:
            s.stop()
    rows, ids_rows, verdict = report(runs, ids_runs, args)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    payload = {
        "command": "uv run python benchmarks/serve.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "config": config, "model": prep["info"], "startup_s": startup, "parity": parity,
        "servers_alive_at_end": alive, "summary": rows + ids_rows, "runs": runs + ids_runs,
        **{k: v for k, v in verdict.items() if k != "lines"}, "verdict": verdict["lines"],
    }
    if args.no_save:
        return 0
    path = save("serve", payload, readme_rows(rows, ids_rows, verdict, prep["info"], args, runs + ids_runs))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
