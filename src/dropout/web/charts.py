"""Charts drawn on the server as inline SVG: no JavaScript, readable on a phone, printable.

Each function returns `Markup` built only from numbers and escaped text. Colours come
from CSS classes (static/style.css), so print and screen can differ, and every mark has
a <title> plus a text legend so colour is never the only carrier of meaning.
"""

from __future__ import annotations

import pandas as pd
from markupsafe import Markup, escape

from dropout.web.i18n import RISK_BANDS, format_date, format_money, label, translate


def _t(text) -> str:
    return str(escape(text))


def commune_risk_chart(rows: list[dict], lang: str) -> Markup:
    """Horizontal stacked bars: people due per commune by risk band, each bar a link.

    Args:
        rows: dicts with commune, url, and a count per band (high, medium, low).
    """
    if not rows:
        return Markup("")
    label_w, bar_w, row_h, top = 140, 230, 30, 34  # narrow: readable at 360 px
    width = label_w + bar_w + 60
    height = top + row_h * len(rows) + 8
    largest = max(sum(r.get(b, 0) for b in RISK_BANDS) for r in rows) or 1
    title = translate("chart_risk_by_commune", lang)
    out = [
        f'<svg class="chart chart-communes" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_t(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{_t(title)}</title>",
    ]
    x = label_w
    for band in RISK_BANDS:  # legend
        out.append(f'<rect class="band-{band}" x="{x}" y="6" width="14" height="14"/>')
        out.append(f'<text x="{x + 18}" y="18" class="legend">{_t(label("risk_band", band, lang))}</text>')
        x += 120
    for i, r in enumerate(rows):
        y = top + i * row_h
        total = sum(int(r.get(b, 0)) for b in RISK_BANDS)
        out.append(f'<a href="{_t(r["url"])}">')
        out.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end" class="axis-label">{_t(r["commune"])}</text>')
        x = float(label_w)
        for band in RISK_BANDS:
            n = int(r.get(band, 0))
            if n == 0:
                continue
            w = bar_w * n / largest
            tip = f'{r["commune"]}: {label("risk_band", band, lang)} {n}'
            out.append(f'<rect class="band-{band}" x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="{row_h - 10}">'
                       f"<title>{_t(tip)}</title></rect>")
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 18}" class="value">{total}</text>')
        out.append("</a>")
    out.append("</svg>")
    return Markup("".join(out))


def _lateness_class(due, paid, as_of) -> str:
    if pd.isna(paid):
        return "future" if due > as_of else "unpaid"
    days = (paid - due).days
    if days <= 0:
        return "ok"
    return "late" if days <= 30 else "very-late"


def payment_timeline(
    installments: pd.DataFrame,
    poverty: pd.DataFrame,
    disasters: pd.DataFrame,
    visits: pd.DataFrame,
    as_of: pd.Timestamp,
    lang: str,
    months_back: int = 36,
    months_ahead: int = 6,
) -> Markup:
    """One time axis: due dates above, payment dates below (slant = lateness), poverty
    status as a band, disasters (triangles) and visits (diamonds) at the bottom."""
    start = (as_of - pd.DateOffset(months=months_back)).normalize()
    end = (as_of + pd.DateOffset(months=months_ahead)).normalize()
    left, right, width = 140, 16, 800
    span = (end - start).total_seconds()
    plot_w = width - left - right

    def x(ts) -> float:
        ts = min(max(pd.Timestamp(ts), start), end)
        return left + plot_w * (ts - start).total_seconds() / span

    y_due, y_paid, y_pov, y_evt, height = 34, 84, 112, 146, 186
    title = translate("payments_title", lang)
    out = [
        f'<svg class="chart chart-timeline" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{_t(title)}" xmlns="http://www.w3.org/2000/svg"><title>{_t(title)}</title>'
    ]
    for key, y in (("lane_due", y_due), ("lane_paid", y_paid), ("lane_poverty", y_pov + 8), ("lane_events", y_evt)):
        out.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" class="axis-label">{_t(translate(key, lang))}</text>')
        out.append(f'<line class="lane" x1="{left}" x2="{width - right}" y1="{y}" y2="{y}"/>')
    year = start.year + 1
    while pd.Timestamp(year=year, month=1, day=1) <= end:
        xx = x(pd.Timestamp(year=year, month=1, day=1))
        out.append(f'<line class="tick" x1="{xx:.1f}" x2="{xx:.1f}" y1="16" y2="{y_evt + 10}"/>')
        out.append(f'<text x="{xx:.1f}" y="{height - 14}" text-anchor="middle" class="axis-label">{year}</text>')
        year += 1
    xa = x(as_of)
    out.append(f'<line class="today" x1="{xa:.1f}" x2="{xa:.1f}" y1="14" y2="{y_evt + 12}"/>')

    for r in poverty.itertuples(index=False):
        a = max(pd.Timestamp(r.valid_from), start)
        b = end if pd.isna(r.valid_to) else min(pd.Timestamp(r.valid_to), end)
        if b < start or a > end:
            continue
        tip = f"{label('poverty_status', r.status, lang)}: {format_date(r.valid_from, lang)} – {format_date(r.valid_to, lang)}"
        out.append(f'<rect class="pov-{_t(r.status)}" x="{x(a):.1f}" y="{y_pov}" width="{max(x(b) - x(a), 1):.1f}" '
                   f'height="16"><title>{_t(tip)}</title></rect>')

    shown = installments[(installments["due_on"] >= start) & (installments["due_on"] <= end)]
    for r in shown.itertuples(index=False):
        cls = _lateness_class(r.due_on, r.paid_on, as_of)
        xd = x(r.due_on)
        if cls in ("future", "unpaid"):
            state = translate("not_due_yet" if cls == "future" else "unpaid", lang)
            tip = f"{translate('lane_due', lang)} {format_date(r.due_on, lang)}, {format_money(r.amount_due, lang)}: {state}"
            out.append(f'<circle class="due {cls}" cx="{xd:.1f}" cy="{y_due}" r="5"><title>{_t(tip)}</title></circle>')
            if cls == "unpaid":
                out.append(f'<path class="cross unpaid" d="M{xd - 5:.1f} {y_paid - 5} l10 10 m0 -10 l-10 10">'
                           f"<title>{_t(tip)}</title></path>")
            continue
        xp = x(r.paid_on)
        days = (r.paid_on - r.due_on).days
        state = translate("on_time", lang) if days <= 0 else translate("days_late", lang, n=days)
        tip = (f"{translate('lane_due', lang)} {format_date(r.due_on, lang)} → {translate('lane_paid', lang)} "
               f"{format_date(r.paid_on, lang)}: {state}")
        out.append(f'<g class="{cls}"><title>{_t(tip)}</title>'
                   f'<line class="link" x1="{xd:.1f}" y1="{y_due}" x2="{xp:.1f}" y2="{y_paid}"/>'
                   f'<circle class="due" cx="{xd:.1f}" cy="{y_due}" r="5"/>'
                   f'<circle class="paid" cx="{xp:.1f}" cy="{y_paid}" r="5"/></g>')

    events = [(r.started_on, "disaster", f"M{{x:.1f}} {y_evt - 8} l7 13 h-14 z",
               f"{label('disaster_kind', r.kind, lang)} {format_date(r.started_on, lang)} ({r.severity}/3)")
              for r in disasters.itertuples(index=False)]
    events += [(r.visited_on, "visit", f"M{{x:.1f}} {y_evt - 7} l7 7 l-7 7 l-7 -7 z",
                f"{label('visit_kind', r.kind, lang)} {format_date(r.visited_on, lang)}")
               for r in visits.itertuples(index=False)]
    for day, cls, shape, tip in events:  # a triangle per disaster, a diamond per visit
        if start <= day <= end:
            out.append(f'<path class="{cls}" d="{shape.format(x=x(day))}"><title>{_t(tip)}</title></path>')
    out.append("</svg>")
    return Markup("".join(out))
