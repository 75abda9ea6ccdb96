"""Request and response bodies of the risk service (pydantic), with their limits.

Request records follow the data contract (docs/data.md): the types, allowed values and
ranges of every column come from `dropout.schema.contract()`, so the HTTP door and a
data folder refuse the same values; the rules between rows and tables (a payment before
enrolment, overlapping poverty spells, an unknown village) are checked afterwards by
`dropout.schema.validate_raw` itself (see `records.py`).

Every request model refuses unknown fields and takes values in their JSON types only
(strict: "3" is not a number, dates are `YYYY-MM-DD`). A whole number may be written
3.0, as JSON Schema's `integer` allows (3.5 is refused).
Every list has a maximum length, so the size of the work a request can ask for is bounded
before anything is computed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from dropout.schema import contract
from dropout.score.output import BANDS, LANGS, N_REASONS, STATUSES
from dropout.strict import Strict as StrictBase
from dropout.textsafe import NO_CONTROL_PATTERN

# ---------------------------------------------------------------- limits (one place)

MAX_PARTICIPANTS = 50  # participants per /score request
MAX_INSTALLMENTS = 400  # per participant: 30 years of monthly installments + the next 12
MAX_POVERTY_SPELLS = 60
MAX_VISITS = 200
MAX_VILLAGES = 200
MAX_DISASTERS = 2000
MAX_IDS = 1000  # participant ids per /score_ids request
MAX_RANKED = 1000  # rows per /ranked answer
MAX_TEXT = 200  # characters of any name or code
MAX_ID = 9_999_999_999  # participant_id is the 10-digit social insurance number
MAX_INT = 2**53  # other whole numbers: exact in JSON doubles and in int64
FIRST_DAY = date(1990, 1, 1)  # voluntary SI started in 2008; nothing before 1990 is plausible
LAST_DAY = date(2100, 12, 31)

def _whole_float(value):
    """3.0 -> 3: JSON Schema calls it an integer, so the service takes it as one."""
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_INT:
        return int(value)
    return value


Whole = BeforeValidator(_whole_float)
Lang = Literal[LANGS]
Band = Literal[BANDS]
Status = Literal[STATUSES]
Day = Annotated[
    date,
    Field(ge=FIRST_DAY, le=LAST_DAY, description=f"calendar day YYYY-MM-DD, {FIRST_DAY} to {LAST_DAY}"),
]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT, pattern=NO_CONTROL_PATTERN,
                            description="1-200 characters, no control characters (NUL, line breaks, ...)")]


class Strict(StrictBase):
    """Base of every request body: unknown fields and loose types are refused."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Out(BaseModel):
    """Base of every response body."""

    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- contract-derived types


def col(table: str, column: str, *, nullable: bool | None = None) -> Any:
    """The type of one contract column as a pydantic annotation (checks become bounds).

    `isin` becomes a Literal, `in_range`/`gt`/`ge` become bounds; whole numbers are capped
    so that pandas never overflows, text is 1-200 characters, dates are `Day`.
    """
    spec = contract()[table][column]
    constraints: dict[str, Any] = {}
    allowed = None
    for check in spec.checks:
        stats = check.statistics or {}
        if check.name == "isin":
            allowed = tuple(stats["allowed_values"])
        elif check.name == "in_range":
            constraints["ge" if stats.get("include_min", True) else "gt"] = stats["min_value"]
            constraints["le" if stats.get("include_max", True) else "lt"] = stats["max_value"]
        elif check.name == "greater_than":
            constraints["gt"] = stats["min_value"]
        elif check.name == "greater_than_or_equal_to":
            constraints["ge"] = stats["min_value"]
        else:  # a check we cannot express stays with validate_raw
            continue
    if allowed is not None:
        typ: Any = Literal[allowed]
    elif spec.kind == "int":
        top = MAX_ID if column == "participant_id" else MAX_INT
        constraints["le"] = min(constraints.get("le", top), top)
        if "gt" not in constraints and "ge" not in constraints:
            constraints["ge"] = -MAX_INT
        typ = Annotated[int, Field(**constraints), Whole]
    elif spec.kind == "float":
        typ = Annotated[float, Field(allow_inf_nan=False, **constraints)]
    elif spec.kind == "date":
        typ = Day
    else:
        typ = Text
    if nullable if nullable is not None else spec.nullable:
        return typ | None
    return typ


# ---------------------------------------------------------------- request records


class ParticipantIn(Strict):
    """One person (contract table `participants`)."""

    participant_id: col("participants", "participant_id")
    household_id: col("participants", "household_id")
    village_id: col("participants", "village_id")
    birth_year: col("participants", "birth_year")
    sex: col("participants", "sex")
    ethnicity: col("participants", "ethnicity")
    occupation: col("participants", "occupation")
    enrolled_on: col("participants", "enrolled_on")
    payment_mode: col("participants", "payment_mode")
    income_base: col("participants", "income_base")


class InstallmentIn(Strict):
    """One contribution falling due (contract table `installments`, without participant_id)."""

    period_start: col("installments", "period_start")
    due_on: col("installments", "due_on")
    months_covered: col("installments", "months_covered")
    income_base: col("installments", "income_base")
    amount_due: col("installments", "amount_due")
    paid_on: col("installments", "paid_on") = None
    amount_paid: col("installments", "amount_paid") = None


class PovertySpellIn(Strict):
    """One status spell of the participant's household (contract table `poverty`)."""

    status: col("poverty", "status")
    valid_from: col("poverty", "valid_from")
    valid_to: col("poverty", "valid_to") = None


class VisitIn(Strict):
    """An outreach contact: a home visit to this person or an evening session in their village."""

    visited_on: col("visits", "visited_on")
    kind: col("visits", "kind")
    language: col("visits", "language")


class VillageIn(Strict):
    """A village (contract table `villages`), when not taken from the reference data."""

    village_id: col("villages", "village_id")
    commune: col("villages", "commune")
    district: col("villages", "district")
    province: col("villages", "province")
    travel_minutes: col("villages", "travel_minutes")
    ethnic_language: col("villages", "ethnic_language")


class DisasterIn(Strict):
    """A disaster in a commune (contract table `disasters`), when not taken from the reference data."""

    commune: col("disasters", "commune")
    started_on: col("disasters", "started_on")
    kind: col("disasters", "kind")
    severity: col("disasters", "severity")


class ParticipantRecords(Strict):
    """Everything the service needs about one person: their raw records as in a data folder."""

    participant: ParticipantIn
    installments: list[InstallmentIn] = Field(min_length=1, max_length=MAX_INSTALLMENTS)
    poverty: list[PovertySpellIn] = Field(default_factory=list, max_length=MAX_POVERTY_SPELLS)
    visits: list[VisitIn] = Field(default_factory=list, max_length=MAX_VISITS)
    withdrawn_on: Day | None = Field(default=None, description="day of a lump-sum withdrawal claim, if any")


class ScoreRequest(Strict):
    """POST /score: raw records of one or more people and the day to score them on.

    `villages` and `disasters`, when given, replace the reference data loaded at start-up
    (`DROPOUT_DATA_DIR`); otherwise the people's villages and their communes' disasters,
    and the neighbours the community features count, come from the reference data.
    """

    as_of: Day
    participants: list[ParticipantRecords] = Field(min_length=1, max_length=MAX_PARTICIPANTS)
    lang: Lang = "vi"
    window_days: Annotated[int, Whole] | None = Field(
        default=None, ge=1, le=366,
        description="score people whose next installment falls due within this many days "
                    "after as_of (default: the model's horizon)",
    )
    villages: list[VillageIn] | None = Field(default=None, max_length=MAX_VILLAGES)
    disasters: list[DisasterIn] | None = Field(default=None, max_length=MAX_DISASTERS)
    extracted_on: Day | None = Field(
        default=None,
        description="day these records were taken (default: the later of as_of and the reference "
                    "data's extraction day); no event may be dated after it",
    )


class ScoreIdsRequest(Strict):
    """POST /score_ids: people whose latest batch scores to return."""

    participant_ids: list[Annotated[int, Field(gt=0, le=MAX_ID), Whole]] = Field(min_length=1, max_length=MAX_IDS)
    lang: Lang = "vi"
    run_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")] | None = Field(
        default=None, description="a batch run id (default: the latest finished run)"
    )


class NoInput(Strict):
    """An empty body (`{}`), for the POST form of GET routes."""


class RankedQuery(Strict):
    """GET /ranked: a commune's or a district's risk list from the latest batch run."""

    commune: Text | None = None
    district: Text | None = None
    limit: Annotated[int, Whole] = Field(default=50, ge=1, le=MAX_RANKED)
    lang: Lang = "vi"
    run_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")] | None = None


# ---------------------------------------------------------------- responses


class Reason(Out):
    feature: str
    text: str


class ModelRef(Out):
    name: str
    version: str | None = None
    sha256: str | None = Field(default=None, description="The model's digest: sha256 over every file of its folder (model.txt, calibration, features, metadata), as recorded by scoring runs.")


class ParticipantScore(Out):
    """One person's score. `scored` is False when nobody could be scored (see `note`)."""

    participant_id: int
    scored: bool
    risk: float | None = Field(default=None, ge=0.0, le=1.0)
    risk_band: Band | None = None
    due_on: date | None = None
    amount_due: int | None = None
    net_amount: float | None = None
    status: Status | None = None
    arrears_installments: int | None = None
    arrears_vnd: int | None = None
    reasons: list[Reason] = Field(default_factory=list, max_length=N_REASONS)
    note: str | None = None


class ScoreResponse(Out):
    model: ModelRef
    as_of: date
    window_days: int
    lang: Lang
    results: list[ParticipantScore]


class RunRef(Out):
    run_id: str
    as_of: date
    window_days: int
    model_name: str
    model_version: str | None = None
    finished_at: str | None = None


class StoredScore(Out):
    """One row of a batch run (the score store), reasons in the asked language."""

    participant_id: int
    village_id: str
    commune: str
    district: str
    due_on: date
    amount_due: int
    net_amount: float
    status: Status
    arrears_installments: int
    arrears_vnd: int
    arrears_months: int = 0
    arrears_since: date | None = None
    risk: float
    risk_band: Band
    rank_in_district: int
    rank_in_commune: int
    reasons: list[Reason] = Field(default_factory=list, max_length=N_REASONS)
    action: str | None = None  # the suggested action of the first reason, in the asked language


class ScoreIdsResponse(Out):
    run: RunRef
    lang: Lang
    results: list[StoredScore]
    missing: list[int] = Field(description="ids asked for that the run did not score")


class RankedResponse(Out):
    run: RunRef
    lang: Lang
    commune: str | None = None
    district: str | None = None
    results: list[StoredScore]


class FeatureInfo(Out):
    name: str
    family: str | None = None
    meaning: str | None = None
    unit: str | None = None
    direction: str | None = None


class MonitoringAlert(Out):
    kind: str
    message_en: str
    message_vi: str


class MonitoringStatus(Out):
    """The newest monitored scoring run of the store (`dropout monitor`)."""

    run_id: str
    as_of: str
    status: str  # ok | alert
    alerts: list[MonitoringAlert] = Field(default_factory=list)
    computed_at: str | None = None
    monitored_with_export_of: str | None = None
    model_version: str | None = None
    outcomes_known: int = 0


class ModelInfo(Out):
    name: str
    version: str | None = None
    alias: str | None = None
    source: str
    sha256: str | None = Field(default=None, description="The model's digest: sha256 over every file of its folder (model.txt, calibration, features, metadata), as recorded by scoring runs.")
    target: str | None = None
    horizon_days: int | None = None
    trained_on: str | None = None
    backtest: dict[str, float | None] = Field(default_factory=dict)
    features: list[FeatureInfo]
    monitoring: MonitoringStatus | None = None  # none until `dropout monitor` ran on the store


class ErrorDetail(BaseModel):
    """One problem: where (`loc`, the field path), what (`msg`) and its kind (`type`)."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(Out):
    """What every refused request gets back: a message, and for bad input the field paths."""

    error: str
    detail: list[ErrorDetail] | str | None = None
