"""Targeting on the simulator: true lapses averted by our visit plan vs. simpler ways to visit.

For each mountain preset and seed: simulate, take everyone whose next installment falls
due in the window after as-of, give them a risk, and compare at equal officer-hours
(dropout.plan.evaluate): our plan, visiting by raw risk rank ignoring travel, random
visits, and the oracle plan built with the simulator's true visit effects. Prints one
markdown table per preset and capacity (sums over the seeds, ratios of the sums) and
whether our plan averts >= 1.5x the lapses of risk-rank visiting per officer-hour.

Risk: scored with the registered champion model (`dropout train`), or `--model DIR|ALIAS`;
when there is none (or with `--model stand-in`), the stand-in is the oracle probability
(without any visit) with logit-normal noise of sd --noise. The output says which.

    uv run python benchmarks/targeting.py                  # a-luoi and huong-hoa, 40 h/week, 3 seeds
    uv run python benchmarks/targeting.py --capacity 20 --capacity "A Luoi=80" --seeds 5 --model runs/.../model

With --effects (issue 15) it runs the fair comparison instead (dropout.plan.fair): the
simulator with the heterogeneous-visit-response scenario, every contender (risk rank,
random, the plan with assumed effects, the plan with effects LEARNED from the recorded
visits, the plan with the true effects) planning sessions and home visits under the same
cost model, sessions credited only to the villagers who come, lapses averted counted
among the people due in the window (every villager reached as a second column); the
correlation between estimated and true per-person visit effects; and the same again in
a world whose office gave 10 % of its home visits to random people for the 12 months
before as-of. Results: benchmarks/results/targeting_effects.json.

    nice -n 10 uv run python benchmarks/targeting.py --effects --model stand-in
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from dropout.plan import load_plan_config, villages_with_enrolled
from dropout.plan.evaluate import compare_targeting, reach_from_truth, to_markdown
from dropout.plan.optimise import logit, sigmoid

MOUNTAIN_PRESETS = ("a-luoi", "huong-hoa")
TARGET_RATIO = 1.5
SUMMED = ["officer_hours", "home_visits", "sessions", "people_reached", "lapses_averted", "due_only"]


def load_model(spec: str | None):
    """(model, description) for --model (a folder or a registry alias), or (None, why not)."""
    if spec == "stand-in":
        return None, "asked for with --model stand-in"
    from dropout.score.core import ScoringInputError
    from dropout.registry.resolve import resolve_model

    try:
        ref = resolve_model(spec or "champion")
    except ScoringInputError as err:
        if spec:  # a model asked for by name must exist
            raise
        return None, ("no registered champion model (train one with `dropout train`, or pass --model DIR); "
                      f"{type(err).__name__}")
    return ref.model, f"trained model {ref.name} {ref.version or ''} ({ref.source}, sha256 {ref.sha256[:12]})"


def risk_for(due: pd.DataFrame, p_base: np.ndarray, tables, as_of: str, model, args, rng) -> tuple[np.ndarray, str]:
    if model is not None:
        from dropout.score import score_participants

        scored = score_participants(tables, as_of, args.window, model)
        risk = due[["participant_id"]].merge(scored[["participant_id", "risk"]], on="participant_id", how="left")["risk"]
        return risk.to_numpy(np.float64), ""
    noisy = sigmoid(logit(p_base) + rng.normal(0.0, args.noise, len(p_base)))
    return noisy, f"STAND-IN: oracle P(lapse) without visits + logit noise sd {args.noise}"


def one_seed(preset: str, seed: int, args, model, model_text: str) -> tuple[dict[str, pd.DataFrame], str, str]:
    from dropout.score import check_job, due_participants
    from dropout.simulate import simulate

    sim = simulate(preset, participants=args.participants, seed=seed, end=args.end)
    tables = sim.tables
    # default: the first day of the month three months before the extraction, so that the
    # month-end deadlines of the window are decided inside the simulation
    as_of = args.as_of or str((tables.extracted_on - pd.DateOffset(months=3)).to_period("M").start_time.date())
    due = due_participants(tables, check_job(tables, as_of, args.window))
    reach = reach_from_truth(sim.truth, tables.participants, sim.config, as_of)
    p_base = reach["p_base"].reindex(due["participant_id"].to_numpy()).to_numpy(np.float64)
    risk, source = risk_for(due, p_base, tables, as_of, model, args, np.random.default_rng(seed))
    source = source + f" ({model_text})" if source else model_text
    scores = due.assign(risk=risk)
    config = load_plan_config(args.config)
    villages = villages_with_enrolled(tables, as_of)
    tables_out = {}
    for capacity in args.capacity:
        t = compare_targeting(scores, villages, capacity, config, reach, seed=seed)
        t["due_only"] = t["due_only_per_hour"] * t["officer_hours"]
        tables_out[capacity] = t.set_index("strategy")
    context = (f"seed {seed}: {len(due):,} due between {as_of} and +{args.window} days, {len(reach):,} enrolled, "
               f"{len(tables.villages)} villages")
    return tables_out, source, context


def combine(per_seed: list[pd.DataFrame]) -> pd.DataFrame:
    total = sum(t[SUMMED] for t in per_seed)
    out = total.copy()
    out["per_100_reached"] = 100 * out["lapses_averted"] / out["people_reached"].where(out["people_reached"] > 0)
    out["per_officer_hour"] = out["lapses_averted"] / out["officer_hours"]
    out["vs_risk_rank"] = out["per_officer_hour"] / out.loc["risk_rank", "per_officer_hour"]
    out["of_oracle"] = out["lapses_averted"] / out.loc["oracle", "lapses_averted"]
    out["due_only_per_hour"] = out["due_only"] / out["officer_hours"]
    cols = ["officer_hours", "home_visits", "sessions", "people_reached", "lapses_averted", "per_100_reached",
            "per_officer_hour", "vs_risk_rank", "of_oracle", "due_only_per_hour"]
    out[["home_visits", "sessions", "people_reached"]] = out[["home_visits", "sessions", "people_reached"]].astype(int)
    return out[cols].reset_index()


def run_preset(preset: str, args, model, model_text: str) -> list[dict]:
    t0 = time.perf_counter()
    runs = [one_seed(preset, args.seed + i, args, model, model_text) for i in range(args.seeds)]
    results = []
    for capacity in args.capacity:
        per_seed = [r[0][capacity] for r in runs]
        table = combine(per_seed)
        plan = table.set_index("strategy").loc["plan"]
        ratios = [float(t.loc["plan", "vs_risk_rank"]) for t in per_seed]
        print(f"\n### {preset}: capacity \"{capacity}\" officer-hours per week, {args.seeds} seed(s)\n")
        for r in runs:
            print(f"- {r[2]}")
        print(f"- risk: {runs[0][1]}\n")
        print(to_markdown(table))
        verdict = "meets" if plan["vs_risk_rank"] >= TARGET_RATIO else "MISSES"
        print(f"\nplan vs risk rank, expected lapses averted per officer-hour: {plan['vs_risk_rank']:.2f}x "
              f"(per seed {min(ratios):.2f}x-{max(ratios):.2f}x; {verdict} the {TARGET_RATIO}x target); "
              f"plan averts {plan['of_oracle']:.0%} of the oracle plan's lapses")
        results.append({"preset": preset, "capacity": capacity, "ratio": float(plan["vs_risk_rank"]),
                        "of_oracle": float(plan["of_oracle"]), "min": min(ratios), "max": max(ratios)})
    print(f"\n({preset}: {time.perf_counter() - t0:.1f} s)")
    return results


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", help="simulator preset (default: a-luoi and huong-hoa)")
    ap.add_argument("--capacity", action="append", help='capacity text, e.g. "40" (default) or "A Luoi=30"')
    ap.add_argument("--participants", type=int, default=None)
    ap.add_argument("--seed", type=int, default=1, help="first seed")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds (simulations) per preset")
    ap.add_argument("--end", default="2026-06", help="last simulated month")
    ap.add_argument("--as-of", dest="as_of", default=None,
                    help="default: first day of the month 3 months before the extraction")
    ap.add_argument("--window", type=int, default=30, help="days after as-of")
    ap.add_argument("--noise", type=float, default=0.5, help="logit noise of the stand-in risk")
    ap.add_argument("--model", default=None, help="model folder or registry alias (default: the champion if "
                    "registered, else the stand-in); `stand-in` forces the stand-in")
    ap.add_argument("--config", default=None, help="plan config (default models/plan.yaml)")
    ap.add_argument("--effects", action="store_true", help="issue 15: the fair comparison with learned effects")
    ap.add_argument("--explore", type=float, default=0.1, help="with --effects: the exploring office's share")
    args = ap.parse_args(argv)
    args.capacity = args.capacity or ["40"]
    if args.effects:
        from targeting_effects import run_effects

        return run_effects(args, args.preset or list(MOUNTAIN_PRESETS), load_model, risk_for)
    presets = args.preset or list(MOUNTAIN_PRESETS)

    from dropout.simulate import PRESETS
    from dropout.simulate.config import preset_path

    model, model_text = load_model(args.model)
    print(f"risk scores: {'trained model' if model is not None else 'STAND-IN'} - {model_text}")
    results = []
    for preset in presets:
        if preset not in PRESETS or not preset_path(preset).exists():
            print(f"\n### {preset}: preset not available in this checkout (skipped)")
            continue
        results.extend(run_preset(preset, args, model, model_text))
    if not results:
        return 1
    print("\n| preset | capacity | plan / risk rank per officer-hour | per seed | plan / oracle |\n|---|---|---:|---:|---:|")
    for r in results:
        print(f"| {r['preset']} | {r['capacity']} | {r['ratio']:.2f}x | {r['min']:.2f}-{r['max']:.2f}x | {r['of_oracle']:.0%} |")
    return 0 if all(r["ratio"] >= TARGET_RATIO for r in results) else 2


if __name__ == "__main__":
    sys.exit(main())
