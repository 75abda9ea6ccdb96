"""The main job end to end on embedded defaults: simulate a district, validate it,
train and backtest, score everyone due before the next deadlines, plan the visits and
write the report. `dropout demo` and `make demo` run this.

Everything goes under one folder (default `out/demo`), so a demo never touches the
project's own MLflow store or score store:

    data/            the simulated raw tables (+ truth/), validated like an office export
    mlflow.db        MLflow tracking and registry of this demo
    runs/            the training run: model (LightGBM text + calibration JSON), report.html
    scores.db        the score store (SQLite)
    score/<run>/     risk lists: Parquet, CSV, one Excel workbook per district
    plan/<run>/      the visit plan: tables and an Excel sheet per officer-day
    summary.json     the headline numbers and where every file is
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


DEMO_CONFIG = "experiments/a-luoi.yaml"
DEMO_WINDOW = "deadline"  # through the next deadline an officer can still act on (next_deadline_window)
DEMO_CAPACITY = "30"  # officer-hours per district for the week


@dataclass
class DemoResult:
    out: Path
    data_dir: Path
    counts: dict[str, int]
    outputs: dict[str, Path] = field(default_factory=dict)
    numbers: dict = field(default_factory=dict)


def run_demo(out: Path, preset: str = "a-luoi", participants: int | None = None, seed: int = 0,
             progress=None, config: str | Path = DEMO_CONFIG, window: str = DEMO_WINDOW,
             capacity: str = DEMO_CAPACITY) -> DemoResult:
    """Simulate `preset`, validate, train (backtest + final model), score, plan, report.

    Args:
        out: folder for everything the demo writes (see the module docstring).
        config: the experiment config whose model, backtest and evaluation settings are
            used; its data source is replaced by the simulated folder.
        window: score people whose next installment falls due this long after as-of;
            "deadline" (default): through the next deadline at least two weeks away.
        capacity: officer-hours for the week (the `dropout plan --capacity` grammar).

    Returns:
        DemoResult with row counts, output paths and the headline numbers.
    """
    import pandas as pd

    from dropout.io import load_tables, write_json
    from dropout.plan import load_plan_config, parse_capacity, plan_visits, villages_with_enrolled, write_plan
    from dropout.model import ModelRef
    from dropout.score.run import run_scoring
    from dropout.simulate import simulate, write_simulation
    from dropout.train.config import load_config
    from dropout.train.experiment import run_experiment, summary_numbers

    out = Path(out).resolve()
    data_dir = out / "data"
    cap = parse_capacity(capacity)  # refuse bad text before any work
    cfg = load_config(config)

    sim = simulate(preset, participants=participants, seed=seed, progress=progress)
    write_simulation(sim, data_dir)
    tables = load_tables(data_dir)  # the contract check an office export goes through
    truth = sim.truth

    cfg = cfg.model_copy(update={"name": f"demo-{preset}"})
    tracking_uri = f"sqlite:///{out / 'mlflow.db'}"
    trained = run_experiment(cfg, tracking_uri=tracking_uri, out_dir=out / "runs", tables=tables, truth=truth,
                             show_progress=progress is not None)
    reg = trained.registration
    model_ref = ModelRef(trained.model, reg.model_name if reg else cfg.name,
                         str(reg.version) if reg else None, trained.model.sha256,
                         str(trained.run_dir / "model"))

    # Scores are made on the extraction day: every payment known is counted, so nobody
    # who already paid is sent a visit; the window reaches the next deadline.
    as_of = pd.Timestamp(tables.extracted_on).normalize()
    scored = run_scoring(tables, as_of, window, model_ref, store_url=f"sqlite:///{out / 'scores.db'}",
                         out_dir=out / "score", progress=progress)

    plan = plan_visits(scored.scores, villages_with_enrolled(tables, as_of), cap, load_plan_config())
    plan_files = write_plan(plan, out / "plan" / scored.run.run_id)

    headline = summary_numbers(trained.backtest)
    pools = plan.pools
    numbers = {
        "preset": preset, "seed": seed, "as_of": str(pd.Timestamp(as_of).date()), "window": f"{scored.run.window_days}d",
        "capacity_hours": capacity,
        "backtest": headline,
        "model": {"name": model_ref.name, "version": model_ref.version, "sha256": model_ref.sha256,
                  "alias": reg.alias if reg else None},
        "scored": int(scored.run.n_scored),
        "high_risk": int(scored.by_district["high_risk"].sum()),
        "expected_lapses": float(scored.by_district["expected_lapses"].sum()),
        "plan": {"trips": int(pools["trips"].sum()), "home_visits": int(pools["home_visits"].sum()),
                 "sessions": int(pools["sessions"].sum()), "hours_used": float(pools["hours_used"].sum()),
                 "expected_averted": float(pools["expected_averted"].sum())},
    }
    outputs = {
        "report": trained.report_path,
        "model": trained.run_dir / "model",
        "risk lists": scored.out_dir,
        "visit plan": out / "plan" / scored.run.run_id,
        "score store": out / "scores.db",
        "mlflow": out / "mlflow.db",
    }
    outputs["summary"] = write_json({**numbers, "files": {k: str(v) for k, v in {**outputs, **plan_files}.items()}},
                                    out / "summary.json")
    return DemoResult(out=out, data_dir=data_dir, counts=tables.counts(), outputs=outputs, numbers=numbers)
