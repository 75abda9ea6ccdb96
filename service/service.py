"""The dropout risk service (BentoML 1.4): score, explain, ranked lists, model card, health,
and the officers' web pages under /web.

    bentoml serve service.service:RiskService --host 127.0.0.1 --port 3000   # from the repo root
    dropout serve                                                           # the same, configured

The work is done by `dropout.service` and `dropout.web` (plain libraries, tested without
a server); this file only wires them into BentoML: the APIs, the guard middleware (API
keys, body limits, content types, readiness), the GET routes, the corrected OpenAPI
document, and the officers' pages (`dropout.web.create_app`) mounted under /web with
their own log-in, which the guard lets through untouched. Settings are environment
variables (see `dropout/service/settings.py` and `dropout/web/settings.py`).
"""

from __future__ import annotations

import os

# One person at a time: LightGBM's threads would only add overhead in a threaded server.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# The server believes X-Forwarded-For / -Proto only from the proxies the operator names
# (uvicorn's own default trusts loopback, where anyone on the machine could forge a
# client address and dodge the log-in throttle). Read by uvicorn after this module loads.
os.environ["FORWARDED_ALLOW_IPS"] = os.environ.get("DROPOUT_TRUSTED_PROXIES", "").strip()

import bentoml  # noqa: E402

with bentoml.importing():
    from dropout.service import logs
    from dropout.service.guard import Guard
    from dropout.service.models import (
        ModelInfo,
        NoInput,
        RankedQuery,
        RankedResponse,
        ScoreIdsRequest,
        ScoreIdsResponse,
        ScoreRequest,
        ScoreResponse,
    )
    from dropout.service.openapi import build_spec, route_methods
    from dropout.service.routes import error_response, make_app
    from dropout.service.settings import WEB_PATH, ServiceSettings
    from dropout.service.state import ServiceState
    from dropout.web import WebSettings, create_app

SETTINGS = ServiceSettings.from_env()
STATE = ServiceState(SETTINGS, tune_gc=True)  # this process only serves: see state.py
API_PATHS = frozenset({"/score", "/score_ids", "/ranked", "/model"})
# The officers' pages: built now (reads no data until the first page asks; a bad
# DROPOUT_WEB_SECRET stops the start here), mounted below.
WEB_APP = create_app(WebSettings.from_env()) if SETTINGS.web_enabled else None


def _whole(app):
    """`app` as a bare ASGI callable. BentoML mounts Starlette apps "passively" (a path the
    app has no route for falls through to the service's other routes); bare, the mount
    owns every path under its prefix: /web/anything is the pages' own answer (their 404
    page, their security headers), never another route's. The pages have no lifespan
    handlers, so nothing is lost by BentoML not running them."""

    async def asgi(scope, receive, send):
        await app(scope, receive, send)

    return asgi


@bentoml.service(
    name="dropout-risk",
    workers=SETTINGS.workers,
    threads=SETTINGS.threads,
    traffic={"timeout": 30, "max_concurrency": 256},
    tracing={} if SETTINGS.tracing else {"excluded_urls": ".*"},  # see DROPOUT_TRACING in settings.py
    logging={"access": {"enabled": SETTINGS.access_log, "request_content_length": True,
                        "response_content_length": True}},
)
class RiskService:
    """Risk of lapse in voluntary social insurance: who, how likely, and why."""

    def __init__(self) -> None:
        logs.install()
        STATE.start()

    def __is_ready__(self) -> bool:
        return STATE.ready

    def __is_alive__(self) -> bool:
        return STATE.alive

    @staticmethod
    def _answer(work):
        try:
            return work(STATE.engine)
        except Exception as err:
            resp = error_response(err)
            if resp is None:
                raise
            return resp

    @bentoml.api(route="/score", input_spec=ScoreRequest, output_spec=ScoreResponse)
    def score(self, **fields) -> ScoreResponse:
        """Risk, band and top reasons for people given by their raw records, on an as-of date."""
        request = ScoreRequest.model_construct(**fields)
        return self._answer(lambda engine: engine.score(request))

    @bentoml.api(route="/score_ids", input_spec=ScoreIdsRequest, output_spec=ScoreIdsResponse)
    def score_ids(self, **fields) -> ScoreIdsResponse:
        """The latest batch scores and reasons of people given by their ids."""
        request = ScoreIdsRequest.model_construct(**fields)
        return self._answer(lambda engine: engine.score_ids(request))

    @bentoml.api(route="/ranked", input_spec=RankedQuery, output_spec=RankedResponse)
    def ranked(self, **fields) -> RankedResponse:
        """The latest batch run's ranked list for a commune or a district (also GET /ranked)."""
        query = RankedQuery.model_construct(**fields)
        return self._answer(lambda engine: engine.ranked(query))

    @bentoml.api(route="/model", input_spec=NoInput, output_spec=ModelInfo)
    def model(self) -> ModelInfo:
        """Model name, version, training date, backtest metrics and features (also GET /model)."""
        return STATE.engine.model_info()


if WEB_APP is not None:
    RiskService.mount_asgi_app(_whole(WEB_APP), path=WEB_PATH, name="web")
RiskService.mount_asgi_app(make_app(STATE), path="/")
RiskService.add_asgi_middleware(Guard, state=STATE, api_paths=API_PATHS, methods=route_methods(),
                                max_body_bytes=SETTINGS.max_body_bytes,
                                own_auth_prefixes=(WEB_PATH,) if WEB_APP is not None else ())
STATE._openapi_factory = build_spec
