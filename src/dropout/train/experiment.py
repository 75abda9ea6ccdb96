"""One experiment end to end: data -> training frame -> backtest -> final model -> report -> MLflow.

`run_experiment(config)` is what `dropout train --config ...` calls. Training,
evaluation and promotion stay separate steps inside it: the backtest measures, the
final fit produces the model that ships, and the registry's gate decides its alias.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dropout.errors import ConfigError
from dropout.io import write_json, write_text
from dropout.schema import Tables, tables_fingerprint
from dropout.provenance import code_version
from dropout.registry.scope import data_scope
from dropout.train.backtest import BacktestResult, ModelSpec, fit_final, run_backtest
from dropout.train.config import ExperimentConfig, load_model_params, load_tuning
from dropout.train.data import Dataset, build_context, feature_columns, read_truth
from dropout.model.gbm import DropoutModel, monotone_constraints
from dropout.train.timechop import final_fold, make_folds


@dataclass
class ExperimentResult:
    config: ExperimentConfig
    dataset: Dataset
    backtest: BacktestResult
    model: DropoutModel
    run_dir: Path
    report_path: Path
    registration: object | None = None
    timings: dict = field(default_factory=dict)


# ---------------------------------------------------------------- data


def load_source(cfg: ExperimentConfig, progress=None) -> tuple[Tables, dict | None]:
    """The raw tables (and the simulator's truth when there is one) named by the config."""
    if cfg.data.folder is not None:
        from dropout.io import load_tables

        folder = cfg.path(cfg.data.folder)
        return load_tables(folder), read_truth(folder)
    from dropout.simulate import simulate

    s = cfg.data.simulate
    kwargs = {k: v for k, v in (("participants", s.participants), ("start", s.start), ("end", s.end)) if v is not None}
    if progress is not None and "progress" in inspect.signature(simulate).parameters:
        kwargs["progress"] = progress
    res = simulate(s.preset, seed=s.seed, **kwargs)
    return res.tables, res.truth


def as_of_dates(cfg: ExperimentConfig, extracted_on: pd.Timestamp) -> pd.DatetimeIndex:
    """As-of dates from the config, stopping where labels are still complete."""
    last_labelled = pd.Timestamp(extracted_on) - pd.Timedelta(days=cfg.label_horizon_days)
    end = min(pd.Timestamp(cfg.as_of.end), last_labelled) if cfg.as_of.end else last_labelled
    try:
        dates = pd.date_range(pd.Timestamp(cfg.as_of.start), end, freq=cfg.as_of.frequency)
    except ValueError as exc:
        raise ConfigError(f"as_of: {exc}") from None
    if len(dates) == 0:
        raise ConfigError(
            f"as_of: no dates between {cfg.as_of.start} and {end.date()} (the last date whose "
            f"{cfg.label_horizon_days}-day label is known at extraction {pd.Timestamp(extracted_on).date()})"
        )
    return dates


def build_dataset(cfg: ExperimentConfig, tables: Tables, truth: dict | None, catalog=None) -> Dataset:
    """Training frame (features + label) and its context for the config's target and dates."""
    from dropout.labels import build_training_frame

    if catalog is None:
        from dropout.features.catalog import load_catalog

        catalog = load_catalog()
    dates = as_of_dates(cfg, tables.extracted_on)
    frame = build_training_frame(tables, dates, target=cfg.target, horizon_days=cfg.horizon_days)
    frame = frame.reset_index(drop=True)
    if frame.empty or frame["label"].nunique() < 2:
        raise ConfigError(f"the training frame for target {cfg.target!r} has {len(frame)} rows and "
                          f"{frame['label'].nunique() if len(frame) else 0} label value(s); cannot train")
    features = feature_columns(frame)
    ctx = build_context(tables, frame, cfg.label_horizon_days, truth, cfg.target)
    known = ctx["label_known_on"] <= tables.extracted_on
    if not known.all():  # labels not yet settled at extraction: drop, never guess
        frame, ctx = frame.loc[known].reset_index(drop=True), ctx.loc[known].reset_index(drop=True)
    return Dataset(
        frame=frame, context=ctx, feature_names=features, monotone=monotone_constraints(catalog, features),
        target=cfg.target, horizon_days=cfg.label_horizon_days, data_fingerprint=tables_fingerprint(tables),
        extracted_on=tables.extracted_on, catalog=list(getattr(catalog, "features", catalog)),
    )


def model_spec(cfg: ExperimentConfig, dataset: Dataset) -> ModelSpec:
    params, training = load_model_params(cfg.path(cfg.model.params))
    params = {**params, "seed": params.get("seed", cfg.seed)}
    tuning = load_tuning(cfg.path(cfg.model.params))
    return ModelSpec(params, dataset.feature_names, dataset.monotone, cfg.model.calibration,
                     int(training["num_boost_round"]), int(training["early_stopping_rounds"]),
                     candidates=tuning["candidates"], inner_validation_months=tuning["inner_validation_months"],
                     inner_splits=tuning["inner_splits"],
                     max_inner_rows=tuning["max_inner_rows"], linear_weights=tuning["linear_weights"],
                     linear_signs=linear_signs(dataset))


#: Feature families whose features a policy moves (the what-if): their linear terms keep
#: the catalog's sign. Elsewhere correlated features share their effect freely in the
#: line (forcing signs there costs ranking), and the trees carry the monotone constraints.
POLICY_FAMILIES = ("subsidy",)


def linear_signs(dataset: Dataset) -> list[int]:
    family = {getattr(e, "name", None): getattr(e, "family", None) for e in dataset.catalog}
    return [m if family.get(f) in POLICY_FAMILIES else 0 for f, m in zip(dataset.feature_names, dataset.monotone)]


def spec_of(model: DropoutModel) -> ModelSpec:
    return ModelSpec(model.params, model.feature_names, model.monotone, model.calibration,
                     model.num_boost_round, model.early_stopping_rounds, linear_weight=model.linear_weight,
                     linear_signs=model.linear_signs)


# ---------------------------------------------------------------- the run


def run_experiment(
    cfg: ExperimentConfig,
    *,
    tracking_uri: str | None = None,
    register: bool = True,
    log_mlflow: bool = True,
    out_dir: str | Path | None = None,
    show_progress: bool = True,
    tables: Tables | None = None,
    truth: dict | None = None,
) -> ExperimentResult:
    """Backtest, fit the final model, write the report, log to MLflow and gate the alias.

    Args:
        tracking_uri: overrides the config's tracking URI.
        register: register the final model (and apply the champion/challenger gate).
        log_mlflow: log the run at all (False: only the run folder is written).
        out_dir: where run folders go (default: the config's output_dir).
        tables, truth: data already in memory (skips the config's data source).
    """
    from dropout.progress import Stages, progress_bar
    from dropout.registry import gate, log, tracking, versions

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    uri = tracking.resolve_tracking_uri(tracking_uri or cfg.tracking_uri())
    register = register and log_mlflow and cfg.registry.enabled
    with progress_bar(disable=not show_progress) as bar:
        stages = Stages(bar, f"train {cfg.name} ({cfg.target})", total=cfg.backtest.folds + 4, quiet=not show_progress)
        stages.stage("loading the data")
        if tables is None:
            tables, truth = load_source(cfg)
        timings["data_s"] = time.perf_counter() - t0
        stages.done()
        t = time.perf_counter()
        stages.stage("building the training frames (features and labels)")
        dataset = build_dataset(cfg, tables, truth)
        timings["training_frame_s"] = time.perf_counter() - t
        stages.done()

        folds = make_folds(
            dataset.frame["as_of"], folds=cfg.backtest.folds, test_months=cfg.backtest.test_months,
            validation_months=cfg.backtest.validation_months, gap_days=cfg.gap_days,
            validation_gap_days=cfg.validation_gap_days, min_train_months=cfg.backtest.min_train_months,
        )
        spec = model_spec(cfg, dataset)
        scope = data_scope(tables)
        name = cfg.registered_model_name if register else None
        champion, fitted, champion_value, champion_note, seen_through = None, {}, None, None, None
        if name:
            champion = gate.current_champion(name, uri, scope)
            if champion is not None:
                # The champion scores the new folds' test rows as it is (never re-fitted).
                champ_model = versions.load_model(name, scope.alias(gate.CHAMPION), uri)
                if set(champ_model.feature_names) <= set(dataset.feature_names):
                    fitted["champion"] = champ_model
                    seen_through = champ_model.metadata.get("trained_through_as_of")
                else:
                    champion_note = ("the champion needs features these data do not have: "
                                     f"{sorted(set(champ_model.feature_names) - set(dataset.feature_names))[:5]}")
        t = time.perf_counter()
        result = run_backtest(
            dataset, folds, spec, evaluation=cfg.evaluation, seed=cfg.seed,
            max_train_rows=cfg.backtest.max_train_rows, fitted=fitted,
            on_fold=lambda f: stages.done(), on_stage=stages.stage, tuning_gap_days=cfg.validation_gap_days,
            validation_people=cfg.backtest.validation_people,
        )
        timings["backtest_s"] = time.perf_counter() - t
        gate_report = gate.comparison(result, cfg.registry.gate_metric, cfg.registry.min_improvement,
                                      champion_version=champion.version if champion else None,
                                      note=champion_note, scope=scope, champion_seen_through=seen_through)
        if "champion" in fitted:
            champion_value = gate_report["champion_mean"]

        t = time.perf_counter()
        stages.stage("final model: tuning, fit, calibration")
        ff = final_fold(dataset.frame["as_of"], validation_months=cfg.backtest.validation_months,
                        validation_gap_days=cfg.validation_gap_days, min_train_months=cfg.backtest.min_train_months)
        metadata = {
            "experiment": cfg.name, "target": cfg.target, "horizon_days": cfg.horizon_days, "scope": scope.key,
            "code_version": code_version(),
            "trained_from_as_of": str(pd.Timestamp(dataset.frame["as_of"].min()).date()),
            "label_horizon_days": cfg.label_horizon_days, "data_fingerprint": dataset.data_fingerprint,
            "backtest_fingerprint": result.fingerprint,
            "trained_through_as_of": str(pd.Timestamp(dataset.frame["as_of"].max()).date()),
            "extracted_on": str(pd.Timestamp(dataset.extracted_on).date()) if dataset.extracted_on is not None else None,
        }
        model = fit_final(dataset, ff, spec, metadata, seed=cfg.seed, max_train_rows=cfg.backtest.max_train_rows,
                          tuning_gap_days=cfg.validation_gap_days, validation_people=cfg.backtest.validation_people)
        timings["final_fit_s"] = time.perf_counter() - t
        stages.done()

        t = time.perf_counter()
        stages.stage("report")
        run_dir = _run_dir(cfg, out_dir)
        from dropout.monitor.reference import training_reference

        model.reference_ = training_reference(dataset.frame, dataset.feature_names, model, result.predictions)
        model.save(run_dir / "model")
        if not (register and log_mlflow):
            gate_report = {**gate_report, "decision": None, "reason": "not registered (--no-register / --no-mlflow)"}
        report_path = _write_outputs(cfg, dataset, result, model, run_dir, uri if log_mlflow else None, timings,
                                     gate_report, scope)
        timings["report_s"] = time.perf_counter() - t

        registration = None
        if log_mlflow:
            t = time.perf_counter()
            stages.stage("MLflow run and registry")
            registration = log.log_training_run(
                uri=uri, experiment=cfg.tracking.experiment, run_name=f"{cfg.name}-{cfg.target}-{run_dir.name}",
                config=cfg.model_dump(mode="json"), model=model, result=result, artifacts_dir=run_dir,
                candidate_value=gate_report["candidate_mean"],
                register_as=name, gate_metric=cfg.registry.gate_metric, champion_value=champion_value,
                has_champion=champion is not None, min_improvement=cfg.registry.min_improvement, scope=scope,
                tags={"experiment": cfg.name, "target": cfg.target, "run_dir": str(run_dir)},
            )
            timings["mlflow_s"] = time.perf_counter() - t
            write_json({"run_id": registration.run_id, "model": registration.model_name, "version": registration.version,
                        "alias": registration.alias, "reason": registration.reason}, run_dir / "registration.json")
        stages.done()
    timings["total_s"] = time.perf_counter() - t0
    return ExperimentResult(cfg, dataset, result, model, run_dir, report_path, registration, timings)


def _run_dir(cfg: ExperimentConfig, out_dir) -> Path:
    base = Path(out_dir) if out_dir else cfg.path(cfg.output_dir)
    stamp = pd.Timestamp.now().strftime("%Y%m%d-%H%M%S")
    d = base / cfg.name / cfg.target / stamp
    n = 1
    while d.exists():
        n += 1
        d = base / cfg.name / cfg.target / f"{stamp}-{n}"
    d.mkdir(parents=True)
    return d


def summary_numbers(result: BacktestResult) -> dict:
    """The headline numbers (for README and the command's output)."""
    o = result.overall_metrics
    out = {"checks": {k: v for k, v in result.checks.items() if k != "beats_detail"}}
    out["test"] = {c: {m: float(o.loc[c, m]) for m in ("auc", "pr_auc", "brier", "ece")} for c in o.index}
    out["folds"] = {
        f"fold{f}": {c: {m: float(result.fold_metrics.loc[(f, c), m]) for m in ("auc", "pr_auc")} for c in result.contenders}
        for f in sorted({i for i, _ in result.fold_metrics.index})
    }
    return out


def _write_outputs(cfg, dataset, result, model, run_dir: Path, uri, timings, gate_report=None, scope=None) -> Path:
    from dropout.evaluate.report import render_report, write_report

    write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True), run_dir / "config.yaml")
    write_json({"folds": [f.as_dict() for f in result.folds], "backtest_fingerprint": result.fingerprint}, run_dir / "folds.json")
    write_json({"folds": result.tuning, "final": model.metadata.get("tuning")}, run_dir / "tuning.json")
    if gate_report is not None:
        write_json(gate_report, run_dir / "gate.json")
    write_json(summary_numbers(result), run_dir / "metrics.json")
    result.fold_metrics.reset_index().to_csv(run_dir / "fold_metrics.csv", index=False)
    result.overall_metrics.reset_index().to_csv(run_dir / "test_metrics.csv", index=False)
    result.predictions.to_parquet(run_dir / "predictions.parquet", index=False)
    families = {getattr(e, "name", None) or e.get("name"): getattr(e, "family", None) or e.get("family") for e in dataset.catalog}
    as_of = dataset.frame["as_of"]
    summary = {
        "experiment": cfg.name,
        "data": cfg.data.folder or f"simulated preset {cfg.data.simulate.preset} "
                f"({cfg.data.simulate.participants or 'default'} participants, seed {cfg.data.simulate.seed})",
        "target": cfg.target,
        "scope": str(scope) if scope is not None else "",
        "label horizon (days)": cfg.label_horizon_days,
        "as-of dates": f"{pd.Timestamp(as_of.min()).date()} .. {pd.Timestamp(as_of.max()).date()} ({as_of.nunique()} dates, {cfg.as_of.frequency})",
        "training rows": int(len(dataset.frame)),
        "positive rate": float(dataset.frame["label"].mean()),
        "participants": int(dataset.frame["participant_id"].nunique()),
        "features": len(dataset.feature_names),
        "monotone constraints": f"{int(np.count_nonzero(dataset.monotone))} of {len(dataset.monotone)}",
        "calibration": cfg.model.calibration,
        "final model trees": model.best_iteration_,
        "model sha256": model.sha256,
        "data fingerprint": dataset.data_fingerprint,
        "code version": model.metadata.get("code_version", ""),
        "tracking": uri or "(not logged)",
    }
    hyper = {**{f"lgb.{k}": v for k, v in model.params.items() if k not in ("monotone_constraints",)},
             "linear_weight": model.linear_weight, "num_boost_round": model.num_boost_round,
             "early_stopping_rounds": model.early_stopping_rounds, "best_iteration": model.best_iteration_,
             "tuned (final)": (model.metadata.get("tuning") or {}).get("chosen", {}),
             **{f"tuned ({k})": v["chosen"] for k, v in result.tuning.items()}}
    html = render_report(
        result, title=f"dropout — {cfg.name}, target {cfg.target}", summary=summary,
        importance=model.feature_importance("gain"), families=families,
        ks=cfg.evaluation.top_k_percent, n_bins=cfg.evaluation.ece_bins,
        gate=gate_report, hyperparameters=hyper,
    )
    return write_report(run_dir / "report.html", html)
