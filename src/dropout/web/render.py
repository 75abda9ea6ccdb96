"""Rendering a page: the Jinja2 templates and the helpers every template uses."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from dropout.web.i18n import format_date, format_money, format_percent, label, translate
from dropout.web.session import csrf_token, language
from dropout.web.urls import current_path, path_for

HERE = Path(__file__).resolve().parent


def templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every {{ }} is escaped; charts are Markup built from escaped parts
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render(request: Request, template: str, status_code: int = 200, **context) -> HTMLResponse:
    """Render a page with the helpers every template uses (t, L, url, dates, money)."""
    web = request.app.state.web  # app.WebContext
    lang = language(request)

    def url(name: str, **params) -> str:
        return path_for(request, name, **params)

    def q(name: str, query: dict | None = None, **params) -> str:
        return path_for(request, name, query, **params)

    values = dict(
        request=request,
        lang=lang,
        t=lambda key, **kw: translate(key, lang, **kw),
        L=lambda kind, code: label(kind, code, lang),
        date=lambda v: format_date(v, lang),
        money=lambda v: format_money(v, lang),
        pct=lambda v: format_percent(v, lang),
        url=url,
        q=q,
        static=lambda path: path_for(request, "static", path=path),
        ref=web.refs.encode,
        csrf_token=csrf_token(request),
        user=getattr(request.state, "user", None),
        test_data=web.data.test_data,
        here=current_path(request),
    )
    values.update(context)
    from dropout.web.monitoring_data import banner  # the monitoring alert of the page's district

    values["monitoring_banner"] = banner(request, values.get("district") or getattr(values["user"], "district", None))
    html = web.templates.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code)
