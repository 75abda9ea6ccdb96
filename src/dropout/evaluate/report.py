"""One self-contained HTML report of a backtest (Jinja2 template, plots as base64 PNG).

Opens with the must-show checks (model vs every baseline in every fold, AUC as a
fraction of the oracle's, ECE), then the baseline comparison, the plots, per-group
tables and the fold definitions. No external file, script or font is referenced.
"""

from __future__ import annotations

import math
from pathlib import Path

import jinja2
import pandas as pd

from dropout.evaluate import plots
from dropout.io import write_text

TEMPLATE_DIR = Path(__file__).parent / "templates"
TABLE_METRICS = ["auc", "pr_auc", "brier", "ece", "precision_at_10pct", "recall_at_10pct", "lift_at_10pct"]


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4f}"
    return str(v)


def _table(df: pd.DataFrame, index_name: str | None = None) -> dict:
    df = df.reset_index()
    if index_name:
        df = df.rename(columns={"index": index_name})
    return {"columns": [str(c) for c in df.columns], "rows": [[_fmt(v) for v in r] for r in df.itertuples(index=False)]}


def render_report(
    result,
    *,
    title: str,
    summary: dict,
    importance: pd.Series | None = None,
    families: dict[str, str] | None = None,
    ks=(5, 10, 20),
    n_bins: int = 10,
    gate: dict | None = None,
    hyperparameters: dict | None = None,
) -> str:
    """The report as an HTML string.

    Args:
        result: a train.backtest.BacktestResult.
        summary: key facts shown at the top (data, target, horizon, rows, run id...).
        importance: gain per feature of the shipped model; families: feature -> family.
    """
    pred, contenders = result.predictions, result.contenders
    prob_contenders = [c for c in contenders if c in ("model", "champion", "logistic", "oracle")]
    metrics = [m for m in TABLE_METRICS if m in result.overall_metrics.columns]
    checks = result.checks
    lost = [k for k, ok in checks.get("beats_auc_detail", {}).items() if not ok]
    headline = [
        {
            "check": "LightGBM beats every baseline on AUC in every fold",
            "value": (f"{len(checks['beats_auc_detail']) - len(lost)} of {len(checks['beats_auc_detail'])} comparisons"
                      + (f"; lost: {', '.join(lost)}" if lost else "")) if "beats_auc_detail" in checks else "",
            "ok": checks.get("beats_every_baseline_every_fold_auc"),
        },
        {
            "check": "... and on PR-AUC too",
            "value": f"{sum(checks['beats_detail'].values())} of {len(checks['beats_detail'])} comparisons",
            "ok": checks["beats_every_baseline_every_fold"],
        },
        {
            "check": f"ECE on the test blocks <= {checks['ece_target']}",
            "value": f"{checks['test_ece']:.4f}",
            "ok": checks["ece_ok"],
        },
    ]
    if "auc_fraction_of_oracle" in checks:
        headline.insert(1, {
            "check": f"AUC >= {checks['oracle_fraction_target']} x oracle AUC (test blocks)",
            "value": f"{checks['model_auc_on_oracle_rows']:.4f} / {checks['oracle_auc']:.4f} = {checks['auc_fraction_of_oracle']:.3f}",
            "ok": checks["oracle_ok"],
        })
        headline.append({
            "check": "PR-AUC as a fraction of the oracle's",
            "value": f"{checks['pr_auc_fraction_of_oracle']:.3f}",
            "ok": None,
        })
    if "mean_fold_auc" in checks:
        headline.append({
            "check": "AUC pooled over the test blocks / mean of the folds' AUCs (pooled below every fold: the level drifts)",
            "value": f"{checks['pooled_auc']['model']:.4f} / {checks['mean_fold_auc']['model']:.4f}"
                     + (" (level drifts)" if checks.get("level_drift") else ""),
            "ok": not checks.get("level_drift", False),
        })
    if "recall_ratio_minority_kinh" in checks:
        rec = checks["recall_at_capacity"]
        headline.append({
            "check": "Recall at the visit capacity, ethnic minority / Kinh members (>= 0.9)",
            "value": f"{rec['minority']:.3f} / {rec['Kinh']:.3f} = {checks['recall_ratio_minority_kinh']:.3f}",
            "ok": checks["recall_ratio_minority_kinh"] >= 0.9,
        })
    if "paying_auc" in checks:
        pa = checks["paying_auc"]
        best_base = max((v for k, v in pa.items() if k in result.baselines and v == v), default=float("nan"))
        headline.append({
            "check": "AUC among members paying at as-of (not in arrears): model / best baseline"
                     + (" / oracle" if "oracle" in pa else ""),
            "value": f"{pa['model']:.4f} / {best_base:.4f}" + (f" / {pa['oracle']:.4f}" if "oracle" in pa else "")
                     + f" ({checks['paying_rows']:,} rows)",
            "ok": None,
        })
    folds_table = pd.DataFrame([f.as_dict() for f in result.folds]).set_index("index")
    fold_cmp = result.fold_metrics[["auc", "pr_auc", "brier", "ece", "precision_at_10pct"]
                                   if "precision_at_10pct" in result.fold_metrics else ["auc", "pr_auc", "brier", "ece"]]
    figures = {
        "calibration": plots.calibration_plot(pred, prob_contenders, n_bins),
        "gain_lift": plots.gain_lift_plot(pred, contenders),
        "precision_at_k": plots.precision_at_k_plot(result.overall_metrics, contenders, ks),
        "groups": plots.group_plot(result.group_metrics),
        "over_time": plots.over_time_plot(result.time_metrics, contenders, result.folds),
    }
    if importance is not None:
        figures["importance"] = plots.importance_plot(importance, families or {})
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html.j2").render(
        title=title,
        summary={k: _fmt(v) for k, v in summary.items()},
        headline=headline,
        overall=_table(result.overall_metrics[metrics]),
        fold_cmp=_table(fold_cmp),
        folds=_table(folds_table, "fold"),
        groups={k: _table(v) for k, v in result.group_metrics.items()},
        oracle_by_fold={f"fold{k}": f"{v:.3f}" for k, v in checks.get("auc_fraction_of_oracle_by_fold", {}).items()},
        figures=figures,
        gate=_gate_view(gate),
        hyperparameters={k: _fmt(v) for k, v in (hyperparameters or {}).items()},
    )


def _gate_view(gate: dict | None) -> dict | None:
    """The gate's comparisons as rows a template prints."""
    if gate is None:
        return None

    def num(v):
        return "–" if v is None else f"{v:.4f}"

    return {
        "metric": gate["metric"], "scope": gate.get("scope") or "", "champion": gate.get("champion_version"),
        "rows_used": gate.get("rows_used", ""),
        "rows": [[r["fold"], num(r["candidate"]), num(r["champion"]), r["result"]] for r in gate["folds"]]
                + [["mean over the folds", num(gate["candidate_mean"]), num(gate.get("champion_mean")), ""]],
        "decision": gate.get("decision") or "–", "reason": gate["reason"],
    }


def write_report(path: str | Path, html: str) -> Path:
    return write_text(html, path)
