"""The what-if's outputs: a self-contained HTML report with plots, CSV tables and whatif.json.

The report records the policy files (path and sha256), the model (name, version,
sha256, target and horizon) and the code version, so a decision can be traced to what
produced its numbers. Only totals by group leave the run: no person's row is written.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from dropout.io import write_csv, write_json, write_text
from dropout.provenance import code_version
from dropout.whatif.core import CURRENT, DIMENSIONS, WhatIf

TEMPLATE_DIR = Path(__file__).parent / "templates"
COLUMNS = {  # column -> (English, Vietnamese)
    "people": ("people due in the horizon", "số người đến hạn"),
    "people_support_changed": ("support changed for", "số người thay đổi mức hỗ trợ"),
    "expected_lapses_current": ("expected lapses now", "số dừng đóng dự kiến hiện nay"),
    "expected_lapses": ("expected lapses", "số dừng đóng dự kiến"),
    "lapses_change": ("change in lapses", "thay đổi số dừng đóng"),
    "contributors_kept": ("contributors kept", "số người giữ được"),
    "contribution_months_kept": ("contribution-months kept", "số tháng đóng giữ được"),
    "budget_cost_vnd_year": ("budget cost, VND/year", "chi ngân sách thêm, đồng/năm"),
    "cost_per_kept_vnd": ("cost per participant kept, VND", "chi phí cho mỗi người giữ được, đồng"),
}


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _num(v, digits: int = 1) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "–"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def _rows(df: pd.DataFrame, first: list[str]) -> dict:
    cols = first + [c for c in COLUMNS if c in df.columns]
    head = [c if c in first else f"{COLUMNS[c][0]} / {COLUMNS[c][1]}" for c in cols]
    body = [[str(r[c]) if c in first else _num(r[c]) for c in cols] for _, r in df.iterrows()]
    return {"head": head, "rows": body}


def kept_vs_cost_plot(summary: pd.DataFrame) -> str:
    from dropout.evaluate.plots import plt, to_base64

    s = summary[summary["policy"] != CURRENT]
    fig, ax = plt.subplots(figsize=(6.2, 4.4))
    ax.axhline(0, c="#bbbbbb", lw=1)
    ax.axvline(0, c="#bbbbbb", lw=1)
    ax.scatter(s["budget_cost_vnd_year"] / 1e9, s["contributors_kept"], s=60, c="#1b6ca8")
    for r in s.itertuples(index=False):
        ax.annotate(str(r.policy), (r.budget_cost_vnd_year / 1e9, r.contributors_kept), fontsize=8,
                    xytext=(5, 4), textcoords="offset points")
    ax.set(xlabel="budget cost, billion VND per year / chi thêm, tỷ đồng/năm",
           ylabel="contributors kept / số người giữ được", title="Kept vs cost per policy / Giữ được và chi phí")
    return to_base64(fig)


def district_bar_plot(by_district: pd.DataFrame) -> str:
    from dropout.evaluate.plots import plt, to_base64

    d = by_district[by_district["policy"] != CURRENT]
    table = d.pivot_table(index="district", columns="policy", values="contributors_kept", sort=False).fillna(0.0)
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(table) + 1.6))
    n = max(1, table.shape[1])
    height = 0.8 / n
    y = np.arange(len(table))
    for i, policy in enumerate(table.columns):
        ax.barh(y + i * height, table[policy].to_numpy(), height=height, label=str(policy))
    ax.set_yticks(y + height * (n - 1) / 2, [str(x) for x in table.index])
    ax.axvline(0, c="#888888", lw=1)
    ax.invert_yaxis()
    ax.set(xlabel="contributors kept / số người giữ được", title="By district / Theo huyện")
    ax.legend(fontsize=8)
    return to_base64(fig)


def render_report(result: WhatIf, provenance: dict) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    policies = [{"name": p.name, "source": p.source, "rows": p.describe()} for p in result.policies]
    tables = {dim: _rows(result.by[dim][result.by[dim]["policy"] != CURRENT], ["policy", dim]) for dim in DIMENSIONS}
    oor = result.out_of_range
    oor_rows = [[r.policy, r.feature, _num(r.train_min, 3), _num(r.train_max, 3), _num(r.min, 3), _num(r.max, 3),
                 f"{r.people_outside:,}"] for r in oor.itertuples(index=False)]
    return env.get_template("report.html.j2").render(
        title=f"Subsidy what-if / Mô phỏng chính sách hỗ trợ: as of {result.as_of.date()}, "
              f"{result.horizon_months} months",
        provenance=provenance, policies=policies, notes=result.notes,
        summary=_rows(result.summary[result.summary["policy"] != CURRENT], ["policy"]),
        tables=tables, dims=DIMENSIONS, monotone=result.monotone, oor=oor_rows,
        oor_district=result.out_of_range_by_district.to_dict("records"),
        kept_vs_cost=kept_vs_cost_plot(result.summary), by_district=district_bar_plot(result.by["district"]),
    )


def provenance_of(result: WhatIf, policy_files: list[str | Path], model_ref=None, data_dir=None) -> dict:
    """What produced the numbers: policy files with their sha256, the model, the code."""
    model = getattr(model_ref, "model", None)
    meta = getattr(model, "metadata", {}) or {}
    return {
        "as_of": str(result.as_of.date()),
        "horizon_months": result.horizon_months,
        "horizon_days": result.horizon_days,
        "data": str(data_dir) if data_dir is not None else None,
        "policy_files": [{"path": str(p), "sha256": file_sha256(p)} for p in policy_files],
        "model": {"name": getattr(model_ref, "name", None), "version": getattr(model_ref, "version", None),
                  "sha256": getattr(model_ref, "sha256", None), "source": getattr(model_ref, "source", None),
                  "target": meta.get("target"), "horizon_days": meta.get("horizon_days")},
        "code_version": code_version(),
    }


def province_plots(result: WhatIf, out: Path) -> dict[str, dict[str, str]]:
    """Per province, kept-vs-cost and by-district plots as PNG files (for the province's page)."""
    import base64

    from dropout.io import atomic_path

    plots = {}
    by_province, by_district = result.by["province"], result.by["district"]
    district_province = result.people.drop_duplicates("district").set_index("district")["province"]
    for i, province in enumerate(sorted(by_province["province"].unique())):
        rows = by_province[by_province["province"] == province]
        districts = district_province[district_province == province].index
        pictures = {"kept_vs_cost": kept_vs_cost_plot(rows),
                    "by_district": district_bar_plot(by_district[by_district["district"].isin(districts)])}
        plots[str(province)] = {}
        for kind, b64 in pictures.items():
            rel = f"plots/province-{i}-{kind}.png"
            with atomic_path(out / rel) as tmp:
                Path(tmp).write_bytes(base64.b64decode(b64))
            plots[str(province)][kind] = rel
    return plots


def write_outputs(result: WhatIf, folder: str | Path, provenance: dict) -> dict[str, Path]:
    """report.html, whatif.json, summary.csv, by_<dimension>.csv, out_of_range.csv under `folder`."""
    out = Path(folder)
    files = {"report": write_text(render_report(result, provenance), out / "report.html"),
             "summary": write_csv(result.summary, out / "summary.csv")}
    for dim in DIMENSIONS:
        files[f"by_{dim}"] = write_csv(result.by[dim], out / f"by_{dim}.csv")
    files["out_of_range"] = write_csv(result.out_of_range, out / "out_of_range.csv")
    plots = province_plots(result, out)
    districts = result.people.drop_duplicates("district").groupby("province")["district"].apply(sorted)
    payload = {**provenance, "plots": plots, "districts": {str(k): list(map(str, v)) for k, v in districts.items()}, "policies": [{"name": p.name, "rows": p.describe()} for p in result.policies],
               "monotone": result.monotone, "notes": result.notes,
               "summary": result.summary.replace({np.nan: None}).to_dict("records")}
    files["json"] = write_json(payload, out / "whatif.json")
    return files
