"""Rolling-origin backtest: fit the model and the baselines per fold, score the test block.

For each fold (timechop.py) the model trains on the training block, stops early and is
calibrated on the validation block, and scores the test block. Baselines fit on the
same training block; their scores are calibrated on the same validation block (so Brier
and ECE compare like with like), while their ranking metrics use their raw scores (their
best ranking). The model's ranking metrics use its calibrated probability, which is what
ships. The oracle (simulated data only) scores the same test rows with the probability
the simulator drew from: the ceiling.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dropout.evaluate.metrics import (
    binary_metrics,
    safe_auc,
    capacity_metrics,
    group_metrics,
    oracle_fraction,
    select_top_percent,
)
from dropout.model.baselines import make_baselines
from dropout.train.data import Dataset
from dropout.model.gbm import DropoutModel
from dropout.train.timechop import Fold, check_no_leak
from dropout.train.tuning import choose

MODEL = "model"
ORACLE = "oracle"
SENSITIVE = ("ethnic_group", "province", "sex", "poverty_status")
#: Breakdowns of every report: the sensitive groups, and paying vs in arrears (members in
#: arrears are easier to rank: the whole-cohort AUC flatters, the paying AUC does not).
GROUPS = (*SENSITIVE, "status")


@dataclass
class ModelSpec:
    """What is needed to train a DropoutModel: parameters, features and calibration, and
    the candidate parameter overrides tuned inside each training window (tuning.py)."""

    params: dict
    feature_names: list[str]
    monotone: list[int]
    calibration: str = "isotonic"
    num_boost_round: int = 1000
    early_stopping_rounds: int = 50
    candidates: list[dict] = field(default_factory=list)
    inner_validation_months: int = 6
    inner_splits: int = 1
    max_inner_rows: int | None = None  # candidates compare on a participant sample of this size
    linear_weight: float = 0.0  # weight of the blended logistic regression (model/linear.py)
    linear_weights: list[float] = field(default_factory=list)  # candidates, chosen on the validation slice
    linear_signs: list[int] | None = None  # the line's coefficient signs (default: monotone)

    def with_params(self, overrides: dict) -> "ModelSpec":
        """The same spec with some parameters replaced (and nothing left to tune). The key
        `linear_weight` sets the blend; every other key is a LightGBM parameter."""
        overrides = dict(overrides)
        w = float(overrides.pop("linear_weight", self.linear_weight))
        return ModelSpec({**self.params, **overrides}, self.feature_names, self.monotone, self.calibration,
                         self.num_boost_round, self.early_stopping_rounds, linear_weight=w,
                         linear_signs=self.linear_signs, linear_weights=list(self.linear_weights))

    def build(self, metadata: dict | None = None) -> DropoutModel:
        return DropoutModel(
            self.params, feature_names=self.feature_names, monotone=self.monotone,
            calibration=self.calibration, num_boost_round=self.num_boost_round,
            early_stopping_rounds=self.early_stopping_rounds, metadata=metadata, linear_weight=self.linear_weight,
            linear_signs=self.linear_signs, linear_weights=self.linear_weights,
        )


@dataclass
class BacktestResult:
    folds: list[Fold]
    predictions: pd.DataFrame  # one row per test row and fold; score_<c> (ranking) and p_<c> (probability)
    fold_metrics: pd.DataFrame  # index (fold, contender)
    overall_metrics: pd.DataFrame  # index contender, pooled over all test blocks
    time_metrics: pd.DataFrame  # index (as_of, contender)
    group_metrics: dict[str, pd.DataFrame]  # the model, pooled test, by sensitive column
    checks: dict
    contenders: list[str]
    baselines: list[str]
    fold_models: list[DropoutModel] = field(default_factory=list)
    fingerprint: str = ""
    tuning: dict = field(default_factory=dict)  # fold name -> TuningResult.as_dict()

    def mean_fold_metric(self, contender: str, metric: str) -> float:
        return float(self.fold_metrics.xs(contender, level="contender")[metric].mean())


def _subsample_participants(frame: pd.DataFrame, mask: np.ndarray, max_rows: int | None, seed: int) -> np.ndarray:
    """Keep whole participants at random until about `max_rows` training rows remain."""
    n = int(mask.sum())
    if not max_rows or n <= max_rows:
        return mask
    pid = frame["participant_id"].to_numpy()
    ids = np.unique(pid[mask])
    keep = np.random.default_rng(seed).random(len(ids)) < max_rows / n
    return mask & np.isin(pid, ids[keep])


def split_people(frame: pd.DataFrame, train: np.ndarray, val: np.ndarray, share: float | None,
                 seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) masks with a random `share` of participants kept out of training
    and the validation rows limited to them (`share` None: the masks as they are)."""
    if not share:
        return train, val
    pid = frame["participant_id"].to_numpy()
    ids = np.unique(pid)
    held = np.isin(pid, ids[np.random.default_rng(seed).random(len(ids)) < share])
    return train & ~held, val & held


def backtest_fingerprint(dataset: Dataset, folds: list[Fold]) -> str:
    """Identifies the backtest: data, target, folds, and the test rows with their labels."""
    h = hashlib.sha256()
    h.update(json.dumps([dataset.data_fingerprint, dataset.target, dataset.horizon_days, [f.as_dict() for f in folds]]).encode())
    for f in folds:
        _, _, test = f.masks(dataset.frame["as_of"])
        keys = dataset.frame.loc[test, ["participant_id", "as_of", "label"]]
        h.update(pd.util.hash_pandas_object(keys, index=False).to_numpy().tobytes())
    return h.hexdigest()


def run_backtest(
    dataset: Dataset,
    folds: list[Fold],
    spec: ModelSpec,
    *,
    evaluation=None,
    seed: int = 1,
    max_train_rows: int | None = None,
    extra_specs: dict[str, ModelSpec] | None = None,
    fitted: dict | None = None,
    on_fold=None,
    tuning_gap_days: int | None = None,
    on_stage=None,
    validation_people: float | None = None,
) -> BacktestResult:
    """Fit and score every fold; return predictions, metrics and the must-show checks.

    Args:
        spec: the candidate model.
        evaluation: a config.Evaluation (top k, top N, ECE bins, targets); defaults if None.
        extra_specs: other models to train on the same folds.
        fitted: models already trained (e.g. the current champion): they score every
            fold's test rows as they are, never re-fitted.
        on_fold: callback(fold) after each fold, for progress bars.
        on_stage: callback(text) naming what runs now ("fold 1/3: tuning"), for progress logs.
        tuning_gap_days: the gap inside a training block between the inner training and
            inner validation rows (default: the label horizon).
        validation_people: share of participants kept out of training whose validation
            rows alone early-stop and calibrate (`split_people`); None: everyone's.
    """
    from dropout.train.config import Evaluation

    ev = evaluation or Evaluation()
    frame, ctx = dataset.frame, dataset.context
    X_all = frame[dataset.feature_names]
    y_all = frame["label"].to_numpy(dtype=np.int8)
    as_of = frame["as_of"]
    preds, models = [], []
    extra_specs = extra_specs or {}
    fitted = fitted or {}
    baseline_names: list[str] = []
    tuning: dict = {}
    gap = dataset.horizon_days if tuning_gap_days is None else tuning_gap_days
    say = on_stage or (lambda text: None)
    for k, fold in enumerate(folds, start=1):
        say(f"fold {k}/{len(folds)}: tuning")
        check_no_leak(fold, as_of, ctx["label_known_on"])
        train, val, test = fold.masks(as_of)
        train, val = split_people(frame, train, val, validation_people, seed + 700 + fold.index)
        train = _subsample_participants(frame, train, max_train_rows, seed + fold.index)
        if not test.any():
            raise ValueError(f"{fold.name}: the test block {fold.test_start.date()}..{fold.test_end.date()} has no rows")
        Xtr, ytr, Xva, yva, Xte = X_all[train], y_all[train], X_all[val], y_all[val], X_all[test]
        tuned = choose(spec, X_all, y_all, as_of, train, gap_days=gap,
                       sample=lambda m: _subsample_participants(frame, m, spec.max_inner_rows, seed + 500 + fold.index))
        tuning[fold.name] = tuned.as_dict()
        say(f"fold {k}/{len(folds)}: fit and calibration")
        model = spec.with_params(tuned.chosen).build({"fold": fold.as_dict(), "tuning": tuned.as_dict()}).fit(
            Xtr, ytr, Xva, yva)
        models.append(model)
        out = frame.loc[test, ["participant_id", "as_of", "label"]].copy()
        out.insert(0, "fold", fold.index)
        for col in ("district", *GROUPS):
            if col in ctx:
                out[col] = ctx.loc[test, col].to_numpy()
        p = model.predict_proba(Xte)
        out[f"score_{MODEL}"], out[f"p_{MODEL}"] = p, p
        for name, m in fitted.items():
            p = m.predict_proba(Xte)
            out[f"score_{name}"], out[f"p_{name}"] = p, p
        for name, extra in extra_specs.items():
            m = extra.build().fit(Xtr, ytr, Xva, yva)
            p = m.predict_proba(Xte)
            out[f"score_{name}"], out[f"p_{name}"] = p, p
        say(f"fold {k}/{len(folds)}: baselines")
        baselines = make_baselines(dataset.feature_names, seed=seed, horizon_days=dataset.horizon_days)
        baseline_names = [b.name for b in baselines]
        for b in baselines:
            b.fit(Xtr, ytr, Xva, yva, context=ctx[train], context_val=ctx[val])
            out[f"score_{b.name}"] = b.score(Xte, context=ctx[test])
            out[f"p_{b.name}"] = b.predict_proba(Xte, context=ctx[test])
        if "oracle_p" in ctx:
            o = ctx.loc[test, "oracle_p"].to_numpy(dtype=float)
            out[f"score_{ORACLE}"], out[f"p_{ORACLE}"] = o, o
        preds.append(out)
        if on_fold is not None:
            on_fold(fold)
    predictions = pd.concat(preds, ignore_index=True)
    contenders = [MODEL, *fitted, *extra_specs, *baseline_names]
    if f"p_{ORACLE}" in predictions and predictions[f"p_{ORACLE}"].notna().any():
        contenders.append(ORACLE)
    result = _summarise(predictions, folds, contenders, baseline_names, ev, models, backtest_fingerprint(dataset, folds))
    result.tuning = tuning
    return result


def _metrics_for(df: pd.DataFrame, contender: str, ev) -> dict:
    rows = df[f"p_{contender}"].notna().to_numpy()
    d = df[rows]
    y = d["label"].to_numpy()
    m = binary_metrics(y, d[f"score_{contender}"].to_numpy(), ev.ece_bins, probabilistic=False)
    prob = binary_metrics(y, d[f"p_{contender}"].to_numpy(), ev.ece_bins)
    m.update({k: prob[k] for k in ("mean_pred", "brier", "ece")})
    m.update(capacity_metrics(y, d[f"score_{contender}"].to_numpy(), d["as_of"], d["district"], ev.top_k_percent, ev.top_n_per_district))
    return m


def _summarise(predictions, folds, contenders, baselines, ev, models, fingerprint) -> BacktestResult:
    fold_rows, time_rows = {}, {}
    for f in folds:
        d = predictions[predictions["fold"] == f.index]
        for c in contenders:
            fold_rows[(f.index, c)] = _metrics_for(d, c, ev)
    fold_metrics = pd.DataFrame.from_dict(fold_rows, orient="index")
    fold_metrics.index = fold_metrics.index.set_names(["fold", "contender"])
    overall = pd.DataFrame({c: _metrics_for(predictions, c, ev) for c in contenders}).T
    overall.index.name = "contender"
    for a, d in predictions.groupby("as_of", sort=True):
        for c in contenders:
            rows = d[f"p_{c}"].notna()
            y = d.loc[rows, "label"].to_numpy()
            time_rows[(a, c)] = binary_metrics(y, d.loc[rows, f"score_{c}"].to_numpy(), probabilistic=False)
    time_metrics = pd.DataFrame.from_dict(time_rows, orient="index")
    time_metrics.index = time_metrics.index.set_names(["as_of", "contender"])

    selected = select_top_percent(predictions[f"score_{MODEL}"], predictions["as_of"], ev.capacity_percent)
    groups = group_metrics(
        predictions["label"], predictions[f"p_{MODEL}"], selected,
        predictions[[c for c in GROUPS if c in predictions]], ev.ece_bins,
    )
    checks = _checks(predictions, fold_metrics, overall, folds, baselines, ev, groups, contenders)
    return BacktestResult(folds, predictions, fold_metrics, overall, time_metrics, groups, checks, contenders, baselines, models, fingerprint)


def _checks(predictions, fold_metrics, overall, folds, baselines, ev, groups=None, contenders=()) -> dict:
    """The must-show checks, computed, never asserted here."""
    beats, beats_auc = {}, {}
    for f in folds:
        m = fold_metrics.loc[(f.index, MODEL)]
        for b in baselines:
            o = fold_metrics.loc[(f.index, b)]
            beats[f"fold{f.index}/{b}"] = bool(m["auc"] > o["auc"] and m["pr_auc"] > o["pr_auc"])
            beats_auc[f"fold{f.index}/{b}"] = bool(m["auc"] > o["auc"])
    mean_fold = {c: float(fold_metrics.xs(c, level="contender")["auc"].mean()) for c in contenders}
    checks = {
        "beats_every_baseline_every_fold": all(beats.values()) if beats else False,
        "beats_detail": beats,
        "beats_every_baseline_every_fold_auc": all(beats_auc.values()) if beats_auc else False,
        "beats_auc_detail": beats_auc,
        "pooled_auc": {c: float(overall.loc[c, "auc"]) for c in contenders},
        "mean_fold_auc": mean_fold,
        # A pooled AUC below every fold's AUC means the calibrated level drifts between folds.
        "level_drift": bool(overall.loc[MODEL, "auc"] < fold_metrics.xs(MODEL, level="contender")["auc"].min()),
        "test_ece": float(overall.loc[MODEL, "ece"]),
        "ece_target": ev.ece_target,
        "ece_ok": bool(overall.loc[MODEL, "ece"] <= ev.ece_target),
    }
    if ORACLE in overall.index:
        rows = predictions[f"p_{ORACLE}"].notna().to_numpy()
        d = predictions[rows]
        mm = binary_metrics(d["label"], d[f"score_{MODEL}"])
        om = binary_metrics(d["label"], d[f"score_{ORACLE}"])
        frac = oracle_fraction(mm, om)
        checks.update(
            oracle_auc=om["auc"], oracle_pr_auc=om["pr_auc"], model_auc_on_oracle_rows=mm["auc"],
            oracle_rows=int(rows.sum()), **frac,
            oracle_fraction_target=ev.oracle_fraction_target,
            oracle_ok=bool(frac.get("auc_fraction_of_oracle", 0) >= ev.oracle_fraction_target),
        )
        per_fold = {}
        for f in folds:
            df = d[d["fold"] == f.index]
            per_fold[f.index] = binary_metrics(df["label"], df[f"score_{MODEL}"])["auc"] / binary_metrics(df["label"], df[f"score_{ORACLE}"])["auc"]
        checks["auc_fraction_of_oracle_by_fold"] = per_fold
        if ORACLE in mean_fold and mean_fold[ORACLE]:
            checks["auc_fraction_of_oracle_mean_fold"] = mean_fold[MODEL] / mean_fold[ORACLE]
    if groups is not None and "ethnic_group" in groups:
        recall = groups["ethnic_group"]["recall"]
        if {"minority", "Kinh"} <= set(recall.index) and recall["Kinh"] > 0:
            checks["recall_at_capacity"] = {g: float(recall[g]) for g in ("minority", "Kinh")}
            checks["recall_ratio_minority_kinh"] = float(recall["minority"] / recall["Kinh"])
    if "status" in predictions:
        paying = predictions["status"].to_numpy() == "paying"
        checks["paying_auc"] = {}
        for c in contenders:
            d = predictions[paying & predictions[f"p_{c}"].notna().to_numpy()]
            checks["paying_auc"][c] = safe_auc(d["label"].to_numpy(), d[f"score_{c}"].to_numpy())
        checks["paying_rows"] = int(paying.sum())
    return checks


def fit_final(dataset: Dataset, fold: Fold, spec: ModelSpec, metadata: dict, seed: int = 1,
              max_train_rows: int | None = None, tuning_gap_days: int | None = None,
              validation_people: float | None = None) -> DropoutModel:
    """The model that ships: trained on all labelled history, calibrated on its last months,
    with parameters tuned inside that training window (never on the validation months)."""
    as_of = dataset.frame["as_of"]
    train, val, _ = fold.masks(as_of)
    train, val = split_people(dataset.frame, train, val, validation_people, seed + 1700)
    train = _subsample_participants(dataset.frame, train, max_train_rows, seed + 1000)
    X = dataset.frame[dataset.feature_names]
    y = dataset.frame["label"].to_numpy(dtype=np.int8)
    gap = dataset.horizon_days if tuning_gap_days is None else tuning_gap_days
    tuned = choose(spec, X, y, as_of, train, gap_days=gap,
                   sample=lambda m: _subsample_participants(dataset.frame, m, spec.max_inner_rows, seed + 1500))
    meta = {**metadata, "final_fold": fold.as_dict(), "tuning": tuned.as_dict()}
    return spec.with_params(tuned.chosen).build(meta).fit(X[train], y[train], X[val], y[val])
