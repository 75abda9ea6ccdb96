"""Predictive validity beyond one simulator: the model against every baseline and the oracle,
on every preset and every robustness scenario, with hyperparameters tuned inside each
training window only.

Each row simulates a world (a preset, optionally with scenarios), runs the experiment's
rolling-origin backtest (>= 3 folds; the same code as `dropout train`, nothing logged)
and reads the test blocks:

    model AUC, each baseline's AUC, oracle AUC, AUC / oracle (pooled and mean-fold), ECE,
    Brier, the minority / Kinh recall ratio at the visit capacity, and the AUC among
    members paying at as-of (members in arrears are easier to rank)

Goals (issue 10), all at once: the model beats every baseline in AUC in every fold of
every row; AUC >= 0.93 x oracle on every row; ECE <= 0.02; recall ratio >= 0.9; on the
ledger-only scenario with the `no_payment` target the model beats the BG/NBD ranking by
>= 0.01 AUC; for `withdraw_12m`, ECE <= 0.02 and a Brier score below every baseline's.

    uv run python benchmarks/validity.py                  # every row (~20 min on 2 cores)
    uv run python benchmarks/validity.py --rows a-luoi,a-luoi+rumour
    uv run python benchmarks/validity.py --table          # the README table from the last results

Results: benchmarks/results/validity.json (committed); the README table is generated
from it (`--table` prints it, `--readme` writes it between the README's markers).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from _results import ROOT, machine, replace_section, results_path, save

RESULTS = results_path("validity")
SCENARIOS = ("migration", "price-slump", "collection-agent", "rumour", "mode-switch", "topup-ends", "ledger-only")
GOALS = {"oracle_fraction": 0.93, "ece": 0.02, "recall_ratio": 0.9, "bg_nbd_margin": 0.01}

# name -> (experiment config, preset, scenarios, target, horizon)
ROWS: dict[str, dict] = {
    "a-luoi": {"config": "experiments/a-luoi.yaml", "preset": "a-luoi"},
    "huong-hoa": {"config": "experiments/a-luoi.yaml", "preset": "huong-hoa"},
    "province": {"config": "experiments/province.yaml", "preset": "province"},
    **{f"a-luoi+{s}": {"config": "experiments/a-luoi.yaml", "preset": "a-luoi", "scenarios": [s]} for s in SCENARIOS},
    "a-luoi+all-seven": {"config": "experiments/a-luoi.yaml", "preset": "a-luoi", "scenarios": list(SCENARIOS)},
    "a-luoi+ledger-only/no_payment": {"config": "experiments/a-luoi.yaml", "preset": "a-luoi",
                                      "scenarios": ["ledger-only"], "target": "no_payment", "horizon": "90d"},
    "a-luoi/withdraw_12m": {"config": "experiments/a-luoi.yaml", "preset": "a-luoi", "target": "withdraw_12m"},
    "huong-hoa/withdraw_12m": {"config": "experiments/a-luoi.yaml", "preset": "huong-hoa", "target": "withdraw_12m"},
}
SEED = 1


def run_row(name: str, spec: dict) -> dict:
    """Simulate the row's world, backtest, and read the numbers off the test blocks."""
    from dropout.simulate import simulate
    from dropout.simulate.oracle import withdraw_oracle
    from dropout.train.config import config_from_dict, load_config
    from dropout.train.experiment import run_experiment

    t0 = time.perf_counter()
    sim = simulate(spec["preset"], seed=SEED, scenarios=spec.get("scenarios", []))
    t_sim = time.perf_counter() - t0
    cfg = load_config(ROOT / spec["config"], target=spec.get("target"))
    raw = cfg.model_dump(mode="json")
    raw["name"] = f"validity-{name.replace('/', '-').replace('+', '-')}"
    raw["data"] = {"simulate": {"preset": spec["preset"], "seed": SEED}}
    if spec.get("horizon"):
        raw.pop("horizon_days", None)
        raw["horizon"] = spec["horizon"]
    cfg = config_from_dict(raw, base_dir=cfg.base_dir)
    truth = dict(sim.truth)
    if cfg.target == "withdraw_12m":
        truth["withdraw_oracle"] = withdraw_oracle(sim)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="dropout-validity-") as tmp:
        res = run_experiment(cfg, register=False, log_mlflow=False, out_dir=tmp, tables=sim.tables, truth=truth,
                             show_progress=False)
    bt = res.backtest
    fm, ch = bt.fold_metrics, bt.checks
    contenders = bt.contenders
    baselines = bt.baselines
    folds = sorted({i for i, _ in fm.index})
    out = {
        "name": name, "preset": spec["preset"], "scenarios": spec.get("scenarios", []), "target": cfg.target,
        "horizon_days": cfg.horizon_days, "participants": int(len(sim.tables.participants)),
        "rows": int(len(res.dataset.frame)), "positive_rate": float(res.dataset.frame["label"].mean()),
        "folds": len(folds),
        "fold_auc": {c: [float(fm.loc[(f, c), "auc"]) for f in folds] for c in contenders},
        "pooled_auc": ch["pooled_auc"], "mean_fold_auc": ch["mean_fold_auc"],
        "brier": {c: float(bt.overall_metrics.loc[c, "brier"]) for c in contenders},
        "ece": float(bt.overall_metrics.loc["model", "ece"]),
        "recall_ratio": ch.get("recall_ratio_minority_kinh"),
        "paying_auc": ch.get("paying_auc"),
        "tuning": {k: v["chosen"] for k, v in bt.tuning.items()},
        "seconds": {"simulate": t_sim, **{k: v for k, v in res.timings.items()}},
    }
    if "oracle" in contenders:
        out["oracle_fraction_pooled"] = ch["auc_fraction_of_oracle"]
        out["oracle_fraction_mean_fold"] = ch.get("auc_fraction_of_oracle_mean_fold")
    out["beats_every_baseline_every_fold"] = all(
        out["fold_auc"]["model"][i] > out["fold_auc"][b][i] for b in baselines for i in range(len(folds)))
    out["lost"] = [f"fold{i}:{b}" for b in baselines for i in range(len(folds))
                   if not out["fold_auc"]["model"][i] > out["fold_auc"][b][i]]
    out["baselines"] = baselines
    out["verdict"] = verdict(out)
    return out


def verdict(r: dict) -> dict:
    """Each goal that applies to the row: met or not."""
    v = {"beats every baseline in every fold": r["beats_every_baseline_every_fold"]}
    if r["target"] == "withdraw_12m":
        v["ECE <= 0.02"] = r["ece"] <= GOALS["ece"]
        v["Brier below every baseline"] = all(r["brier"]["model"] < r["brier"][b] for b in r["baselines"])
        return v
    if "oracle_fraction_pooled" in r:
        v["AUC >= 0.93 x oracle"] = min(r["oracle_fraction_pooled"], r["oracle_fraction_mean_fold"] or 1) >= GOALS["oracle_fraction"]
    v["ECE <= 0.02"] = r["ece"] <= GOALS["ece"]
    if r.get("recall_ratio") is not None:
        v["recall ratio >= 0.9"] = r["recall_ratio"] >= GOALS["recall_ratio"]
    if r["target"] == "no_payment" and "bg_nbd" in r["pooled_auc"]:
        v["beats BG/NBD by >= 0.01 AUC"] = r["pooled_auc"]["model"] - r["pooled_auc"]["bg_nbd"] >= GOALS["bg_nbd_margin"]
    return v


def _f(x, d=3) -> str:
    return "" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{d}f}"


def _lost(r: dict) -> list[str]:
    """Each lost fold with the margin it was lost by (AUC of the baseline minus the model's)."""
    out = []
    for item in r["lost"]:
        fold, base = item.split(":")
        i = int(fold.removeprefix("fold"))
        out.append(f"{item} by {r['fold_auc'][base][i] - r['fold_auc']['model'][i]:.4f}")
    return out


def table(results: list[dict]) -> str:
    """The README table: one row per world."""
    head = ("| world | target | model AUC (pooled / mean-fold) | logistic | BG/NBD | recency-freq. | rule last | "
            "rule late-4 | oracle | AUC / oracle (pooled / mean-fold) | ECE | minority / Kinh recall | "
            "paying-only AUC model / best baseline / oracle | every goal |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        p, m = r["pooled_auc"], r["mean_fold_auc"]
        pay = r.get("paying_auc") or {}
        best = max((pay[b] for b in r["baselines"] if b in pay and pay[b] == pay[b]), default=float("nan"))
        failed = [k for k, ok in r["verdict"].items() if not ok]
        goal = "yes" if not failed else "**no**: " + "; ".join(failed) + (f" (lost {', '.join(_lost(r))})" if r["lost"] else "")
        lines.append(
            f"| {r['name']} | {r['target']} | {_f(p['model'])} / {_f(m['model'])} | {_f(p.get('logistic'))} | "
            f"{_f(p.get('bg_nbd'))} | {_f(p.get('recency_frequency'))} | {_f(p.get('rule_last_missed'))} | "
            f"{_f(p.get('rule_late_last_4'))} | {_f(p.get('oracle'))} | "
            f"{_f(r.get('oracle_fraction_pooled'))} / {_f(r.get('oracle_fraction_mean_fold'))} | {_f(r['ece'], 4)} | "
            f"{_f(r.get('recall_ratio'), 2)} | {_f(pay.get('model'))} / {_f(best)} / {_f(pay.get('oracle'))} | {goal} |")
    return "\n".join(lines)


def write_readme(results: list[dict]) -> None:
    replace_section("validity-table", table(results))


def summary_rows(results: list[dict]) -> list[dict]:
    """The validity benchmark's line in the README's benchmark table."""
    met = [r["name"] for r in results if all(r["verdict"].values())]
    missed = {r["name"]: [k for k, ok in r["verdict"].items() if not ok] for r in results if r["name"] not in met}
    fractions = [r["oracle_fraction_pooled"] for r in results if r.get("oracle_fraction_pooled") is not None]
    by_code: dict = {}
    for r in results:
        by_code.setdefault(r.get("measured", {}).get("commit"), []).append(r["name"])
    main_code = max(by_code, key=lambda c: len(by_code[c]))
    rerun = "".join(f"; {', '.join(names)} rerun on code {code}" for code, names in by_code.items() if code != main_code)
    return [{
        "benchmark": "`validity.py`",
        "what": f"{len(results)} worlds (presets, each robustness scenario, other targets), rolling-origin backtests, "
                f"hyperparameters tuned inside each training window (code {main_code}{rerun})",
        "ours": f"AUC / oracle {min(fractions):.3f}-{max(fractions):.3f}" if fractions else "",
        "side_by_side": "logistic regression, BG/NBD, sBG, rules, the oracle (table above)",
        "goal": f"{len(met)} of {len(results)} rows meet every goal"
                + ("; missed: " + "; ".join(f"{n}: {', '.join(m)}" for n, m in missed.items()) if missed else ""),
    }]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", help=f"comma-separated rows (default: all): {', '.join(ROWS)}")
    ap.add_argument("--table", action="store_true", help="print the table of the saved results and exit")
    ap.add_argument("--readme", action="store_true", help="write the table of the saved results into README.md")
    args = ap.parse_args()
    if args.table or args.readme:
        saved = json.loads(RESULTS.read_text(encoding="utf-8"))
        results = saved["rows"]
        if args.readme:
            write_readme(results)
            save("validity", {"seed": saved["seed"], "goals": saved["goals"], "rows": results}, summary_rows(results),
                 measured_on=saved.get("machine"))
        print(table(results))
        return 0
    names = args.rows.split(",") if args.rows else list(ROWS)
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        ap.error(f"unknown rows {unknown}; choose from {list(ROWS)}")
    saved = json.loads(RESULTS.read_text(encoding="utf-8"))["rows"] if RESULTS.exists() else []
    by_name = {r["name"]: r for r in saved}
    for name in names:
        t = time.perf_counter()
        print(f"[{name}] ...", flush=True)
        r = run_row(name, ROWS[name])
        m = machine()  # each row says when and on which code it ran (rows may be rerun alone)
        r["measured"] = {k: m[k] for k in ("measured_at", "commit", "load_average_1m")}
        by_name[name] = r
        failed = [k for k, ok in r["verdict"].items() if not ok]
        print(f"[{name}] {time.perf_counter() - t:.0f} s: model {r['pooled_auc']['model']:.4f}"
              + (f", oracle fraction {r['oracle_fraction_pooled']:.3f}" if "oracle_fraction_pooled" in r else "")
              + (f"; MISSES {failed}" if failed else "; every goal met"), flush=True)
        results = [by_name[n] for n in ROWS if n in by_name]
        save("validity", {"seed": SEED, "goals": GOALS, "rows": results}, summary_rows(results))
    results = [by_name[n] for n in ROWS if n in by_name]
    print(table(results))
    met = [all(r["verdict"].values()) for r in results]
    print(f"\nverdict: {sum(met)} of {len(met)} rows meet every goal that applies to them"
          + ("" if all(met) else "; rows that miss say which goal above"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
