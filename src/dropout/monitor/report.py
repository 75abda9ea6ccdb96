"""The HTML monitoring report: one self-contained page (plots as base64 PNG).

Performance over runs (estimated with its interval, realised once outcomes are in),
the calibration of the runs with outcomes (reliability curve), a drift heat map (PSI of
every feature by run), the alerts, and the realised metrics by group for the latest
run with outcomes. Both languages on the page (headings in Vietnamese and English).
"""

from __future__ import annotations

import math
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from dropout.evaluate.plots import plt, to_base64
from dropout.io import write_text

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _num(x) -> float:
    return float("nan") if x is None else float(x)


def _performance_plot(results: list[dict]) -> str:
    as_of = [pd.Timestamp(r["as_of"]) for r in results]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, metric, label in ((a1, "auc", "AUC"), (a2, "lapses", "lapses / ngừng đóng")):
        est = [r["payload"]["estimated"]["overall"][metric] for r in results]
        ax.fill_between(as_of, [e["low"] for e in est], [e["high"] for e in est], color="#1b6ca8", alpha=0.18,
                        label="estimated 90 % / ước tính")
        ax.plot(as_of, [e["value"] for e in est], c="#1b6ca8", marker="o", ms=3, label="estimated")
        real = [_num((r["payload"].get("realised") or {}).get(metric)) for r in results]
        ax.plot(as_of, real, c="#b0413e", marker="s", ms=3, ls="--", label="realised / thực tế")
        alerts = [t for t, r in zip(as_of, results) if r["alerts"]]
        for t in alerts:
            ax.axvline(t, c="#d4a017", alpha=0.5, lw=1)
        ax.set(title=label, xlabel="as-of")
        ax.tick_params(axis="x", labelrotation=45)
    a1.legend(fontsize=7)
    return to_base64(fig)


def _calibration_plot(results: list[dict]) -> str | None:
    with_outcomes = [r for r in results if (r["payload"].get("realised") or {}).get("calibration")]
    if not with_outcomes:
        return None
    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    ax.plot([0, 1], [0, 1], ls="--", c="#bbbbbb", lw=1)
    n, pred, obs = np.zeros(10), np.zeros(10), np.zeros(10)
    for r in with_outcomes:
        c = r["payload"]["realised"]["calibration"]
        for b, k, mp, o in zip(c["bin"], c["n"], c["mean_pred"], c["observed"]):
            n[b] += k
            pred[b] += k * mp
            obs[b] += k * o
    keep = n > 0
    ax.plot(pred[keep] / n[keep], obs[keep] / n[keep], marker="o", c="#1b6ca8")
    ax.set(xlabel="mean predicted / dự báo", ylabel="observed / thực tế",
           title=f"Calibration, {len(with_outcomes)} runs with outcomes", xlim=(0, 1), ylim=(0, 1))
    return to_base64(fig)


def _drift_heatmap(results: list[dict], top: int = 30) -> str | None:
    """PSI of each feature and run relative to that feature's alert threshold (1 = the
    threshold; watch-only features marked), the features that came closest first."""
    from dropout.monitor.alerts import thresholds
    from dropout.monitor.config import load_monitor_config

    cfg = load_monitor_config()
    watch = set(cfg.drift.watch_only_features)
    cols, families = {}, {}
    for r in results:
        drift = r["payload"].get("drift")
        if not drift:
            continue
        families.update(r["payload"].get("families") or {})
        cols[r["as_of"]] = {k: v["psi"] / thresholds(v.get("natural_psi"), v.get("natural_distance"), cfg)[0]
                            for k, v in drift["features"].items()}
    if not cols:
        return None
    df = pd.DataFrame(cols)
    df = df.loc[df.max(axis=1).sort_values(ascending=False).index[:top]]
    labels = [f"{n} (watch)" if n in watch or families.get(n) in cfg.drift.watch_only_families else n
              for n in df.index]
    fig, ax = plt.subplots(figsize=(min(14, 2 + 0.45 * df.shape[1]), 0.28 * len(df) + 1.5))
    im = ax.imshow(np.clip(df.to_numpy(np.float64), 0, 2), aspect="auto", cmap="YlOrRd", vmin=0, vmax=2)
    ax.set_yticks(range(len(df)), labels, fontsize=7)
    ax.set_xticks(range(df.shape[1]), [str(c)[:7] for c in df.columns], fontsize=7, rotation=60)
    ax.set_title("PSI / its alert threshold, by feature and run (1 = threshold; clipped at 2)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    return to_base64(fig)


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def render_monitor_report(results: list[dict], title: str, model: str = "") -> str:
    """The report's HTML of the stored monitoring results (`store.monitoring.read_results`)."""
    rows = []
    for r in results:
        est = r["payload"]["estimated"]["overall"]
        real = r["payload"].get("realised") or {}
        rows.append({
            "as_of": r["as_of"], "n": r["n_scored"], "known": r["n_outcomes"],
            "est_auc": f"{est['auc']['value']:.3f} ({est['auc']['low']:.3f}–{est['auc']['high']:.3f})",
            "real_auc": _fmt(real.get("auc")),
            "est_lapses": f"{est['lapses']['value']:.0f} ({est['lapses']['low']:.0f}–{est['lapses']['high']:.0f})",
            "real_lapses": _fmt(real.get("lapses"), 0), "brier": _fmt(real.get("brier")), "ece": _fmt(real.get("ece")),
            "precision": _fmt(real.get("precision_at_capacity")), "recall": _fmt(real.get("recall_at_capacity")),
            "pred_psi": _fmt(((r["payload"].get("drift") or {}).get("prediction") or {}).get("psi")),
            "status": r["status"], "alerts": r["alerts"],
        })
    latest = next((r for r in reversed(results) if (r["payload"].get("realised") or {}).get("by")), None)
    groups = {}
    if latest is not None:
        for g, values in latest["payload"]["realised"]["by"].items():
            groups[g] = [{"value": k, "n": int(v["n"]), "lapses": _fmt(v["lapses"], 0),
                          "expected": _fmt(v["expected_lapses"], 1), "auc": _fmt(v["auc"]),
                          "brier": _fmt(v["brier"]), "ece": _fmt(v["ece"])} for k, v in values.items()]
    ref = next((r["payload"].get("reference") for r in reversed(results) if r["payload"].get("reference")), None)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    return env.get_template("monitor.html.j2").render(
        title=title, model=model, rows=rows, groups=groups, latest=latest, reference=ref,
        performance=_performance_plot(results) if results else None,
        calibration=_calibration_plot(results), heatmap=_drift_heatmap(results),
    )


def write_monitor_report(path: str | Path, html: str) -> Path:
    return write_text(html, path)
