"""Two training runs side by side: metrics, parameters, features, data, calibration.

A run is its folder as `dropout train` writes it (metrics.json, config.yaml, folds.json,
tuning.json, gate.json, predictions.parquet and model/). `compare_runs(a, b)` reads both
and returns the tables; `render_comparison` draws them as one self-contained HTML page
with plots.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dropout.errors import InputError

METRICS = ("auc", "pr_auc", "brier", "ece")


@dataclass
class RunSide:
    """What one run folder holds."""

    label: str
    folder: Path
    metrics: dict
    config: dict
    metadata: dict
    features: list[str]
    calibration: dict
    predictions: pd.DataFrame | None


def read_run(folder: str | Path, label: str | None = None) -> RunSide:
    """A run folder of `dropout train` (it holds metrics.json and model/)."""
    folder = Path(folder)
    if not (folder / "metrics.json").exists() or not (folder / "model").is_dir():
        raise InputError(f"{folder}: not a training run folder (no metrics.json and model/)")

    def js(path: Path) -> dict:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    cfg = yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")) if (folder / "config.yaml").exists() else {}
    preds = folder / "predictions.parquet"
    return RunSide(
        label=label or folder.name, folder=folder, metrics=js(folder / "metrics.json"), config=cfg or {},
        metadata=js(folder / "model" / "metadata.json"), features=js(folder / "model" / "features.json").get("features", []),
        calibration=js(folder / "model" / "calibration.json"),
        predictions=pd.read_parquet(preds) if preds.exists() else None,
    )


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def compare_runs(a: RunSide, b: RunSide) -> dict[str, pd.DataFrame]:
    """Tables: metrics (pooled test blocks, per contender), folds (model AUC per fold),
    parameters that differ, features added/removed, data, calibration."""
    rows = []
    for side in (a, b):
        for contender, m in side.metrics.get("test", {}).items():
            rows.append({"run": side.label, "contender": contender, **{k: m.get(k) for k in METRICS}})
    metrics = pd.DataFrame(rows)
    if not metrics.empty:
        metrics = metrics.pivot(index="contender", columns="run", values=list(METRICS))
        metrics.columns = [f"{m} {run}" for m, run in metrics.columns]
        metrics = metrics.reset_index()
    fold_rows = []
    for side in (a, b):
        for fold, by in side.metrics.get("folds", {}).items():
            if "model" in by:
                fold_rows.append({"fold": fold, "run": side.label, "auc": by["model"].get("auc"),
                                  "pr_auc": by["model"].get("pr_auc")})
    folds = pd.DataFrame(fold_rows)
    if not folds.empty:
        folds = folds.pivot(index="fold", columns="run", values=["auc", "pr_auc"])
        folds.columns = [f"model {m} {run}" for m, run in folds.columns]
        folds = folds.reset_index()
    pa = _flat({"params": a.metadata.get("params", {}), "linear_weight": a.metadata.get("linear_weight"),
                "config": {k: v for k, v in a.config.items() if k not in ("name",)}})
    pb = _flat({"params": b.metadata.get("params", {}), "linear_weight": b.metadata.get("linear_weight"),
                "config": {k: v for k, v in b.config.items() if k not in ("name",)}})
    params = pd.DataFrame([{"parameter": k, a.label: pa.get(k), b.label: pb.get(k)}
                           for k in sorted(set(pa) | set(pb)) if str(pa.get(k)) != str(pb.get(k))])
    fa, fb = set(a.features), set(b.features)
    features = pd.DataFrame(
        [{"feature": f, "in": a.label} for f in sorted(fa - fb)] + [{"feature": f, "in": b.label} for f in sorted(fb - fa)])
    data = pd.DataFrame([
        {"fact": k, a.label: a.metadata.get(k), b.label: b.metadata.get(k)}
        for k in ("data_fingerprint", "scope", "target", "horizon_days", "trained_from_as_of", "trained_through_as_of",
                  "extracted_on", "n_train", "n_validation", "best_iteration", "code_version")
    ])
    calibration = pd.DataFrame([{"run": s.label, **{k: (v if not isinstance(v, list) else f"{len(v)} breakpoints")
                                                      for k, v in s.calibration.items()}} for s in (a, b)])
    return {"metrics": metrics, "folds": folds, "parameters": params, "features": features, "data": data,
            "calibration": calibration}


def _reliability(pred: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    b = np.minimum((pred["p_model"].clip(0, 1) * bins).astype(int), bins - 1)
    return pred.assign(bin=b).groupby("bin").agg(mean_pred=("p_model", "mean"), observed=("label", "mean")).reset_index()


def render_comparison(a: RunSide, b: RunSide, tables: dict[str, pd.DataFrame]) -> str:
    """One self-contained HTML page: the tables and plots of metrics, folds and calibration."""
    import html as html_lib

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dropout.evaluate.plots import to_base64

    figs = {}
    fig, axes = plt.subplots(1, len(METRICS), figsize=(13, 3.4))
    for ax, m in zip(axes, METRICS):
        va = {c: v.get(m) for c, v in a.metrics.get("test", {}).items()}
        vb = {c: v.get(m) for c, v in b.metrics.get("test", {}).items()}
        names = [c for c in va if c in vb]
        x = np.arange(len(names))
        ax.bar(x - 0.2, [va[c] for c in names], 0.4, label=a.label, color="#1b6ca8")
        ax.bar(x + 0.2, [vb[c] for c in names], 0.4, label=b.label, color="#e07b39")
        ax.set_xticks(x, names, rotation=45, ha="right", fontsize=7)
        ax.set_title(m)
    axes[0].legend(fontsize=7)
    figs["metrics"] = to_base64(fig)
    if a.predictions is not None and b.predictions is not None:
        fig, ax = plt.subplots(figsize=(5, 4.4))
        ax.plot([0, 1], [0, 1], c="#cccccc", lw=1)
        for side, colour, style in ((a, "#1b6ca8", "-"), (b, "#e07b39", "--")):
            r = _reliability(side.predictions)
            ax.plot(r["mean_pred"], r["observed"], ls=style, marker="o", c=colour, label=side.label)
        ax.set(xlabel="predicted", ylabel="observed", title="calibration of the model (test blocks)")
        ax.legend(fontsize=8)
        figs["calibration"] = to_base64(fig)

    def table(df: pd.DataFrame) -> str:
        if df is None or df.empty:
            return "<p>(no difference)</p>"
        return df.to_html(index=False, float_format=lambda v: f"{v:.4f}", na_rep="–", border=0)

    parts = [f"<h1>{html_lib.escape(a.label)} vs {html_lib.escape(b.label)}</h1>",
             f'<img alt="metrics" src="data:image/png;base64,{figs["metrics"]}">']
    for name in ("metrics", "folds", "data", "parameters", "features", "calibration"):
        parts.append(f"<h2>{name}</h2>{table(tables[name])}")
        if name == "calibration" and "calibration" in figs:
            parts.append(f'<img alt="calibration" src="data:image/png;base64,{figs["calibration"]}">')
    style = ("body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem}"
             "table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ddd;padding:.2rem .5rem}"
             "img{max-width:100%}")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>run comparison</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
