"""The GET routes (BentoML's own APIs are POST only): GET /ranked and GET /model.

A small Starlette app mounted beside the BentoML APIs. Query parameters go through the
same pydantic model as the POST body (`RankedQuery`), in lax mode since a query string
is text; unknown and repeated parameters are refused.
"""

from __future__ import annotations

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from dropout.service.models import RankedQuery


def validation_body(err: ValidationError) -> dict:
    """A pydantic error as the service answers it: a message and field paths, never the input."""
    return {"error": f"{err.error_count()} validation error(s) for {err.title}",
            "detail": err.errors(include_url=False, include_context=False, include_input=False)}


def error_response(err: Exception) -> JSONResponse | None:
    """The answer to an error a request can cause (None: not one of those, a bug)."""
    from dropout.service.core import NotFoundError
    from dropout.service.records import RequestError

    if isinstance(err, RequestError):
        return JSONResponse({"error": str(err), "detail": err.errors}, status_code=400)
    if isinstance(err, NotFoundError):
        return JSONResponse({"error": str(err)}, status_code=404)
    if isinstance(err, ValidationError):
        return JSONResponse(validation_body(err), status_code=400)
    return None


def make_app(state) -> Starlette:
    """The GET routes over a `ServiceState` (the Guard has checked key and readiness)."""

    async def ranked(request: Request) -> JSONResponse:
        items = request.query_params.multi_items()
        keys = [k for k, _ in items]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            return JSONResponse({"error": "repeated query parameter(s)",
                                 "detail": [{"loc": ["query", k], "msg": "given more than once", "type": "repeated"}
                                            for k in repeated]}, status_code=400)
        try:
            query = RankedQuery.model_validate(dict(items), strict=False)
            answer = await run_in_threadpool(state.engine.ranked, query)
        except Exception as err:
            resp = error_response(err)
            if resp is None:
                raise
            return resp
        return JSONResponse(answer.model_dump(mode="json"))

    async def model(request: Request) -> JSONResponse:
        if request.query_params:
            return JSONResponse({"error": "GET /model takes no query parameters"}, status_code=400)
        return JSONResponse(state.engine.model_info().model_dump(mode="json"))

    return Starlette(routes=[Route("/ranked", ranked, methods=["GET"]), Route("/model", model, methods=["GET"])])
