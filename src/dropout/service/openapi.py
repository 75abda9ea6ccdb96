"""The service's OpenAPI document, written from the same pydantic models that validate.

BentoML 1.4 writes an OpenAPI 3.0 document for its APIs, but (on 1.4.40) it drops
`null` from optional fields, describes a 400's `detail` as a string where it sends a list
of field errors, knows nothing of the guard's 401/413/414/415/503 nor of the GET routes
mounted beside it. A client generated from it, or a fuzzer checking responses against
it, would be misled. So the service serves this document at `/docs.json` instead: OpenAPI
3.1, whose schemas are JSON Schema, so pydantic's schemas go in unchanged.
"""

from __future__ import annotations

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dropout.service.models import (
    ErrorBody,
    ModelInfo,
    NoInput,
    RankedQuery,
    RankedResponse,
    ScoreIdsRequest,
    ScoreIdsResponse,
    ScoreRequest,
    ScoreResponse,
)

REF = "#/components/schemas/{model}"
TEXT = {"text/plain": {"schema": {"type": "string"}}}

#: (method, path, request model or None, query model or None, response model, summary, extra statuses)
OPERATIONS = [
    ("post", "/score", ScoreRequest, None, ScoreResponse,
     "Risk, band and top reasons for people given by their raw records", (400,)),
    ("post", "/score_ids", ScoreIdsRequest, None, ScoreIdsResponse,
     "Latest batch scores and reasons of people given by their ids", (400, 404)),
    ("post", "/ranked", RankedQuery, None, RankedResponse,
     "Latest batch run's ranked list for a commune or a district", (400, 404)),
    ("get", "/ranked", None, RankedQuery, RankedResponse,
     "Latest batch run's ranked list for a commune or a district", (400, 404)),
    ("post", "/model", NoInput, None, ModelInfo,
     "Model name, version, training date, backtest metrics and features", (400,)),
    ("get", "/model", None, None, ModelInfo,
     "Model name, version, training date, backtest metrics and features", (400,)),
]

ERRORS = {
    400: "Malformed JSON, wrong types, unknown fields, values out of range or records breaking the data "
         "contract; `detail` lists the field paths",
    401: "Missing or wrong API key",
    404: "No finished batch run (or not the one asked for)",
    405: "Method not allowed",
    413: "Request body too large",
    414: "Query string too long",
    415: "Body not sent as application/json",
    503: "The model is still loading",
}


def _schemas() -> tuple[dict, dict]:
    models: list[tuple[type[BaseModel], str]] = []
    for _, _, body, _, response, _, _ in OPERATIONS:
        if body is not None:
            models.append((body, "validation"))
        models.append((response, "serialization"))
    models.append((ErrorBody, "serialization"))
    keys, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    return {k: v for k, v in keys.items()}, top.get("$defs", {})


def _query_parameters(model: type[BaseModel], keys: dict) -> list[dict]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema["properties"].items():
        params.append({"name": name, "in": "query", "required": name in required, "schema": prop,
                       **({"description": prop["description"]} if "description" in prop else {})})
    return params


def _error(status: int) -> dict:
    return {"description": ERRORS[status],
            "content": {"application/json": {"schema": {"$ref": REF.format(model="ErrorBody")}}}}


def build_spec(title: str = "dropout-risk", version: str = "1") -> dict:
    """The OpenAPI 3.1 document of every route the service answers."""
    keys, defs = _schemas()
    paths: dict[str, dict] = {}
    for method, path, body, query, response, summary, statuses in OPERATIONS:
        op: dict = {
            "summary": summary,
            "operationId": f"{method}_{path.strip('/')}",
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {
                    "schema": keys[(response, "serialization")]}}},
                **{str(s): _error(s) for s in sorted({*statuses, 401, 503})},
            },
        }
        if body is not None:
            op["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": keys[(body, "validation")]}}}
            op["responses"].update({str(s): _error(s) for s in (413, 415)})
        if query is not None:
            op["parameters"] = _query_parameters(query, keys)
            op["responses"]["414"] = _error(414)
        paths.setdefault(path, {})[method] = op
    for path, text in (("/healthz", "Alive"), ("/livez", "Alive"), ("/readyz", "Ready: model and catalog loaded")):
        responses = {"200": {"description": text, "content": TEXT}}
        responses["503"] = {"description": "Not ready yet (or, on /livez, loading failed)", "content": TEXT}
        paths[path] = {"get": {"summary": text, "operationId": f"get_{path.strip('/')}", "security": [],
                               "responses": responses}}
    paths["/metrics"] = {"get": {"summary": "Prometheus metrics", "operationId": "get_metrics",
                                 "responses": {"200": {"description": "Metrics", "content": TEXT},
                                               "401": _error(401)}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version,
                 "description": "Who is about to drop out of voluntary social insurance, why, and whom to visit. "
                                "Every route but the health probes needs an API key in `X-API-Key` "
                                "(or `Authorization: Bearer <key>`)."},
        "servers": [{"url": "/"}],
        "security": [{"ApiKey": []}, {"Bearer": []}],
        "paths": paths,
        "components": {
            "schemas": defs,
            "securitySchemes": {
                "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "Bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    }


def route_methods() -> dict[str, set[str]]:
    """Path -> the methods the service answers on it (for 405 and `Allow`)."""
    out: dict[str, set[str]] = {}
    for path, ops in build_spec()["paths"].items():
        out[path] = {m.upper() for m in ops}
    out["/docs.json"] = {"GET"}
    return out
