"""Matplotlib figures of a backtest, returned as base64 PNG strings for the HTML report."""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dropout.evaluate.metrics import calibration_table, lift_curve  # noqa: E402

COLOURS = {
    "model": "#1b6ca8", "champion": "#7b4fa0", "logistic": "#e07b39", "recency_frequency": "#5a9e4b",
    "rule_last_missed": "#b0413e", "rule_late_last_4": "#d4a017", "oracle": "#555555", "bg_nbd": "#2a9d8f",
}


def _colour(name: str) -> str:
    return COLOURS.get(name, "#999999")


def to_base64(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def calibration_plot(pred: pd.DataFrame, contenders: list[str], n_bins: int = 10) -> str:
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], ls="--", c="#bbbbbb", lw=1, label="perfect")
    top = 0.0
    for c in contenders:
        rows = pred[f"p_{c}"].notna()
        t = calibration_table(pred.loc[rows, "label"], pred.loc[rows, f"p_{c}"], n_bins)
        ax.plot(t["mean_pred"], t["observed"], marker="o", ms=4, c=_colour(c), label=c)
        top = max(top, float(t["mean_pred"].max()), float(t["observed"].max()))
    lim = min(1.0, top * 1.1 + 0.02)
    ax.set(xlim=(0, lim), ylim=(0, lim), xlabel="mean predicted probability", ylabel="observed rate",
           title="Calibration (pooled test blocks)")
    ax.legend(fontsize=8)
    return to_base64(fig)


def gain_lift_plot(pred: pd.DataFrame, contenders: list[str]) -> str:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4.2))
    a1.plot([0, 1], [0, 1], ls="--", c="#bbbbbb", lw=1)
    for c in contenders:
        rows = pred[f"p_{c}"].notna()
        d = pred[rows]
        lc = lift_curve(d["label"], d[f"score_{c}"], d["as_of"], points=40)
        a1.plot(lc["fraction"], lc["gain"], c=_colour(c), label=c)
        a2.plot(lc["fraction"], lc["lift"], c=_colour(c), label=c)
    a1.set(xlabel="share of each as-of list visited", ylabel="share of lapses reached", title="Cumulative gain")
    a2.axhline(1, ls="--", c="#bbbbbb", lw=1)
    a2.set(xlabel="share of each as-of list visited", ylabel="lift over random", title="Lift")
    a1.legend(fontsize=8)
    return to_base64(fig)


def precision_at_k_plot(overall: pd.DataFrame, contenders: list[str], ks) -> str:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    width = 0.8 / max(len(contenders), 1)
    x = np.arange(len(ks))
    for i, c in enumerate(contenders):
        vals = [overall.loc[c, f"precision_at_{k:g}pct"] for k in ks]
        ax.bar(x + i * width, vals, width, color=_colour(c), label=c)
    ax.axhline(overall["base_rate"].iloc[0], ls="--", c="#bbbbbb", lw=1, label="base rate")
    ax.set_xticks(x + width * (len(contenders) - 1) / 2, [f"top {k:g} %" for k in ks])
    ax.set(ylabel="precision", title="Precision at capacity (per as-of list, pooled)")
    ax.legend(fontsize=8, ncol=2)
    return to_base64(fig)


def importance_plot(importance: pd.Series, families: dict[str, str], top: int = 20) -> str:
    imp = importance.head(top)[::-1]
    share = imp / max(importance.sum(), 1e-12)
    fam = [families.get(f, "") for f in imp.index]
    palette = dict(zip(sorted(set(families.values()) | {""}), plt.cm.tab10.colors))
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(imp) + 1.2))
    ax.barh(range(len(imp)), share.to_numpy(), color=[palette[f] for f in fam])
    ax.set_yticks(range(len(imp)), [f"{n}  ({f})" if f else n for n, f in zip(imp.index, fam)], fontsize=8)
    ax.set(xlabel="share of total gain", title=f"Feature importance, final model (top {len(imp)})")
    return to_base64(fig)


def group_plot(groups: dict[str, pd.DataFrame]) -> str:
    cols = list(groups)
    fig, axes = plt.subplots(2, len(cols), figsize=(3.4 * len(cols), 6), squeeze=False)
    for j, col in enumerate(cols):
        g = groups[col]
        names = [str(i) for i in g.index]
        x = np.arange(len(g))
        axes[0, j].bar(x - 0.2, g["auc"], 0.4, color="#1b6ca8", label="AUC")
        axes[0, j].bar(x + 0.2, g["precision"], 0.4, color="#e07b39", label="precision at capacity")
        axes[0, j].set_xticks(x, names, rotation=30, ha="right", fontsize=8)
        axes[0, j].set_ylim(0, 1)
        axes[0, j].set_title(col, fontsize=10)
        axes[1, j].bar(x - 0.2, g["base_rate"], 0.4, color="#777777", label="observed rate")
        axes[1, j].bar(x + 0.2, g["mean_pred"], 0.4, color="#5a9e4b", label="mean predicted")
        axes[1, j].set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    fig.suptitle("By group (model, pooled test blocks)", fontsize=11)
    fig.tight_layout()
    return to_base64(fig)


# Line styles per contender, so that a line drawn over another stays visible (the model
# over the champion it often equals: solid and thick under dashed and thin).
_STYLES = {"model": dict(lw=2.6, ls="-", zorder=3), "champion": dict(lw=1.4, ls="--", zorder=4, marker="x")}


def over_time_plot(time_metrics: pd.DataFrame, contenders: list[str], folds) -> str:
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.4))
    for c in contenders:
        d = time_metrics.xs(c, level="contender")
        style = {"lw": 1.2, "ls": "-", "marker": ".", "zorder": 2, **_STYLES.get(c, {})}
        a1.plot(d.index, d["auc"], c=_colour(c), label=c, **style)
        a2.plot(d.index, d["pr_auc"], c=_colour(c), label=c, **style)
    for f in folds:
        for ax in (a1, a2):
            ax.axvline(f.test_start, c="#dddddd", lw=1)
    a1.set(title="ROC-AUC by as-of date (test blocks)", ylabel="AUC")
    a2.set(title="PR-AUC by as-of date (test blocks)", ylabel="PR-AUC")
    for ax in (a1, a2):
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    # The legend sits below the plots, where it hides no line.
    handles, labels = a1.get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 8), fontsize=8, frameon=False)
    fig.subplots_adjust(bottom=0.3)
    return to_base64(fig)
