"""The risk service's work, without any web framework: load once, then answer requests.

`RiskEngine.load(settings)` loads the model (a folder or the MLflow registry, through
`dropout.registry.resolve.resolve_model`), the feature catalog and the reference data,
prepared for requests (`records.Reference`: split by village, the neighbours' counts);
the score store is opened on first use and read with prepared statements
(`dropout.store.reads`). Each request method takes a validated request model and
returns a response model. Scoring goes through the batch scorer's own functions
(`check_job`, `due_participants`, `feature_values`, `score_values`) on the request's own
records: the service has no feature, risk or reason code of its own.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from dropout.errors import DropoutError
from dropout.score.output import reason_feature_columns, reason_text_columns
from dropout.service.models import (
    FeatureInfo,
    ModelInfo,
    MonitoringStatus,
    ModelRef,
    ParticipantScore,
    RankedQuery,
    RankedResponse,
    Reason,
    RunRef,
    ScoreIdsRequest,
    ScoreIdsResponse,
    ScoreRequest,
    ScoreResponse,
    StoredScore,
)
from dropout.service.records import Reference, RequestError, own_tables, validate_request
from dropout.service.settings import ServiceSettings

log = logging.getLogger("dropout.service")

DEFAULT_WINDOW_DAYS = 90  # when the model does not say its horizon


class NotFoundError(DropoutError, LookupError):
    """Nothing to answer with: no finished batch run, an unknown run id or area."""


@dataclass
class RiskEngine:
    """A loaded model, its catalog, the reference data and the score store."""

    model: object
    info: ModelInfo
    reference: Reference
    store_url: str | None = None
    catalog: object = None
    _sentence: object = field(default=None, repr=False)
    _store: object = field(default=None, repr=False)
    _reads: object = field(default=None, repr=False)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, settings: ServiceSettings) -> "RiskEngine":
        """Load everything a request needs; raise a DropoutError naming what is missing."""
        from dropout.features.catalog import load_catalog, reason_sentence
        from dropout.io import load_tables
        from dropout.registry.resolve import resolve_model

        from dropout.registry.scope import data_scope

        t0 = time.perf_counter()
        tables = load_tables(settings.data_dir) if settings.data_dir else None
        # A bare alias (champion) is the champion of the reference data's scope.
        scope = data_scope(tables) if tables is not None else None
        ref = resolve_model(settings.model, tracking_uri=settings.tracking_uri, scope=scope)
        catalog = load_catalog()
        missing = [f for f in ref.model.feature_names if f not in catalog]
        if missing:
            raise DropoutError(f"the model uses features the catalog does not list: {missing[:10]}")
        reference = Reference.from_tables(tables) if tables is not None else Reference.empty()
        engine = cls(
            model=ref.model,
            info=describe_model(ref, catalog, settings.tracking_uri),
            reference=reference,
            store_url=settings.store_url,
            catalog=catalog,
        )
        engine._sentence = functools.partial(reason_sentence, catalog=catalog)
        log.info("model %s version %s loaded with %d features, %d reference villages, in %.1f s",
                 engine.info.name, engine.info.version, len(engine.info.features),
                 len(reference.by_village), time.perf_counter() - t0)
        return engine

    @property
    def horizon_days(self) -> int:
        return int(self.info.horizon_days or DEFAULT_WINDOW_DAYS)

    def model_info(self) -> ModelInfo:
        """`info` with the latest monitoring status of the store (read at each call)."""
        if not self.store_url:
            return self.info
        from dropout.store.monitoring import latest_status

        try:
            status = latest_status(self.store_url)
        except Exception as exc:  # an unreachable store must not take /model down
            log.warning("monitoring status unavailable (%s)", type(exc).__name__)
            return self.info
        if status is None:
            return self.info
        status["alerts"] = [{k: a[k] for k in ("kind", "message_en", "message_vi")} for a in status["alerts"]]
        return self.info.model_copy(update={"monitoring": MonitoringStatus(**status)})

    def model_ref(self) -> ModelRef:
        return ModelRef(name=self.info.name, version=self.info.version, sha256=self.info.sha256)

    # ------------------------------------------------------------------ /score

    def score(self, request: ScoreRequest, today: date | None = None) -> ScoreResponse:
        """Risk, band and reasons for the request's people, as the batch scorer gives them.

        Raises:
            RequestError: records that break the data contract, or an as-of the data
                cannot answer (field paths in `.errors`).
        """
        from dropout.features import feature_values
        from dropout.score import EmptyWindowError, ScoringInputError, check_job, due_participants
        from dropout.score.core import feature_context, score_values

        window = request.window_days or self.horizon_days
        own = validate_request(request, self.reference, today)
        ids = [rec.participant.participant_id for rec in request.participants]
        try:
            job = check_job(own, pd.Timestamp(request.as_of), window)
        except ScoringInputError as err:
            raise RequestError([{"loc": ["as_of"], "msg": str(err), "type": "as_of"}],
                               "the as-of date cannot be scored") from None
        # The request's own records, their villages' rows and sessions; the neighbours
        # the community features count come as prepared counts (`own_tables`). One
        # feature Context for who is due and their features: the ledger is sorted once.
        tables, outside = own_tables(request, own, self.reference)
        context = feature_context(tables, outside=outside)
        try:
            due = due_participants(tables, job, context=context)
        except EmptyWindowError:
            due = None
        by_id: dict[int, dict] = {}
        if due is not None:
            # The batch scorer's core (`score_values`) on the people's feature rows.
            names = list(self.model.feature_names)
            positions = np.searchsorted(context.participant_id, due["participant_id"].to_numpy(np.int64))
            values = feature_values(context, job.as_of, positions, names)
            risk, reasons = score_values(values, self.model, sentence=self._sentence, langs=(request.lang,),
                                         as_lists=True)
            by_id = _records(due, risk, reasons, request.lang)
        results = []
        for pid in ids:
            r = by_id.get(pid)
            if r is None:
                results.append(ParticipantScore(
                    participant_id=pid, scored=False,
                    note=_not_due_note(job),
                ))
                continue
            results.append(ParticipantScore(
                participant_id=pid, scored=True, risk=r["risk"], risk_band=r["risk_band"],
                due_on=r["due_on"], amount_due=r["amount_due"],
                net_amount=r["net_amount"], status=r["status"],
                arrears_installments=r["arrears_installments"], arrears_vnd=r["arrears_vnd"],
                reasons=_reasons(r, request.lang),
            ))
        return ScoreResponse(model=self.model_ref(), as_of=request.as_of, window_days=job.window_days,
                             lang=request.lang, results=results)

    # ------------------------------------------------------------------ store readers

    def store(self):
        from dropout.store import ScoreStore

        if self._store is None:
            self._store = ScoreStore(self.store_url)
        return self._store

    def reads(self):
        """The store's prepared reads (`dropout.store.reads`), made on first use."""
        from dropout.store.reads import ScoreReads

        if self._reads is None:
            self._reads = ScoreReads(self.store())
        return self._reads

    def _run(self, run_id: str | None):
        reads = self.reads()
        if not reads.has_runs():
            raise NotFoundError("the score store holds no batch run yet; run `dropout score` first")
        run = reads.run(run_id)
        if run is None:
            raise NotFoundError(f"no batch run {run_id!r} in the score store" if run_id
                                else "the score store holds no finished batch run yet; run `dropout score` first")
        if run.status != "finished":
            raise NotFoundError(f"batch run {run.run_id} is {run.status}, not finished")
        return run

    def score_ids(self, request: ScoreIdsRequest) -> ScoreIdsResponse:
        """The latest finished batch run's rows for these people (or run `run_id`'s)."""
        run = self._run(request.run_id)
        ids = list(dict.fromkeys(request.participant_ids))
        rows = self.reads().rows(run.run_id, participant_ids=ids)
        found = {int(r["participant_id"]) for r in rows}
        return ScoreIdsResponse(run=_run_ref(run), lang=request.lang, results=_stored(rows, request.lang),
                                missing=[i for i in ids if i not in found])

    def ranked(self, query: RankedQuery) -> RankedResponse:
        """The latest finished run's rows for a commune and/or a district, highest risk first.

        With a commune: by rank in the commune; else by district and rank in the district.
        """
        run = self._run(query.run_id)
        rows = self.reads().rows(run.run_id, commune=query.commune, district=query.district, limit=query.limit)
        return RankedResponse(run=_run_ref(run), lang=query.lang, commune=query.commune, district=query.district,
                              results=_stored(rows, query.lang))

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None
            self._reads = None


# ---------------------------------------------------------------- helpers


def _records(due: pd.DataFrame, risk: np.ndarray, reasons: dict[str, list], lang: str) -> dict[int, dict]:
    """participant_id -> the fields a response uses, as plain Python values (only those:
    `to_dict` of every column costs more than the scoring of one person)."""
    from dropout.score.output import risk_band

    columns = {c: due[c].tolist() for c in ("participant_id", "amount_due", "net_amount", "status",
                                            "arrears_installments", "arrears_vnd")}
    columns["due_on"] = due["due_on"].to_numpy().astype("datetime64[D]").tolist()
    columns["risk"] = risk.tolist()
    columns["risk_band"] = [str(b) for b in risk_band(risk)]
    for c in (*reason_text_columns(lang), *reason_feature_columns()):
        columns[c] = reasons[c]  # `explain(as_lists=True)`: plain values, None where empty
    return {int(pid): {c: values[i] for c, values in columns.items()}
            for i, pid in enumerate(columns["participant_id"])}


def _reasons(row: dict, lang: str) -> list[Reason]:
    out = []
    for text_col, feature_col in zip(reason_text_columns(lang), reason_feature_columns()):
        text, feature = row.get(text_col), row.get(feature_col)
        if _present(text) and _present(feature):
            out.append(Reason(feature=str(feature), text=str(text)))
    return out


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NA and str(v) != ""


def _not_due_note(job) -> str:
    return (f"no installment of this person falls due between {job.as_of.date()} and "
            f"{job.window_end.date()} (or the person is not enrolled at as_of): nothing to score")


def _run_ref(run) -> RunRef:
    return RunRef(run_id=run.run_id, as_of=pd.Timestamp(run.as_of).date(), window_days=int(run.window_days),
                  model_name=run.model_name, model_version=run.model_version,
                  finished_at=run.finished_at.isoformat() if run.finished_at else None)


def _stored(rows: list[dict], lang: str) -> list[StoredScore]:
    """Store rows (`ScoreReads.rows`: plain values) as response rows in the asked language."""
    out = []
    for r in rows:
        action = r.get(f"action_{lang}")
        out.append(StoredScore(
            participant_id=int(r["participant_id"]), village_id=str(r["village_id"]), commune=str(r["commune"]),
            district=str(r["district"]), due_on=_date(r["due_on"]), amount_due=int(r["amount_due"]),
            net_amount=float(r["net_amount"]), status=str(r["status"]),
            arrears_installments=int(r["arrears_installments"]), arrears_vnd=int(r["arrears_vnd"]),
            risk=float(r["risk"]), risk_band=str(r["risk_band"]), rank_in_district=int(r["rank_in_district"]),
            rank_in_commune=int(r["rank_in_commune"]), reasons=_reasons(r, lang),
            arrears_months=int(r.get("arrears_months") or 0),
            arrears_since=None if r.get("arrears_since") is None else _date(r["arrears_since"]),
            action=None if not _present(action) else str(action),
        ))
    return out


def _date(value) -> date:
    """A stored date as `datetime.date` (drivers give dates; text from an older SQLite file)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return pd.Timestamp(value).date()


def describe_model(ref, catalog, tracking_uri: str | None = None) -> ModelInfo:
    """Name, version, training date, backtest metrics and features of a loaded model."""
    model = ref.model
    meta = dict(getattr(model, "metadata", {}) or {})
    trained_on, backtest = None, {}
    source = str(ref.source)
    if source.startswith("models:/"):
        trained_on, backtest = _registry_facts(ref, tracking_uri)
    else:
        folder = Path(source)
        model_file = next((folder / n for n in ("model.txt", "model.lgb") if (folder / n).exists()), None)
        if model_file is not None:
            trained_on = datetime.fromtimestamp(model_file.stat().st_mtime, tz=timezone.utc).isoformat(timespec="seconds")
        backtest = _folder_metrics(folder.parent / "metrics.json")
    features = []
    for name in model.feature_names:
        spec = catalog[name] if name in catalog else None
        features.append(FeatureInfo(name=name, family=getattr(spec, "family", None), meaning=getattr(spec, "meaning", None),
                                    unit=getattr(spec, "unit", None), direction=getattr(spec, "direction", None)))
    alias = source.split("@", 1)[1] if source.startswith("models:/") and "@" in source else None
    return ModelInfo(
        name=ref.name, version=ref.version, alias=alias, source=source if source.startswith("models:/") else "folder",
        sha256=ref.sha256, target=meta.get("target"),
        horizon_days=int(meta["horizon_days"]) if meta.get("horizon_days") is not None else None,
        trained_on=trained_on or meta.get("trained_through_as_of"), backtest=backtest, features=features,
    )


def _folder_metrics(path: Path) -> dict[str, float | None]:
    import json

    if not path.exists():
        return {}
    try:
        test = json.loads(path.read_text(encoding="utf-8")).get("test", {}).get("model", {})
    except (ValueError, AttributeError):
        return {}
    return {k: _num(v) for k, v in test.items()}


def _registry_facts(ref, tracking_uri):
    from dropout.registry.tracking import client

    name, alias = ref.source.removeprefix("models:/").split("@", 1)
    c = client(tracking_uri)
    mv = c.get_model_version_by_alias(name, alias)
    trained_on = datetime.fromtimestamp(mv.creation_timestamp / 1000, tz=timezone.utc).isoformat(timespec="seconds")
    metrics = c.get_run(mv.run_id).data.metrics if mv.run_id else {}
    backtest = {k.removeprefix("test/model/"): _num(v) for k, v in metrics.items() if k.startswith("test/model/")}
    return trained_on, backtest


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None
