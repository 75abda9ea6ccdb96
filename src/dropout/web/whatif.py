"""The provincial office's page: the newest subsidy what-if (`dropout whatif`) of its province.

A `province` account (dropout users add --role province --province ...) lands here; it
sees totals by policy and by district of its own province, never a person. The page
reads the run folders under `WebSettings.whatif_dir` (whatif.json, by_province.csv,
by_district.csv and the plots written beside them).
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from dropout.web.accounts import User
from dropout.web.auth import login_required
from dropout.web.i18n import messages
from dropout.web.render import render
from dropout.web.session import ctx, language

log = logging.getLogger("dropout.web")

COLUMNS = ("people", "people_support_changed", "lapses_change", "contributors_kept", "contribution_months_kept",
           "budget_cost_vnd_year", "cost_per_kept_vnd")


def _num(v) -> str:
    if v is None or pd.isna(v):
        return "–"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.1f}"


def latest_run(folder: Path, province: str) -> dict | None:
    """The newest run under `folder` that covers `province`, read for the page (totals only)."""
    if folder is None or not Path(folder).is_dir():
        return None
    runs = sorted(Path(folder).glob("*/whatif.json"), key=lambda p: p.parent.name, reverse=True)
    for path in runs:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if province not in meta.get("plots", {}):
            continue
        run = path.parent
        prov = pd.read_csv(run / "by_province.csv")
        prov = prov[(prov["province"] == province) & (prov["policy"] != "current")]
        dist = pd.read_csv(run / "by_district.csv")
        dist = dist[dist["district"].isin(meta.get("districts", {}).get(province, [])) & (dist["policy"] != "current")]
        oor = pd.read_csv(run / "out_of_range.csv")
        now = oor[oor["policy"] == "current"].set_index("feature")["people_outside"]
        worse = [{"policy": r.policy, "n": int(r.people_outside - now.get(r.feature, 0))}
                 for r in oor[oor["policy"] != "current"].itertuples(index=False)
                 if r.people_outside > now.get(r.feature, 0)]
        moved = {}
        for w in worse:  # the largest count per policy
            moved[w["policy"]] = max(moved.get(w["policy"], 0), w["n"])
        images = {k: base64.b64encode((run / rel).read_bytes()).decode("ascii")
                  for k, rel in meta["plots"][province].items()}
        model = meta.get("model") or {}
        return {
            "as_of": meta.get("as_of"), "months": meta.get("horizon_months"),
            "model": f"{model.get('name') or ''} {model.get('version') or ''} ({(model.get('sha256') or '')[:12]})",
            "policies": meta.get("policies", []), "monotone": meta.get("monotone", {}),
            "summary": [{"policy": r["policy"], **{c: _num(r[c]) for c in COLUMNS}} for _, r in prov.iterrows()],
            "districts": [{"policy": r["policy"], "district": r["district"], **{c: _num(r[c]) for c in COLUMNS}}
                          for _, r in dist.iterrows()],
            "outside": [{"policy": p, "n": n} for p, n in moved.items()],
            "images": images,
        }
    return None


@login_required
async def province_whatif(request: Request, user: User) -> Response:
    province = request.path_params["province"]
    if not user.may_see_province(province):
        log.warning("access refused: province outside the account's scope")
        raise HTTPException(status_code=403)
    run = await run_in_threadpool(latest_run, ctx(request).settings.whatif_dir, province)
    return render(request, "whatif.html", province=province, run=run, w=messages("whatif_", language(request)),
                  columns=COLUMNS)
