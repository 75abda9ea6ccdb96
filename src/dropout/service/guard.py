"""The door of the service: one ASGI middleware in front of every route.

In this order, for every HTTP request:

0. A path under one of `own_auth_prefixes` (the officers' pages, `/web` and `/web/...`)
   goes to the app mounted there untouched: that app has its own log-in (session
   cookie), CSRF tokens, form bodies and size limits. The API key is neither asked
   for nor honoured there, and nothing below applies.
1. `/healthz`, `/livez`, `/readyz` pass freely (probes carry no key).
2. Without a valid API key: 401 `{"error": "unauthorized"}`, nothing more said.
3. A method a known path does not take: 405 with `Allow`; a query string longer than
   `max_query_bytes`: 414.
4. A body on anything but `application/json`: 415 (pickle, forms and multipart never
   reach BentoML's deserialisers).
5. A body longer than `max_body_bytes`: 413, decided from Content-Length when given and
   by counting otherwise; the body is read here, up to the limit, and handed on.
6. While the model is loading: 503 on the API routes.
7. `GET /docs.json`: the service's OpenAPI document as corrected by `openapi.py`.

It never logs, so neither keys nor bodies can reach a log from here.
"""

from __future__ import annotations

import json
from typing import Any, Awaitable, Callable

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
SPEC_PATH = "/docs.json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPES = frozenset({"application/json"})


async def send_json(send: Send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                    *headers],
    })
    await send({"type": "http.response.body", "body": payload})


class Guard:
    """ASGI middleware: auth, content type, size limits, readiness, the OpenAPI document.

    Args:
        app: the wrapped ASGI app.
        state: an object with `keys` (a KeyStore, or None before start-up), `ready`
            (bool) and `openapi()` (the corrected OpenAPI document as a dict).
        api_paths: paths that need the model (503 while it loads).
        methods: path -> the HTTP methods it takes (others get 405).
        max_body_bytes, max_query_bytes: request size limits.
        own_auth_prefixes: mount paths of apps that authenticate their own users
            (e.g. "/web"): requests for the prefix itself or below it pass through.
    """

    def __init__(self, app, state, api_paths: frozenset[str] = frozenset(), methods: dict | None = None,
                 max_body_bytes: int = 2 * 2**20, max_query_bytes: int = 2048,
                 own_auth_prefixes: tuple[str, ...] = ()):
        from dropout.service.auth import presented_key

        for prefix in own_auth_prefixes:
            if not prefix.startswith("/") or prefix.endswith("/") or len(prefix) < 2:
                raise ValueError(f"own_auth_prefixes: {prefix!r} is not a path like '/web'")
        self.app = app
        self.own_auth_prefixes = tuple(own_auth_prefixes)
        self.state = state
        self.api_paths = frozenset(api_paths)
        self.methods = {}
        for p, ms in (methods or {}).items():
            ms = {m.upper() for m in ms}
            self.methods[p] = frozenset(ms | {"HEAD"} if "GET" in ms else ms)
        self.max_body_bytes = int(max_body_bytes)
        self.max_query_bytes = int(max_query_bytes)
        self._presented_key = presented_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # no websocket routes: refuse before any handshake
                await send({"type": "websocket.close", "code": 1008})
                return
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if self._own_auth(path):
            await self.app(scope, receive, send)
            return
        if path in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        keys = self.state.keys
        if keys is None or not keys.check(self._presented_key(headers)):
            await send_json(send, 401, {"error": "unauthorized"}, [(b"www-authenticate", b"Bearer")])
            return
        method = scope.get("method", "GET")
        allowed = self.methods.get(path)
        if allowed is not None and method not in allowed:
            await send_json(send, 405, {"error": f"{method} is not allowed on {path}"},
                            [(b"allow", ", ".join(sorted(allowed)).encode())])
            return
        if len(scope.get("query_string") or b"") > self.max_query_bytes:
            await send_json(send, 414, {"error": f"query string longer than {self.max_query_bytes} bytes"})
            return
        if method in BODY_METHODS:
            content_type = _header(headers, b"content-type")
            media = (content_type or b"").split(b";")[0].strip().lower().decode("latin-1")
            if media not in JSON_TYPES:
                await send_json(send, 415, {"error": "send the body as application/json"})
                return
            declared = _header(headers, b"content-length")
            if declared is not None:
                try:
                    length = int(declared)
                except ValueError:
                    await send_json(send, 400, {"error": "Content-Length is not a number"})
                    return
                if length > self.max_body_bytes:
                    await send_json(send, 413, {"error": f"request body larger than {self.max_body_bytes} bytes"})
                    return
            body = await _read_body(receive, self.max_body_bytes)
            if body is None:
                await send_json(send, 413, {"error": f"request body larger than {self.max_body_bytes} bytes"})
                return
            receive = _replay(body, receive)
        if path in self.api_paths and not self.state.ready:
            await send_json(send, 503, {"error": "the model is loading; retry when /readyz answers 200"},
                            [(b"retry-after", b"5")])
            return
        if path == SPEC_PATH and method == "GET":
            await send_json(send, 200, self.state.openapi())
            return
        await self.app(scope, receive, send)

    def _own_auth(self, path: str) -> bool:
        """Whether `path` is a mount with its own log-in: the prefix itself or a path below it
        (`/web`, `/web/...`; not `/website`)."""
        return any(path == p or path.startswith(p + "/") for p in self.own_auth_prefixes)


def _header(headers, name: bytes) -> bytes | None:
    for k, v in headers:
        if k == name:
            return v
    return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None as soon as it passes `limit` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # after the body: wait for the disconnect as usual

    return replay
