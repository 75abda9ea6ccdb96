"""The dropout risk service (BentoML 1.4): score, explain, ranked lists, model card, health.

    bentoml serve service.service:RiskService --host 127.0.0.1 --port 3000   # from the repo root
    dropout serve                                                           # the same, configured

The work is done by `dropout.service` (a plain library, tested without a server); this
file only wires it into BentoML: the APIs, the guard middleware (API keys, body limits,
content types, readiness), the GET routes and the corrected OpenAPI document. Settings
are environment variables (see `dropout/service/settings.py`).
"""

from __future__ import annotations

import os

# One person at a time: LightGBM's threads would only add overhead in a threaded server.
os.environ.setdefault("OMP_NUM_THREADS", "1")

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
    from dropout.service.settings import ServiceSettings
    from dropout.service.state import ServiceState

SETTINGS = ServiceSettings.from_env()
STATE = ServiceState(SETTINGS)
API_PATHS = frozenset({"/score", "/score_ids", "/ranked", "/model"})


@bentoml.service(
    name="dropout-risk",
    workers=SETTINGS.workers,
    threads=SETTINGS.threads,
    traffic={"timeout": 30, "max_concurrency": 256},
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
        return STATE.engine.info


RiskService.mount_asgi_app(make_app(STATE), path="/")
RiskService.add_asgi_middleware(Guard, state=STATE, api_paths=API_PATHS, methods=route_methods(),
                                max_body_bytes=SETTINGS.max_body_bytes)
STATE._openapi_factory = build_spec
