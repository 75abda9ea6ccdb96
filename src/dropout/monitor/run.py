"""`monitor_store`: every scored run of a store, checked against a newer export.

For each finished scoring run whose as-of the export covers:

1. outcomes: the installments whose deadline has passed in the export are joined to
   the run's score rows (`monitor.outcomes`, stored idempotently in the store);
2. estimated performance from the calibrated risks (`monitor.estimate`, CBPE), overall
   and by district; computed once per run (the risks do not change);
3. drift of every feature and of the predictions against the reference kept with the
   model (`monitor.drift`), features rebuilt point in time at the run's as-of;
   computed once per run and model;
4. realised metrics once outcomes are in, overall and by district, commune, ethnic
   group, payment mode and paying / in arrears, beside the estimate;
5. alerts (`monitor.alerts`), and the result saved in the store (`monitor_results`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dropout.evaluate.metrics import binary_metrics, calibration_table
from dropout.monitor.alerts import run_alerts
from dropout.monitor.config import MonitorConfig, load_monitor_config
from dropout.monitor.drift import column_drift
from dropout.monitor.estimate import estimate_performance
from dropout.monitor.outcomes import outcomes_for
from dropout.schema import Tables
from dropout.store import ScoreStore, open_store
from dropout.store.monitoring import backfill_outcomes, read_outcomes, read_results, save_result

GROUPS = ("district", "commune", "ethnicity", "payment_mode", "status")
PAYLOAD_VERSION = 1


@dataclass
class RunMonitor:
    """What `dropout monitor` found for one run."""

    run_id: str
    as_of: pd.Timestamp
    n_scored: int
    n_outcomes: int
    outcomes_added: int
    alerts: list[dict]
    payload: dict = field(repr=False)

    @property
    def status(self) -> str:
        return "alert" if self.alerts else "ok"


def _capacity(n: int, cfg: MonitorConfig) -> int:
    return max(1, int(round(n * cfg.estimate.capacity_share)))


def _estimates(scores: pd.DataFrame, cfg: MonitorConfig) -> dict:
    p = scores["risk"].to_numpy(np.float64)
    overall = {k: v.as_dict() for k, v in estimate_performance(
        p, capacity=_capacity(len(p), cfg), n_sims=cfg.estimate.simulations, level=cfg.estimate.level).items()}
    by_district = {}
    for district, d in scores.groupby("district", sort=True):
        q = d["risk"].to_numpy(np.float64)
        est = estimate_performance(q, capacity=_capacity(len(q), cfg), n_sims=cfg.estimate.simulations,
                                   level=cfg.estimate.level)
        by_district[str(district)] = {k: v.as_dict() for k, v in est.items()}
    return {"overall": overall, "by_district": by_district}


def _drift(tables: Tables, scores: pd.DataFrame, as_of: pd.Timestamp, reference: dict) -> dict:
    """Each feature's and the predictions' drift against the reference."""
    from dropout.features import build_features

    names = list(reference["features"])
    feats = build_features(tables, [as_of])
    feats = feats[feats["participant_id"].isin(scores["participant_id"])]
    out = {"features": {}, "n": int(len(feats))}
    for name in names:
        if name in feats.columns:
            out["features"][name] = _drift_of(reference["features"][name], feats[name].to_numpy(np.float64))
    out["prediction"] = _drift_of(reference["prediction"], scores["risk"].to_numpy(np.float64))
    for name, share in (reference.get("importance") or {}).items():
        if name in out["features"]:
            out["features"][name]["importance"] = share
    return out


def _drift_of(ref: dict, values: np.ndarray) -> dict:
    d = column_drift(ref, values)
    d["natural_psi"], d["natural_distance"] = ref.get("natural_psi"), ref.get("natural_distance")
    return d


def _metrics(y: np.ndarray, p: np.ndarray, capacity: int) -> dict:
    m = binary_metrics(y, p)
    order = np.argsort(-p, kind="stable")[:capacity]
    lapses = float(y.sum())
    m.update({
        "lapses": lapses, "expected_lapses": float(p.sum()),
        "precision_at_capacity": float(y[order].mean()) if len(order) else float("nan"),
        "recall_at_capacity": float(y[order].sum() / lapses) if lapses else float("nan"),
    })
    return m


def _realised(scores: pd.DataFrame, known: pd.DataFrame, tables: Tables, cfg: MonitorConfig) -> dict | None:
    if known.empty:
        return None
    people = tables.participants[["participant_id", "ethnicity", "payment_mode"]]
    d = (scores.merge(known[["participant_id", "lapsed"]], on="participant_id", how="inner")
         .merge(people, on="participant_id", how="left"))
    y, p = d["lapsed"].to_numpy(np.float64), d["risk"].to_numpy(np.float64)
    out = _metrics(y, p, _capacity(len(scores), cfg) if len(d) == len(scores) else _capacity(len(d), cfg))
    out["complete"] = bool(len(d) == len(scores))
    out["n_known"] = int(len(d))
    out["calibration"] = calibration_table(y, p, 10).to_dict(orient="list")
    groups = {}
    for g in GROUPS:
        if g not in d.columns:
            continue
        rows = {}
        for value, part in d.groupby(g, sort=True, dropna=False):
            yy, pp = part["lapsed"].to_numpy(np.float64), part["risk"].to_numpy(np.float64)
            rows[str(value)] = _metrics(yy, pp, _capacity(len(part), cfg))
        groups[g] = rows
    out["by"] = groups
    return out


def _families() -> dict[str, str]:
    from dropout.features.catalog import load_catalog

    try:
        return {f.name: f.family for f in load_catalog().features}
    except Exception:  # a catalog that cannot be read only loses the watch-only grouping
        return {}


def monitor_store(store_url: str, tables: Tables, *, references: dict[str, dict] | None = None,
                  config: MonitorConfig | None = None, runs: list[str] | None = None,
                  recompute: bool = False, store_schema: str | None = None) -> list[RunMonitor]:
    """Monitor every finished run of the store that the export covers.

    Args:
        tables: the newest export (validated).
        references: training references by model sha256 (`model.reference_`); a run whose
            model has none gets no drift, only performance.
        runs: only these run ids (default: all).
        recompute: rebuild drift and estimates even where a previous call stored them.
    Returns:
        One `RunMonitor` per run, oldest as-of first.
    """
    cfg = config or load_monitor_config()
    references = references or {}
    families = _families()
    store = open_store(store_url, schema=store_schema)
    try:
        todo = [r for r in store.list_runs() if r.status == "finished" and r.as_of <= tables.extracted_on
                and (runs is None or r.run_id in runs)]
        todo.sort(key=lambda r: (r.as_of, r.run_id))
        previous = {r["run_id"]: r["payload"] for r in read_results(store_url)} if not recompute else {}
        out = []
        for run in todo:
            out.append(_monitor_run(store, store_url, run, tables, references.get(run.model_sha256),
                                    previous.get(run.run_id), cfg, families))
        return out
    finally:
        store.dispose()


def _monitor_run(store: ScoreStore, store_url: str, run, tables: Tables, reference: dict | None,
                 previous: dict | None, cfg: MonitorConfig, families: dict[str, str]) -> RunMonitor:
    scores = store.read_scores(run.run_id)
    cols = ["participant_id", "district", "commune", "status", "risk", "due_on"]
    scores = scores[cols]
    counts = backfill_outcomes(store_url, run.run_id, outcomes_for(scores, tables), tables.extracted_on)
    known = read_outcomes(store_url, run.run_id)
    reuse = previous is not None and previous.get("version") == PAYLOAD_VERSION
    estimated = previous["estimated"] if reuse else _estimates(scores, cfg)
    if reuse and (previous.get("drift") is not None or reference is None):
        drift = previous.get("drift")
    else:
        drift = _drift(tables, scores, run.as_of, reference) if reference is not None else None
    realised = _realised(scores, known, tables, cfg)
    realised_by_district = None
    if realised is not None:
        realised_by_district = realised["by"].get("district")
    alerts = run_alerts(drift=drift, estimated=estimated["overall"], realised=realised, reference=reference,
                        cfg=cfg, families=families)
    payload = {
        "version": PAYLOAD_VERSION, "as_of": str(run.as_of.date()), "window_days": run.window_days,
        "estimated": estimated, "realised": realised, "realised_by_district": realised_by_district,
        "drift": drift, "reference": _reference_summary(reference), "families": families if drift else {},
        "by_district_alerts": _district_alerts(estimated, realised, reference, cfg),
    }
    save_result(store_url, run, tables.extracted_on, len(scores), len(known), alerts, payload)
    return RunMonitor(run.run_id, run.as_of, len(scores), len(known), counts["added"], alerts, payload)


def _district_alerts(estimated: dict, realised: dict | None, reference: dict | None, cfg: MonitorConfig) -> dict:
    """Per district, the performance alerts (drift is a property of the model's inputs as a
    whole and is shown to every district)."""
    out = {}
    rb = (realised or {}).get("by", {}).get("district", {})
    for district, est in estimated.get("by_district", {}).items():
        r = rb.get(district)
        alerts = run_alerts(drift=None, estimated=est, realised=r, reference=reference, cfg=cfg)
        out[district] = [a["kind"] for a in alerts]
    return out


def _reference_summary(reference: dict | None) -> dict | None:
    if reference is None:
        return None
    return {"period": reference.get("period"), "rows": reference.get("rows"),
            "performance": reference.get("performance"), "expected_lapse_rate": reference.get("expected_lapse_rate")}
