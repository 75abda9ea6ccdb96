"""What the monitoring page and the alert banner show of the store's monitoring results.

Kept apart from the page handler so that rendering (the banner is on every page) does
not import the handlers.
"""

from __future__ import annotations

import logging
import math
import time

from starlette.requests import Request

from dropout.web.i18n import translate
from dropout.web.session import ctx, language

log = logging.getLogger("dropout.web")
CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, list[dict]]] = {}


def tr(key: str, lang: str, **values) -> str:
    """A text of the monitoring page or banner (`monitor_<key>` of the shared messages)."""
    return translate(f"monitor_{key}", lang, **values)


def _results(store_url: str) -> list[dict]:
    """The store's monitoring results, cached for a few seconds (pages poll often)."""
    now = time.monotonic()
    hit = _cache.get(store_url)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]
    from dropout.store.monitoring import read_results

    try:
        results = read_results(store_url)
    except Exception as exc:  # a store without monitoring yet, or unreachable: pages still work
        log.warning("monitoring results unavailable (%s)", type(exc).__name__)
        results = []
    _cache[store_url] = (now, results)
    return results


def _num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def district_rows(results: list[dict], district: str) -> list[dict]:
    """One row per run that scored people of `district`: that district's numbers only."""
    rows = []
    for r in results:
        p = r["payload"]
        est = (p["estimated"].get("by_district") or {}).get(district)
        if est is None:
            continue
        real = ((p.get("realised") or {}).get("by") or {}).get("district", {}).get(district)
        kinds = (p.get("by_district_alerts") or {}).get(district, [])
        drift_kinds = [a["kind"] for a in r["alerts"] if a["kind"] in ("feature_drift", "prediction_drift")]
        alerts = [a for a in r["alerts"] if a["kind"] in kinds or a["kind"] in drift_kinds]
        rows.append({
            "as_of": r["as_of"], "n": int(round(est["lapses"]["value"] / est["lapse_rate"]["value"]))
            if est["lapse_rate"]["value"] else None,
            "expected": f"{est['lapses']['value']:.0f} ({est['lapses']['low']:.0f}–{est['lapses']['high']:.0f})",
            "realised": _num(real["lapses"], 0) if real else None,
            "est_auc": f"{est['auc']['value']:.2f} ({est['auc']['low']:.2f}–{est['auc']['high']:.2f})",
            "real_auc": _num(real["auc"], 2) if real else None,
            "alerts": alerts, "drift": bool(drift_kinds),
        })
    return rows


def banner(request: Request, district: str | None) -> dict | None:
    """The alert of the newest monitored run, for the banner of a district's pages."""
    if not district:
        return None
    try:
        store_url = ctx(request).settings.store_url
    except AttributeError:
        return None
    rows = district_rows(_results(store_url), district)
    if not rows or not rows[-1]["alerts"]:
        return None
    lang = language(request)
    a = rows[-1]["alerts"][0]
    return {"text": tr("banner", lang, as_of=rows[-1]["as_of"], message=a[f"message_{lang}"],
                       action=a[f"action_{lang}"]), "link": tr("link", lang)}
