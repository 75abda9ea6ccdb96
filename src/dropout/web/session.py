"""What a page request carries in its session: the language, the CSRF token, the app's state.

Kept apart from the log-in handlers (auth.py) so that rendering a page (render.py) can
read them without importing the handlers that render pages.
"""

from __future__ import annotations

import hmac
import logging
import secrets

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from dropout.errors import DropoutError
from dropout.web.i18n import normalize_language

log = logging.getLogger("dropout.web")

CSRF_FIELD = "csrf_token"
MAX_FORM_FIELDS = 20


class CsrfError(DropoutError, HTTPException):
    """A form posted without this session's CSRF token (answered 403)."""

    def __init__(self):
        super().__init__(status_code=403, detail="csrf")


def ctx(request: Request):
    """The app's shared state (settings, data, refs, templates)."""
    return request.app.state.web


def csrf_token(request: Request) -> str:
    """This session's CSRF token (made on first use)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form, after checking its CSRF token against the session's; 403 otherwise."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    sent = form.get(CSRF_FIELD)
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        log.warning("form refused: missing or wrong CSRF token")
        raise CsrfError()
    return form


def language(request: Request) -> str:
    return normalize_language(request.session.get("lang"))
