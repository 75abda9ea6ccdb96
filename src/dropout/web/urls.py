"""Links inside the web app, right wherever it is mounted.

Paths come from this app's own router (not the outer app's, which may name its mounts)
and are prefixed with the ASGI root_path the app is served under ("" standalone,
"/web" when the BentoML service mounts it there). Path parameters are percent-encoded:
district and commune names have spaces and diacritics.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.requests import Request


def path_for(request: Request, name: str, query: dict | None = None, **params) -> str:
    """The URL path of route `name` with `params`, plus a query string of the non-empty
    items of `query`."""
    safe = "/" if name == "static" else ""
    encoded = {k: quote(str(v), safe=safe) for k, v in params.items()}
    router = request.app.state.web.router
    path = request.scope.get("root_path", "").rstrip("/") + str(router.url_path_for(name, **encoded))
    items = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    return path + (f"?{urlencode(items)}" if items else "")


def current_path(request: Request) -> str:
    """This request's path and query, as the browser sent them (for 'come back here')."""
    raw = request.scope.get("raw_path")
    path = raw.decode("latin-1") if raw else quote(request.url.path)
    query = request.scope.get("query_string", b"").decode("latin-1")
    return path + (f"?{query}" if query else "")
