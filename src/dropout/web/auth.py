"""Sessions, log-in and log-out, CSRF tokens, and the access rules of every page.

The session is Starlette's signed cookie (HttpOnly, SameSite=Strict). It carries the
user id, the account's session_version (so disabling an account ends its sessions),
the CSRF token and the chosen language; nothing about participants.
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


async def current_user(request: Request) -> User | None:
    """The logged-in user, or None (a stale session, e.g. of a disabled account, is cleared)."""
    uid = request.session.get("uid")
    if uid is None:
        return None
    user = await run_in_threadpool(accounts.get_user, ctx(request).settings.store_url, int(uid))
    if user is None or not user.active or user.session_version != request.session.get("ver"):
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
    client = request.client.host if request.client else "unknown"
    key = accounts.throttle_key(username, client)
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
    request.session.update({"uid": user.id, "ver": user.session_version, "csrf": secrets.token_urlsafe(32)})
    if lang:
        request.session["lang"] = lang
    log.info("log-in succeeded (role %s)", user.role)
    return RedirectResponse(next_path, status_code=303)


async def logout(request: Request) -> Response:
    await checked_form(request)
    lang = request.session.get("lang")
    request.session.clear()
    if lang:
        request.session["lang"] = lang
    return RedirectResponse(path_for(request, "login", {"bye": "1"}), status_code=303)


async def set_language(request: Request) -> Response:
    form = await checked_form(request)
    request.session["lang"] = normalize_language(str(form.get("lang", "")))
    return RedirectResponse(safe_next(str(form.get("next", "")), path_for(request, "home")), status_code=303)
