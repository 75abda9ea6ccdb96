"""The officers' web pages as one Starlette app: `create_app(settings)`.

Self-contained: it brings its own sessions, static files and error pages, so it runs
alone under uvicorn (`dropout web`) or mounted inside the BentoML service under any path
(every link is built by `urls.path_for`, which honours the mount's root_path).
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dropout.textsafe import has_control_characters, install_log_escaping
from dropout.web import auth, monitoring, pages, whatif
from dropout.web.render import render, templates
from dropout.web.data import WebData
from dropout.web.refs import ParticipantRefs
from dropout.web.settings import WebSettings
from dropout.web.urls import path_for

log = logging.getLogger("dropout.web")
HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "dropout_session"

# Pages are plain HTML with one small script file; nothing else may load or run.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


@dataclass
class WebContext:
    settings: WebSettings
    data: WebData
    refs: ParticipantRefs
    templates: jinja2.Environment
    router: object = None  # this app's router: links are built from it (urls.path_for)


LOOPBACK = ("127.0.0.1", "::1", "localhost")


class Sessions:
    """Starlette's signed-cookie sessions with the `Secure` flag decided per request when
    `https_only` is None: set, except on plain http from a loopback peer (a local server,
    where the browser would otherwise drop the cookie)."""

    def __init__(self, app: ASGIApp, https_only: bool | None, **options):
        self.secure = SessionMiddleware(app, https_only=True, **options)
        self.plain = SessionMiddleware(app, https_only=False, **options)
        self.https_only = https_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.https_only is None:
            client = scope.get("client") or ("", 0)
            plain_local = scope.get("scheme") in ("http", "ws") and client[0] in LOOPBACK
            middleware = self.plain if plain_local else self.secure
        else:
            middleware = self.secure if self.https_only else self.plain
        await middleware(scope, receive, send)


class HttpMiddleware:
    """A pure ASGI middleware for HTTP requests: `http()` sees them, anything else
    (lifespan, websockets) passes straight through."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class RefuseControlCharacters(HttpMiddleware):
    """400 for a path or query string holding control characters (NUL, line breaks): no
    name or code has them, PostgreSQL refuses NUL, and logs must not see them raw."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        from urllib.parse import unquote

        query = unquote(scope.get("query_string", b"").decode("latin-1"))
        if has_control_characters(scope.get("path", "")) or has_control_characters(query):
            await PlainTextResponse("control characters are not allowed in the address",
                                    status_code=400)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeaders(HttpMiddleware):
    """Adds SECURITY_HEADERS to every response, and no-store to every non-static one
    (pages carry personal data: no shared or back-button caches)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        static = "/static/" in scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class QuietErrors(HttpMiddleware):
    """Answers an unhandled exception with a bare 500 and logs where it happened, never
    its message: messages of data errors quote data values (ids, notes)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            frames = "".join(traceback.format_tb(exc.__traceback__))
            log.error("unhandled %s on a %s request; traceback (message withheld):\n%s",
                      type(exc).__name__, scope.get("method"), frames)
            if not started:
                await PlainTextResponse("internal error", status_code=500)(scope, receive, send)


class BodyLimit(HttpMiddleware):
    """Refuses request bodies over `max_bytes` with 413 (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        super().__init__(app)
        self.max_bytes = max_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await PlainTextResponse("request body too large", status_code=413)(scope, receive, send)
                return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(status_code=413)
            return message

        await self.app(scope, limited_receive, send)


_ERROR_PAGES = {
    403: ("error_forbidden_title", "error_forbidden"),
    404: ("error_not_found_title", "error_not_found"),
    413: ("error_too_large_title", "error_too_large_title"),
}


async def http_error(request: Request, exc: HTTPException) -> Response:
    if isinstance(exc, auth.CsrfError):
        title, text = "error_csrf_title", "error_csrf"
    else:
        title, text = _ERROR_PAGES.get(exc.status_code, ("error_generic_title", "error_generic_title"))
    if exc.status_code == 405:
        return PlainTextResponse("method not allowed", status_code=405)
    return render(request, "error.html", status_code=exc.status_code, title_key=title, text_key=text)


async def home(request: Request) -> Response:
    user = await auth.current_user(request)
    if user is None:
        return RedirectResponse(path_for(request, "login"), status_code=303)
    if user.province is not None:
        return RedirectResponse(path_for(request, "province_whatif", province=user.province), status_code=303)
    if not user.is_admin:
        return RedirectResponse(path_for(request, "overview", district=user.district), status_code=303)
    request.state.user = user
    return render(request, "districts.html", districts=request.app.state.web.data.districts())


def create_app(settings: WebSettings | None = None, data: WebData | None = None, *, preload: bool = False) -> Starlette:
    """The officers' pages as an ASGI app.

    Args:
        settings: see WebSettings; None reads the environment (WebSettings.from_env()).
        data: what the pages show; None reads the latest runs from `settings.store_url`
            and the raw tables from `settings.data_dir` (dropout.web.sources), on the
            first request unless `preload`.
        preload: read the store and the data folder now (fail fast at start-up).
    """
    settings = settings or WebSettings.from_env()
    secret = settings.resolve_secret()
    install_log_escaping(("dropout.web", "uvicorn.access", "uvicorn.error"))
    if data is None:
        from dropout.web.sources import StoreData

        data = StoreData(settings.store_url, settings.data_dir, plan_path=settings.plan_path,
                         plan_capacity=settings.plan_capacity, refresh_seconds=settings.data_refresh_seconds,
                         test_data=settings.test_data)
        if preload:
            data.preload()
    routes = [
        Route("/", home, name="home"),
        Route("/login", auth.login_page, methods=["GET"], name="login"),
        Route("/login", auth.login_submit, methods=["POST"], name="login_submit"),
        Route("/logout", auth.logout, methods=["POST"], name="logout"),
        Route("/lang", auth.set_language, methods=["POST"], name="lang"),
        Route("/d/{district}", pages.overview, name="overview"),
        Route("/d/{district}/c/{commune}", pages.commune, name="commune"),
        Route("/d/{district}/c/{commune}/list.xlsx", pages.commune_xlsx, name="commune_xlsx"),
        Route("/d/{district}/c/{commune}/calls", pages.call_list, name="call_list"),
        Route("/d/{district}/c/{commune}/arrears", pages.arrears_list, name="arrears_list"),
        Route("/d/{district}/plan", pages.plan, name="plan"),
        Route("/d/{district}/monitoring", monitoring.monitoring_page, name="monitoring"),
        Route("/d/{district}/plan.xlsx", pages.plan_xlsx, name="plan_xlsx"),
        Route("/d/{district}/plan/sheet", pages.plan_sheet, name="plan_sheet"),
        Route("/p/{ref}", pages.participant, name="participant"),
        Route("/province/{province}/whatif", whatif.province_whatif, name="province_whatif"),
        Route("/p/{ref}/visits", pages.record_visit, methods=["POST"], name="record_visit"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(QuietErrors),
        Middleware(SecurityHeaders),
        Middleware(RefuseControlCharacters),
        Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
        Middleware(
            Sessions,
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_max_age,
            same_site="strict",
            https_only=settings.https_only,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error},
    )
    app.state.web = WebContext(settings=settings, data=data, refs=ParticipantRefs(secret), templates=templates(),
                               router=app.router)
    return app
