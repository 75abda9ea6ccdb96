"""Sessions, log-in and log-out, CSRF tokens, and the access rules of every page.

The cookie is Starlette's signed cookie (HttpOnly, SameSite=Strict, Secure except on
plain http from loopback). It carries a random session id, the CSRF token and the chosen
language; nothing about participants. Who is logged in is known only from the store's
`web_sessions` row of that id (accounts.session_user), so logging out, a password change
or a disabled account ends the session even for a copy of the cookie.

The client address the log-in throttle counts by is the connection's peer; an
`X-Forwarded-For` header is believed only when that peer is a configured trusted proxy
(WebSettings.trusted_proxies, default none).
"""

from __future__ import annotations

import functools
import logging
import secrets
from datetime import datetime, timezone
from math import ceil

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dropout.textsafe import has_control_characters
from dropout.web import accounts
from dropout.web.accounts import User
from dropout.web.i18n import normalize_language
from dropout.web.render import render
from dropout.web.session import CSRF_FIELD, CsrfError, checked_form, csrf_token, ctx, language  # noqa: F401
from dropout.web.urls import current_path, path_for

log = logging.getLogger("dropout.web")

def safe_next(value: str | None, fallback: str) -> str:
    """A local path to go back to; anything that could leave the site becomes `fallback`."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return fallback
    if any(ord(c) < 32 for c in value):
        return fallback
    return value


def client_address(request: Request) -> str:
    """The client's address: the peer, or the last address a trusted proxy forwarded for."""
    peer = request.client.host if request.client else "unknown"
    trusted = ctx(request).settings.trusted_proxy_networks()
    if not trusted or not _in_networks(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    for hop in reversed(hops):  # the nearest hop not itself a trusted proxy
        if not _in_networks(hop, trusted):
            return hop[:64]
    return peer


def _in_networks(address: str, networks) -> bool:
    import ipaddress

    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


async def current_user(request: Request) -> User | None:
    """The logged-in user, or None (a stale session, e.g. logged out elsewhere, is cleared)."""
    sid = request.session.get("sid")
    if sid is None:
        return None
    user = await run_in_threadpool(accounts.session_user, ctx(request).settings.store_url, sid)
    if user is None:
        lang = request.session.get("lang")
        request.session.clear()
        if lang:
            request.session["lang"] = lang
        return None
    return user


def login_required(endpoint):
    """Pages behind the log-in: anonymous visitors are sent to /login?next=<this page>."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        user = await current_user(request)
        if user is None:
            login = path_for(request, "login", {"next": current_path(request)})
            return RedirectResponse(login, status_code=303)
        request.state.user = user
        return await endpoint(request, user)

    return wrapper


def require_district(user: User, district: str) -> None:
    """403 unless the user may see `district`."""
    if not user.may_see(district):
        log.warning("access refused: district outside the account's scope")
        raise HTTPException(status_code=403)


# ---------------------------------------------------------------- handlers


async def login_page(request: Request) -> Response:
    if await current_user(request) is not None:
        return RedirectResponse(path_for(request, "home"), status_code=303)
    message = "logged_out" if request.query_params.get("bye") else None
    return render(request, "login.html", next=safe_next(request.query_params.get("next"), ""), message=message)


async def login_submit(request: Request) -> Response:
    form = await checked_form(request)
    settings = ctx(request).settings
    username = str(form.get("username", ""))[:128]
    password = str(form.get("password", ""))[:1024]
    next_path = safe_next(str(form.get("next", "")), path_for(request, "home"))
    if has_control_characters(username) or has_control_characters(password):
        return render(request, "login.html", status_code=422, next=next_path, error="login_failed")
    key = accounts.throttle_key(username, client_address(request))
    failures, oldest = await run_in_threadpool(
        accounts.recent_failures, settings.store_url, key, settings.login_window_seconds
    )
    if failures >= settings.login_max_failures:
        log.warning("log-in refused: too many recent failures for this username and address")
        wait = settings.login_window_seconds
        if oldest is not None:
            wait = settings.login_window_seconds - (datetime.now(timezone.utc) - oldest).total_seconds()
        minutes = max(1, ceil(wait / 60))
        return render(request, "login.html", status_code=429, next=next_path, error="login_rate_limited",
                      error_values={"minutes": minutes}, username=username)
    user = await run_in_threadpool(accounts.authenticate, settings.store_url, username, password)
    if user is None:
        await run_in_threadpool(accounts.record_failure, settings.store_url, key, settings.login_window_seconds)
        log.info("log-in failed")
        return render(request, "login.html", status_code=401, next=next_path, error="login_failed", username=username)
    await run_in_threadpool(accounts.clear_failures, settings.store_url, key)
    lang = request.session.get("lang")
    request.session.clear()  # a fresh session (and CSRF token) for the logged-in user
    sid = await run_in_threadpool(accounts.start_session, settings.store_url, user, settings.session_max_age)
    request.session.update({"sid": sid, "csrf": secrets.token_urlsafe(32)})
    if lang:
        request.session["lang"] = lang
    log.info("log-in succeeded (role %s)", user.role)
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    sid = request.session.get("sid")
    if sid is not None:
        await run_in_threadpool(accounts.end_session, ctx(request).settings.store_url, sid)
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse(path_for(request, "login", {"bye": "1"}), status_code=303)


async def set_language(request: Request) -> Response:
    form = await checked_form(request)
    request.session["lang"] = normalize_language(str(form.get("lang", "")))
    return RedirectResponse(safe_next(str(form.get("next", "")), path_for(request, "home")), status_code=303)
