"""Time and peak memory of the full training backtest (issue 4).

Cases: the province preset (its default ~30,000 participants, experiments/province.yaml)
and 500,000 participants (national preset, experiments/benchmark-500k.yaml). Each case
runs in two child processes so that peak memory belongs to one stage: the first
simulates and writes the data folder, the second runs `run_experiment` on that folder
(training frame + backtest + final fit + report + MLflow logging to a scratch SQLite
store). Peak memory is the child's maximum resident set size (ru_maxrss), which counts
LightGBM's native memory too. Goal: 500k participants in <= 5 min on 2 cores.

    uv run python benchmarks/train.py                 # both cases
    uv run python benchmarks/train.py --case province # one case
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import save

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "province": {"config": "experiments/province.yaml"},
    "500k": {"config": "experiments/benchmark-500k.yaml"},
}


def _child_simulate(config: str, folder: str) -> dict:
    from dropout.simulate import simulate, write_simulation
    from dropout.train.config import load_config

    cfg = load_config(config)
    s = cfg.data.simulate
    t = time.perf_counter()
    res = simulate(s.preset, participants=s.participants, seed=s.seed)
    write_simulation(res, folder)
    return {"seconds": time.perf_counter() - t, "participants": int(len(res.tables.participants)),
            "installments": int(len(res.tables.installments))}


def _child_train(config: str, folder: str, scratch: str) -> dict:
    from dropout.train.config import config_from_dict, load_config
    from dropout.train.experiment import run_experiment

    cfg = load_config(config)
    raw = cfg.model_dump(mode="json")
    raw["data"] = {"folder": folder}
    cfg = config_from_dict(raw, base_dir=cfg.base_dir)
    t = time.perf_counter()
    res = run_experiment(cfg, tracking_uri=f"sqlite:///{scratch}/mlflow.db", out_dir=f"{scratch}/runs", show_progress=False)
    total = time.perf_counter() - t
    ch = res.backtest.checks
    return {
        "seconds": total,
        "timings": res.timings,
        "rows": int(len(res.dataset.frame)),
        "features": len(res.dataset.feature_names),
        "trees": res.model.best_iteration_,
        "beats_all": ch["beats_every_baseline_every_fold"],
        "auc_fraction_of_oracle": ch.get("auc_fraction_of_oracle"),
        "ece": ch["test_ece"],
        "report": str(res.report_path),
    }


def _run_child(stage: str, *args: str) -> dict:
    code = (
        "import json, resource, sys; sys.path.insert(0, %r); import train as b; "
        "out = getattr(b, %r)(*sys.argv[1:]); "
        "out['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; "
        "print('RESULT ' + json.dumps(out))"
    ) % (str(Path(__file__).parent), f"_child_{stage}")
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{stage} failed:\n{proc.stderr[-4000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=sorted(CASES), action="append", help="run only these cases")
    args = ap.parse_args(argv)
    rows = []
    for name in args.case or list(CASES):
        config = CASES[name]["config"]
        with tempfile.TemporaryDirectory(prefix=f"bench-train-{name}-") as tmp:
            sim = _run_child("simulate", config, f"{tmp}/data")
            train = _run_child("train", config, f"{tmp}/data", tmp)
        rows.append((name, sim, train))
        print(f"{name}: simulate {sim['seconds']:.0f} s, train {train['seconds']:.0f} s", file=sys.stderr)
    print("| case | participants | training rows | features | simulate (s) | training frame (s) | backtest (s) "
          "| final fit (s) | report (s) | MLflow (s) | total train (s) | peak RSS train (GB) | trees "
          "| beats all baselines | AUC / oracle | ECE |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for name, sim, tr in rows:
        t = tr["timings"]
        frac = tr["auc_fraction_of_oracle"]
        print(f"| {name} | {sim['participants']:,} | {tr['rows']:,} | {tr['features']} | {sim['seconds']:.0f} "
              f"| {t['training_frame_s']:.0f} | {t['backtest_s']:.0f} | {t['final_fit_s']:.0f} | {t['report_s']:.0f} "
              f"| {t.get('mlflow_s', 0):.0f} | {tr['seconds']:.0f} | {tr['peak_rss_mb'] / 1024:.1f} | {tr['trees']} "
              f"| {'yes' if tr['beats_all'] else 'no'} | {frac:.3f} | {tr['ece']:.4f} |" if frac is not None else
              f"| {name} | ... | {tr['rows']:,} | | | | | | | | {tr['seconds']:.0f} | {tr['peak_rss_mb'] / 1024:.1f} | | | | |")
    readme = []
    for name, sim, tr in rows:
        t, frac = tr["timings"], tr["auc_fraction_of_oracle"]
        goal = ""
        if name == "500k":
            goal = f"<= 5 min: {'met' if tr['seconds'] <= 300 else '**not met**'}"
        readme.append({
            "benchmark": "`train.py`",
            "what": f"{name}: {sim['participants']:,} participants, {tr['rows']:,} training rows "
                    f"(`{CASES[name]['config']}`), full backtest + final fit + report + MLflow",
            "ours": f"{tr['seconds']:.0f} s (frame {t['training_frame_s']:.0f}, backtest {t['backtest_s']:.0f}, final fit "
                    f"{t['final_fit_s']:.0f}, report {t['report_s']:.0f}), {tr['peak_rss_mb'] / 1024:.1f} GB",
            "side_by_side": ("beats every baseline in every fold" if tr["beats_all"] else "loses a fold to a baseline")
                            + (f"; AUC {frac:.3f} x oracle" if frac is not None else "") + f"; ECE {tr['ece']:.4f}",
            "goal": goal,
        })
    save("train", {"cases": [{"case": n, "simulate": s, "train": t} for n, s, t in rows]}, readme)


if __name__ == "__main__":
    main()
