"""The officers' pages: district overview, commune list (+ Excel), participant, visit plan.

Every handler checks the district first (require_district), then reads through the
`WebData` interface; nothing here knows where the data comes from.
"""

from __future__ import annotations

import logging
import re
import tempfile
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dropout.excel import write_workbook
from dropout.store import visits as visit_store
from dropout.web.accounts import User
from dropout.web.auth import login_required, require_district
from dropout.web.render import render
from dropout.web.session import checked_form, ctx, language
from dropout.web.charts import commune_risk_chart, payment_timeline
from dropout.score.output import reason_text_columns
from dropout.web.data import filter_scores
from dropout.web.i18n import LABELS, RISK_BANDS
from dropout.web.urls import path_for

log = logging.getLogger("dropout.web")
DEADLINE_DAYS = 30
DISASTER_YEARS = 3


def _district(request: Request, user: User) -> str:
    district = request.path_params["district"]
    require_district(user, district)
    if district not in ctx(request).data.districts():
        raise HTTPException(status_code=404)
    return district


def _render(request: Request, template: str, status_code: int = 200, **context) -> Response:
    district = context.get("district")
    if district is not None and "freshness" not in context:
        context["freshness"] = freshness(ctx(request).data, district)
    return render(request, template, status_code=status_code, **context)


def next_deadline_after(day: pd.Timestamp) -> pd.Timestamp:
    """The first deadline after `day`: every deadline is a month's last day."""
    end = pd.Timestamp(day).to_period("M").to_timestamp(how="end").normalize()
    return end if end > pd.Timestamp(day) else (pd.Timestamp(day).to_period("M") + 1).to_timestamp(how="end").normalize()


def freshness(data, district: str) -> dict | None:
    """The scoring day, the payments' day (after `dropout refresh`) and whether a deadline
    has passed since scoring (the lists are then stale)."""
    run = data.latest_run(district)
    if run is None:
        return None
    deadline = next_deadline_after(run.as_of)
    return {"scored_on": run.as_of, "payments_as_of": getattr(data, "payments_as_of", None),
            "deadline": deadline, "stale": pd.Timestamp(date.today()) > deadline}


# ---------------------------------------------------------------- district overview


@login_required
async def overview(request: Request, user: User) -> Response:
    district = _district(request, user)
    data = ctx(request).data
    lang = language(request)
    scores = data.scores(district)
    communes = sorted(set(data.villages(district)["commune"]) | set(scores["commune"]))
    counts = (
        scores.groupby(["commune", "risk_band"]).size().unstack(fill_value=0)
        if len(scores) else pd.DataFrame()
    )
    expected = scores.groupby("commune")["risk"].sum() if len(scores) else pd.Series(dtype=float)
    rows = []
    for commune in communes:
        row = {"commune": commune, "url": path_for(request, "commune", district=district, commune=commune)}
        for band in RISK_BANDS:
            row[band] = int(counts.at[commune, band]) if commune in counts.index and band in counts.columns else 0
        row["due"] = sum(row[b] for b in RISK_BANDS)
        row["expected"] = float(expected.get(commune, 0.0))
        rows.append(row)
    chart_rows = sorted((r for r in rows if r["due"]), key=lambda r: (-r["high"], -r["due"], r["commune"]))
    day = data.reference_day(district)
    upcoming = scores[(scores["due_on"] >= day) & (scores["due_on"] <= day + pd.Timedelta(days=DEADLINE_DAYS))]
    deadlines = (
        upcoming.assign(is_high=upcoming["risk_band"].eq("high"))
        .groupby("due_on")
        .agg(people=("participant_id", "size"), high=("is_high", "sum"))
        .reset_index()
        .sort_values("due_on")
    )
    return _render(
        request, "overview.html",
        district=district,
        run=data.latest_run(district),
        rows=rows,
        chart=commune_risk_chart(chart_rows, lang),
        total_due=len(scores),
        total_high=int(scores["risk_band"].eq("high").sum()) if len(scores) else 0,
        total_expected=float(scores["risk"].sum()) if len(scores) else 0.0,
        deadlines=deadlines.to_dict("records"),
    )


# ---------------------------------------------------------------- commune list


def _commune_filters(request: Request, villages: list[str]) -> dict[str, str]:
    """The list's filters from the query string; unknown values are dropped, not trusted."""
    qp = request.query_params
    village = qp.get("village", "")
    band = qp.get("band", "")
    mode = qp.get("mode", "")
    return {
        "village": village if village in villages else "",
        "band": band if band in RISK_BANDS else "",
        "mode": mode if mode in LABELS["payment_mode"] else "",
    }


def _commune_rows(request: Request, user: User):
    district = _district(request, user)
    commune = request.path_params["commune"]
    data = ctx(request).data
    villages = data.villages(district)
    village_ids = sorted(villages.loc[villages["commune"] == commune, "village_id"])
    scores = data.scores(district)
    in_commune = scores[scores["commune"] == commune]
    if not village_ids and in_commune.empty:
        raise HTTPException(status_code=404)
    village_ids = sorted(set(village_ids) | set(in_commune["village_id"]))
    filters = _commune_filters(request, village_ids)
    rows = filter_scores(in_commune, filters["village"] or None, filters["band"] or None, filters["mode"] or None)
    return district, commune, village_ids, filters, rows.sort_values("rank_in_commune", kind="stable")


def commune_table(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Exactly the columns and values the commune list shows (the page and its Excel file).

    Column names are the ones dropout.excel knows, so the workbook gets bilingual headers.
    """
    reason_cols = reason_text_columns(lang)
    table = pd.DataFrame({
        "rank_in_commune": rows["rank_in_commune"].astype("int64"),
        "full_name": _text(rows, "full_name"),
        "phone": _text(rows, "phone"),
        "participant_id": rows["participant_id"].astype("int64"),
        "village": [n or v for n, v in zip(_text(rows, "village_name"), rows["village_id"].astype(str))],
        "address": _text(rows, "address"),
        "due_on": pd.to_datetime(rows["due_on"]),
        "net_amount": rows["net_amount"].round().astype("int64"),
        "risk": rows["risk"].astype(float).round(2),
        "risk_band": [LABELS["risk_band"].get(b, {}).get(lang, b) for b in rows["risk_band"]],
        "payment_mode": [LABELS["payment_mode"].get(m, {}).get(lang, m or "") for m in rows["payment_mode"]],
    })
    for c in reason_cols:
        table[c] = _text(rows, c)
    table[f"action_{lang}"] = _text(rows, f"action_{lang}")
    table["since_scoring"] = [since_scoring(r, lang) for r in rows.to_dict("records")]
    return table.reset_index(drop=True)


def _text(rows: pd.DataFrame, column: str) -> list[str]:
    """A text column with empty cells as "" (never 'nan' or 'None' on a page or in Excel)."""
    if column not in rows.columns:
        return [""] * len(rows)
    return ["" if v is None or (isinstance(v, float) and v != v) or v is pd.NA else str(v) for v in rows[column]]


def since_scoring(row: dict, lang: str) -> str:
    """'Paid on 12/07/2026', 'Visited on ...': what happened after the scoring day."""
    from dropout.web.i18n import format_date, label, translate

    parts = []
    for column, key in (("paid_on", "paid_on_since"), ("made_up_on", "made_up_on_since"),
                        ("visited_on", "visited_on_since")):
        value = row.get(column)
        if value is not None and not pd.isna(value):
            parts.append(translate(key, lang, day=format_date(value, lang)))
    outcome = row.get("visit_outcome")
    if outcome:
        text = label("visit_outcome", outcome, lang)
        if outcome == "promised" and row.get("promised_on") is not None and not pd.isna(row.get("promised_on")):
            text += f" ({format_date(row['promised_on'], lang)})"
        parts.append(text)
    return "; ".join(parts)


@login_required
async def commune(request: Request, user: User) -> Response:
    district, commune_name, village_ids, filters, rows = _commune_rows(request, user)
    lang = language(request)
    table = commune_table(rows, lang)
    table["band_code"] = rows["risk_band"].to_numpy()
    village_names = _village_names(request, district)
    return _render(
        request, "commune.html",
        district=district, commune=commune_name, villages=village_ids, filters=filters,
        village_names=village_names,
        rows=table.to_dict("records"), reason_cols=reason_text_columns(lang),
        bands=RISK_BANDS, modes=list(LABELS["payment_mode"]),
    )


def _village_names(request: Request, district: str) -> dict[str, str]:
    v = ctx(request).data.villages(district)
    if "village_name" not in v.columns:
        return {}
    return {str(k): str(n) for k, n in zip(v["village_id"], v["village_name"]) if isinstance(n, str) and n}


@login_required
async def call_list(request: Request, user: User) -> Response:
    """Who to call in a commune: not paid, not visited since scoring, highest risk first."""
    district, commune_name, _, _, rows = _commune_rows(request, user)
    lang = language(request)
    rows = rows[~rows["done"]] if "done" in rows.columns else rows
    table = commune_table(rows, lang)
    table["band_code"] = rows["risk_band"].to_numpy()
    table["tel"] = [re.sub(r"[^0-9+]", "", p) for p in table["phone"]]
    return _render(request, "calls.html", district=district, commune=commune_name, rows=table.to_dict("records"))


@login_required
async def arrears_list(request: Request, user: User) -> Response:
    """Members in arrears in a commune: months and amount to make up, the deadlines that matter."""
    district, commune_name, _, _, rows = _commune_rows(request, user)
    lang = language(request)
    rows = rows[rows["status"].astype(str) == "in_arrears"]
    rows = rows.sort_values(["arrears_months", "rank_in_commune"], ascending=[False, True], kind="stable")
    table = commune_table(rows, lang)
    for c in ("arrears_months", "arrears_vnd"):
        table[c] = rows[c].fillna(0).astype("int64").to_numpy() if c in rows.columns else 0
    since = pd.to_datetime(rows["arrears_since"]) if "arrears_since" in rows.columns else pd.Series(pd.NaT, index=rows.index)
    table["arrears_since"] = since.to_numpy()
    table["lump_sum_from"] = (since + pd.DateOffset(months=12)).to_numpy()
    table["tel"] = [re.sub(r"[^0-9+]", "", p) for p in table["phone"]]
    return _render(request, "arrears.html", district=district, commune=commune_name, rows=table.to_dict("records"))


def _slug(text: str) -> str:
    """An ASCII file name part: 'Hồng Thái' -> 'hong-thai'."""
    import unicodedata

    folded = unicodedata.normalize("NFD", str(text).replace("đ", "d").replace("Đ", "D"))
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return re.sub(r"[^A-Za-z0-9]+", "-", folded).strip("-").lower() or "list"


@login_required
async def commune_xlsx(request: Request, user: User) -> Response:
    district, commune_name, _, _, rows = _commune_rows(request, user)
    table = commune_table(rows, language(request))

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "list.xlsx"
            write_workbook({commune_name: table}, path)
            return path.read_bytes()

    body = await run_in_threadpool(build)
    filename = f"{_slug(district)}-{_slug(commune_name)}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


# ---------------------------------------------------------------- participant


def _participant_or_404(request: Request, user: User):
    web = ctx(request)
    pid = web.refs.decode(request.path_params["ref"])
    if pid is None:
        raise HTTPException(status_code=404)
    district = web.data.district_of(pid)
    if district is None:
        raise HTTPException(status_code=404)
    require_district(user, district)
    record = web.data.participant(pid)
    if record is None:
        raise HTTPException(status_code=404)
    return record


def _languages(request: Request, record) -> list[str]:
    """Languages offered for a visit: the village's first, then Vietnamese, then the rest."""
    first = []
    if record.village is not None:
        first.append(str(record.village["ethnic_language"]))
    others = sorted(LABELS["language"])
    return list(dict.fromkeys([*first, "Vietnamese", *others]))


def _all_visits(request: Request, record) -> pd.DataFrame:
    recorded = visit_store.visits_of_participant(ctx(request).settings.store_url, record.participant_id)
    raw = record.visits.copy()
    if len(raw):
        raw["recorded_by"] = ""
    both = pd.concat([df for df in (recorded, raw) if len(df)], ignore_index=True) if len(recorded) or len(raw) else recorded
    if len(both):
        both = both.drop_duplicates("visit_id").sort_values(["visited_on", "visit_id"], ascending=False)
    return both


async def _participant_page(request: Request, user: User, record, status_code=200, errors=None, form=None):
    lang = language(request)
    visits = await run_in_threadpool(_all_visits, request, record)
    day = ctx(request).data.reference_day(record.district)
    since = day - pd.DateOffset(years=DISASTER_YEARS)
    disasters = record.disasters[record.disasters["started_on"] >= since] if len(record.disasters) else record.disasters
    timeline = payment_timeline(record.installments, record.poverty, disasters, visits, day, lang) \
        if len(record.installments) else ""
    reasons = []
    if record.score is not None:
        reasons = [record.score[c] for c in reason_text_columns(lang)]
        reasons = [r for r in reasons if r]
    recent = record.installments[record.installments["due_on"] <= day + pd.Timedelta(days=62)].tail(12)[::-1] \
        if len(record.installments) else record.installments
    form = form or {"visited_on": date.today().isoformat(), "kind": "home_visit", "language": _languages(request, record)[0],
                    "outcome_note": "", "outcome": "", "promised_on": "", "refusal_reason": ""}
    return _render(
        request, "participant.html", status_code=status_code,
        r=record, district=record.district, reasons=reasons, timeline=timeline, installments=recent.to_dict("records"),
        poverty=record.poverty.to_dict("records"), disasters=disasters.to_dict("records"),
        visits=visits.to_dict("records"), day=day, languages=_languages(request, record),
        kinds=list(visit_store.VISIT_KINDS), errors=errors or [], form=form,
        outcomes=list(visit_store.VISIT_OUTCOMES), refusal_reasons=list(visit_store.REFUSAL_REASONS),
        saved=request.query_params.get("saved") == "1", note_max=ctx(request).settings.note_max_chars,
        today=date.today().isoformat(),
    )


@login_required
async def participant(request: Request, user: User) -> Response:
    record = _participant_or_404(request, user)
    return await _participant_page(request, user, record)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@login_required
async def record_visit(request: Request, user: User) -> Response:
    record = _participant_or_404(request, user)
    form = await checked_form(request)
    settings = ctx(request).settings
    values = {k: str(form.get(k, "")).strip() for k in ("visited_on", "kind", "language", "outcome_note", "outcome",
                                                        "promised_on", "refusal_reason")}
    errors = []
    try:
        visited_on = date.fromisoformat(values["visited_on"])
        if not date.today() - timedelta(days=366) <= visited_on <= date.today():
            raise ValueError
    except ValueError:
        errors.append(("visit_error_date", {}))
    if values["kind"] not in visit_store.VISIT_KINDS:
        errors.append(("visit_error_kind", {}))
    if values["language"] not in _languages(request, record):
        errors.append(("visit_error_language", {}))
    outcome = values["outcome"] or None
    promised_on = None
    refusal = values["refusal_reason"] or None
    if outcome is not None and outcome not in visit_store.VISIT_OUTCOMES:
        errors.append(("visit_error_outcome", {}))
    if outcome == "promised":
        try:
            promised_on = date.fromisoformat(values["promised_on"])
            if not date.today() - timedelta(days=366) <= promised_on <= date.today() + timedelta(days=183):
                raise ValueError
        except ValueError:
            errors.append(("visit_error_promised", {}))
    if outcome != "refused":
        refusal = None
    elif refusal is not None and refusal not in visit_store.REFUSAL_REASONS:
        errors.append(("visit_error_refusal", {}))
    note = _CONTROL.sub("", values["outcome_note"].replace("\r\n", "\n"))
    if len(note) > settings.note_max_chars:
        errors.append(("visit_error_note", {"n": settings.note_max_chars}))
    if errors:
        return await _participant_page(request, user, record, status_code=400, errors=errors, form=values)
    village_id = record.person["village_id"] if record.person is not None else record.score["village_id"]
    visit = visit_store.NewVisit(
        participant_id=record.participant_id, village_id=str(village_id), district=record.district,
        visited_on=visited_on, kind=values["kind"], language=values["language"],
        outcome_note=note or None, recorded_by=user.username,
        outcome=outcome, promised_on=promised_on, refusal_reason=refusal,
    )
    await run_in_threadpool(visit_store.record_visit, settings.store_url, visit)
    log.info("visit recorded (%s)", values["kind"])
    target = path_for(request, "participant", {"saved": "1"}, ref=request.path_params["ref"]) + "#visits"
    return RedirectResponse(target, status_code=303)


# ---------------------------------------------------------------- visit plan


def plan_days(request: Request, district: str, plan: pd.DataFrame, lang: str) -> list[dict]:
    """The plan grouped for the page: officer-day -> trips (one village each) -> people."""
    from dropout.web.i18n import WEEKDAYS, format_date

    data = ctx(request).data
    scores = data.scores(district).set_index("participant_id")
    villages = data.villages(district).set_index("village_id")
    start = plan_start(data.reference_day(district))
    days = []
    for (pool, day, officer_day), g in plan.groupby(["pool", "day", "officer_day"], sort=True):
        on = working_day(start, int(day))
        trips = []
        for (trip, vid), tg in g.groupby(["trip", "village_id"], sort=True):
            v = villages.loc[vid] if vid in villages.index else None
            people = []
            for p in tg.sort_values("visit_order").itertuples(index=False):
                if pd.isna(p.participant_id):
                    continue
                pid = int(p.participant_id)
                s = scores.loc[pid] if pid in scores.index else None
                people.append({
                    "participant_id": pid,
                    "order": None if pd.isna(p.visit_order) else int(p.visit_order),
                    "action": p.action,
                    "risk": None if s is None else float(s["risk"]),
                    "band": None if s is None else s["risk_band"],
                    "due_on": None if s is None else s["due_on"],
                    "net_amount": None if s is None else s["net_amount"],
                    "reason": "" if s is None else s[f"reason_1_{lang}"],
                    "action_text": "" if s is None else _plain_text(s.get(f"action_{lang}")),
                    "full_name": "" if s is None else _plain_text(s.get("full_name")),
                    "phone": "" if s is None else _plain_text(s.get("phone")),
                    "address": "" if s is None else _plain_text(s.get("address")),
                })
            averted = pd.to_numeric(tg["expected_averted"], errors="coerce").sum()
            trips.append({
                "trip": int(trip), "village_id": vid, "people": people,
                "village_name": None if v is None else _plain_text(v.get("village_name")) or None,
                "session": bool(tg["action"].astype(str).str.contains("evening_session").any()),
                "home_visits": int(tg["action"].astype(str).str.contains("home_visit").sum()),
                "commune": None if v is None else v["commune"],
                "travel_minutes": None if v is None or pd.isna(v.get("travel_minutes")) else int(v["travel_minutes"]),
                "language": None if v is None else v.get("ethnic_language"),
                "expected_averted": float(averted) if averted else None,
            })
        days.append({"pool": pool, "day": int(day), "officer_day": officer_day, "trips": trips,
                     "pool_name": str(pool).split("/")[-1], "date": on,
                     "date_text": f"{WEEKDAYS[lang][on.weekday()]} {format_date(on, lang)}",
                     "people": sum(len(t["people"]) for t in trips),
                     "expected_averted": sum(t["expected_averted"] or 0 for t in trips)})
    return days


def _plain_text(value) -> str:
    return "" if value is None or (isinstance(value, float) and value != value) or value is pd.NA else str(value)


def plan_start(reference_day: pd.Timestamp) -> pd.Timestamp:
    """The first working day after scoring (or today, when that is later): day 1 of the plan."""
    day = max(pd.Timestamp(reference_day), pd.Timestamp(date.today())) + pd.Timedelta(days=1)
    while day.weekday() >= 5:
        day += pd.Timedelta(days=1)
    return day.normalize()


def working_day(start: pd.Timestamp, n: int) -> pd.Timestamp:
    """The n-th working day (Monday to Friday) from `start` (n = 1 is `start`)."""
    return pd.Timestamp(np.busday_offset(np.datetime64(start.date()), n - 1, roll="forward"))


@login_required
async def plan(request: Request, user: User) -> Response:
    district = _district(request, user)
    data = ctx(request).data
    days = plan_days(request, district, data.plan(district), language(request))
    kept = round(sum(d["expected_averted"] for d in days))
    return _render(request, "plan.html", district=district, run=data.latest_run(district), days=days, kept=kept)


@login_required
async def plan_xlsx(request: Request, user: User) -> Response:
    """The district's visit plan as a workbook: one sheet per officer-day, dates as dates."""
    district = _district(request, user)
    lang = language(request)
    days = plan_days(request, district, ctx(request).data.plan(district), lang)
    if not days:
        raise HTTPException(status_code=404)
    sheets = {}
    for d in days:
        rows = [{"visit_date": d["date"], "trip": t["trip"], "visit_order": p["order"] or k + 1,
                 "village": t["village_name"] or t["village_id"], "full_name": p["full_name"], "phone": p["phone"],
                 "address": p["address"], "participant_id": p["participant_id"], "due_on": p["due_on"],
                 "net_amount": None if p["net_amount"] is None else int(round(float(p["net_amount"]))),
                 f"reason_1_{lang}": p["reason"], f"action_{lang}": p["action_text"]}
                for t in d["trips"] for k, p in enumerate(t["people"])]
        frame = pd.DataFrame(rows)
        for c in ("visit_date", "due_on"):
            frame[c] = pd.to_datetime(frame[c])
        sheets[f"{d['date'].strftime('%d-%m')} {d['pool_name']}"] = frame

    def build() -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "plan.xlsx"
            write_workbook(sheets, path)
            return path.read_bytes()

    body = await run_in_threadpool(build)
    return Response(body, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"content-disposition": f'attachment; filename="plan-{_slug(district)}.xlsx"'})


@login_required
async def plan_sheet(request: Request, user: User) -> Response:
    district = _district(request, user)
    officer_day = request.query_params.get("officer_day", "")
    rows = ctx(request).data.plan(district)
    rows = rows[rows["officer_day"].astype(str) == officer_day]
    if rows.empty:
        raise HTTPException(status_code=404)
    days = plan_days(request, district, rows, language(request))
    minutes = load_plan_minutes()
    for trip in days[0]["trips"]:
        travel = trip["travel_minutes"] or 0
        trip["depart"] = "07:30"
        trip["arrive"] = _clock(7 * 60 + 30 + travel)
        trip["session_time"] = "19:00"
        for k, p in enumerate(trip["people"]):
            p["time"] = _clock(7 * 60 + 30 + travel + k * minutes) if p["action"] != "evening_session" else ""
    return _render(request, "sheet.html", district=district, d=days[0])


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def load_plan_minutes() -> int:
    """Minutes of one home visit (models/plan.yaml)."""
    from dropout.plan import load_plan_config

    return int(load_plan_config().home_visit.minutes)
