"""From a /score request's JSON records to a checked, typed `Tables`.

The request's records become the raw tables of the data contract (`request_tables`),
are checked against the contract's rules between rows (`contract.py`; the column rules
were checked by the request model), and typed as `validate_raw` types a data folder
(`typed_tables`). A refusal names the request's own field paths
(`participants.0.installments.3.paid_on`), which is what a caller can act on.

The validated records are then joined with the reference data (`Reference`): the rows
of the same villages (the neighbours the community features count), the disasters of
their communes and the subsidy policies. A person's records in the request replace
whatever the reference data holds about them and their household.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from dropout.errors import DropoutError
from dropout.io import TABLE_NAMES, Tables
from dropout.service.models import ParticipantIn, ScoreRequest

class RequestError(DropoutError, ValueError):
    """A request that passed pydantic but cannot be scored; `errors` are pydantic-style dicts."""

    def __init__(self, errors: list[dict], message: str = "the records do not meet the data contract"):
        self.errors = errors
        super().__init__(f"{message}: {len(errors)} problem(s)")


# ---------------------------------------------------------------- reference data


@dataclass
class Reference:
    """Validated reference tables, split by village once so a request takes only its part."""

    tables: Tables
    by_village: dict[str, Tables] = field(default_factory=dict, repr=False)

    @classmethod
    def from_tables(cls, tables: Tables) -> "Reference":
        from dropout.score.core import split_tables

        villages = tables.villages.reset_index(drop=True)
        ids = villages["village_id"].astype("str").tolist()
        # split_tables works by district; giving each village its own "district" label
        # reuses its row routing (participants by village, installments by participant,
        # poverty by household, disasters by commune) one village at a time. The real
        # village row is put back afterwards.
        relabelled = tables.replace(villages=villages.assign(district=villages["village_id"].astype("str")))
        by_village = {
            v: part.replace(villages=villages.iloc[[i]])
            for i, (v, part) in enumerate(zip(ids, split_tables(relabelled, [[v] for v in ids])))
        }
        return cls(tables, by_village)

    @classmethod
    def empty(cls) -> "Reference":
        from dropout.reference import subsidy_policies
        from dropout.schema import contract

        dtypes = {"int": "int64", "float": "float64", "str": "str", "date": "datetime64[ns]"}
        empty = {
            name: pd.DataFrame({c: pd.Series([], dtype="Int64" if (col.kind == "int" and col.nullable)
                                            else dtypes[col.kind]) for c, col in cols.items()})
            for name, cols in contract().items()
        }
        return cls(Tables(**empty).replace(subsidy_policies=subsidy_policies()), {})

    @property
    def extracted_on(self) -> pd.Timestamp | None:
        return None if not self.by_village else pd.Timestamp(self.tables.extracted_on)

    def villages(self, ids) -> pd.DataFrame:
        v = self.tables.villages
        return v[v["village_id"].astype("str").isin(list(ids))]

    def slices(self, village_ids) -> list[Tables]:
        return [self.by_village[v] for v in village_ids if v in self.by_village]


# ---------------------------------------------------------------- request -> raw tables


@dataclass
class RawRequest:
    """The request's rows as raw tables, and where each row came from in the request."""

    raw: dict[str, pd.DataFrame | None]
    origin: dict[str, list[tuple]]  # table -> per row, the loc prefix in the request
    extracted_on: pd.Timestamp


def _frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def request_tables(request: ScoreRequest, reference: Reference, today: date | None = None) -> RawRequest:
    """The request's records as contract tables (not yet validated)."""
    from dropout.schema import contract

    spec = contract()
    rows: dict[str, list[dict]] = {n: [] for n in TABLE_NAMES}
    origin: dict[str, list[tuple]] = {n: [] for n in TABLE_NAMES}
    seen_spells: set[tuple] = set()
    for i, rec in enumerate(request.participants):
        p = rec.participant
        rows["participants"].append(p.model_dump())
        origin["participants"].append(("participants", i, "participant"))
        for j, inst in enumerate(rec.installments):
            rows["installments"].append({"participant_id": p.participant_id, **inst.model_dump()})
            origin["installments"].append(("participants", i, "installments", j))
        for j, spell in enumerate(rec.poverty):
            row = {"household_id": p.household_id, **spell.model_dump()}
            key = tuple(row.values())
            if key in seen_spells:  # people of one household each send its spells
                continue
            seen_spells.add(key)
            rows["poverty"].append(row)
            origin["poverty"].append(("participants", i, "poverty", j))
        for j, visit in enumerate(rec.visits):
            home = visit.kind == "home_visit"
            rows["visits"].append({
                "visit_id": len(rows["visits"]) + 1, "participant_id": p.participant_id if home else None,
                "village_id": p.village_id, "visited_on": visit.visited_on, "kind": visit.kind,
                "language": visit.language, "outcome_note": None,
            })
            origin["visits"].append(("participants", i, "visits", j))
        if rec.withdrawn_on is not None:
            rows["withdrawals"].append({"participant_id": p.participant_id, "claimed_on": rec.withdrawn_on})
            origin["withdrawals"].append(("participants", i, "withdrawn_on"))
    if request.villages is not None:
        rows["villages"] = [v.model_dump() for v in request.villages]
        origin["villages"] = [("villages", k) for k in range(len(rows["villages"]))]
    else:
        wanted = {rec.participant.village_id for rec in request.participants}
        known = reference.villages(wanted)
        unknown = wanted - set(known["village_id"].astype("str"))
        if unknown:
            raise RequestError([
                {"loc": ["participants", i, "participant", "village_id"],
                 "msg": "village not in the reference data (DROPOUT_DATA_DIR): give `villages` in the request",
                 "type": "unknown_village"}
                for i, rec in enumerate(request.participants) if rec.participant.village_id in unknown
            ], "unknown village")
        origin["villages"] = [("reference", "villages")] * len(known)
    if request.disasters is not None:
        rows["disasters"] = [d.model_dump() for d in request.disasters]
        origin["disasters"] = [("disasters", k) for k in range(len(rows["disasters"]))]

    raw: dict[str, pd.DataFrame | None] = {}
    for name in TABLE_NAMES:
        columns = list(spec[name])
        if name == "subsidy_policies":
            raw[name] = reference.tables.subsidy_policies
        elif name == "villages" and request.villages is None:
            raw[name] = known.reset_index(drop=True)
        elif name in ("disasters",) and request.disasters is None:
            raw[name] = None
        else:
            raw[name] = _frame(rows[name], columns)
    for name in ("installments", "poverty", "visits", "withdrawals", "participants", "villages", "disasters"):
        df = raw[name]
        if df is None or (name == "villages" and request.villages is None):
            continue
        for c, col in spec[name].items():
            if col.kind == "date":
                df[c] = pd.to_datetime(df[c]).astype("datetime64[ns]")
            elif col.kind == "int" and col.nullable:
                df[c] = df[c].astype("Int64")
    if request.extracted_on is not None:
        extracted = pd.Timestamp(request.extracted_on)
    else:
        extracted = pd.Timestamp(today or date.today())
    return RawRequest(raw, origin, extracted)


def typed_tables(req: RawRequest) -> Tables:
    """The request's raw tables typed as `validate_raw` types them (int64, Int64, str, datetime64[ns])."""
    from dropout.schema import contract

    dtypes = {"int": "int64", "float": "float64", "date": "datetime64[ns]"}
    out = {}
    for name, cols in contract().items():
        df = req.raw[name]
        if name == "subsidy_policies":
            out[name] = df
            continue
        df = pd.DataFrame({c: [] for c in cols}) if df is None else df
        typed = {}
        for c, col in cols.items():
            s = df[c]
            if col.kind == "str":
                typed[c] = s.astype("str").where(s.notna()) if len(s) else s.astype("str")
            elif col.kind == "int" and col.nullable:
                typed[c] = s.astype("Int64")
            else:
                typed[c] = s.astype(dtypes[col.kind])
        out[name] = pd.DataFrame(typed)
    return Tables(**out, extracted_on=req.extracted_on)


def validate_request(request: ScoreRequest, reference: Reference, today: date | None = None) -> Tables:
    """The request's records, checked against the data contract, as a typed `Tables`.

    Column types, values and ranges were checked by the request model; the rules
    between rows by `contract.request_problems` (held to `validate_raw` by a test).

    Raises:
        RequestError: with field paths, when the records break the contract.
    """
    from dropout.service.contract import request_problems

    req = request_tables(request, reference, today)
    villages = req.raw["villages"]
    errors = request_problems(request, set(villages["village_id"].astype("str")),
                              set(villages["commune"].astype("str")), req.extracted_on.date())
    if errors:
        raise RequestError(errors)
    return typed_tables(req)


# ---------------------------------------------------------------- join with the reference


def scoring_tables(request: ScoreRequest, reference: Reference, today: date | None = None) -> Tables:
    """The request's validated records joined with the neighbours from the reference data.

    The reference rows kept are those of the villages the request's people live in,
    minus everything about the request's people and their households (their records in
    the request replace them). Disasters: the request's when given, else the reference's
    for those villages' communes.
    """
    own = validate_request(request, reference, today)
    if request.villages is not None and not any(v.village_id in reference.by_village for v in request.villages):
        return own
    village_ids = sorted(set(own.participants["village_id"].astype("str")))
    parts = reference.slices(village_ids)
    if not parts:
        return own
    pids = own.participants["participant_id"].to_numpy(np.int64)
    households = own.participants["household_id"].to_numpy(np.int64)

    def ref(name: str) -> pd.DataFrame:
        return pd.concat([getattr(t, name) for t in parts], ignore_index=True) if len(parts) > 1 \
            else getattr(parts[0], name)

    participants = ref("participants")
    participants = participants[~participants["participant_id"].isin(pids)]
    installments = ref("installments")
    installments = installments[~installments["participant_id"].isin(pids)]
    withdrawals = ref("withdrawals")
    withdrawals = withdrawals[~withdrawals["participant_id"].isin(pids)]
    poverty = ref("poverty")
    poverty = poverty[~poverty["household_id"].isin(households)]
    visits = ref("visits")
    visits = visits[~visits["participant_id"].isin(pids)]
    # An evening session the caller also sent (same village, day, kind) counts once.
    own_visits = own.visits
    if len(own_visits) and len(visits):
        key = ["village_id", "visited_on", "kind"]
        dup = own_visits[key].merge(visits[key].drop_duplicates(), on=key, how="left", indicator=True)
        own_visits = own_visits[(dup["_merge"].to_numpy() == "left_only") | own_visits["participant_id"].notna().to_numpy()]
    visits_all = _concat(visits, own_visits)
    if len(visits_all):
        visits_all = visits_all.assign(visit_id=np.arange(1, len(visits_all) + 1, dtype=np.int64))
    villages = own.villages if request.villages is not None else ref("villages")
    disasters = own.disasters if request.disasters is not None else ref("disasters")
    return Tables(
        villages=villages,
        participants=_concat(participants, own.participants),
        installments=_concat(installments, own.installments),
        poverty=_concat(poverty, own.poverty),
        disasters=disasters,
        subsidy_policies=own.subsidy_policies,
        visits=visits_all,
        withdrawals=_concat(withdrawals, own.withdrawals),
        extracted_on=own.extracted_on,
    )


def _concat(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    if not len(a):
        return b.reset_index(drop=True)
    if not len(b):
        return a.reset_index(drop=True)
    out = pd.concat([a, b[a.columns]], ignore_index=True)
    for c in a.columns:  # keep the contract dtypes (concat may widen Int64 + int64 to object)
        if out[c].dtype != a[c].dtype:
            try:
                out[c] = out[c].astype(a[c].dtype)
            except (TypeError, ValueError):
                pass
    return out


# ---------------------------------------------------------------- Tables -> request


def _day(value) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date().isoformat()


def _plain(value):
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def participant_records(tables: Tables, participant_ids) -> list[dict]:
    """The /score records (JSON-ready dicts) of people in a `Tables`: what a client sends.

    Home visits go with the person; evening sessions and neighbours stay in the reference data.
    """
    ids = [int(p) for p in participant_ids]
    parts = tables.participants.set_index("participant_id")
    missing = [p for p in ids if p not in parts.index]
    if missing:
        raise KeyError(f"participants not in the tables: {missing[:5]}")
    inst = {k: g for k, g in tables.installments[tables.installments["participant_id"].isin(ids)]
            .groupby("participant_id")}
    households = parts.loc[ids, "household_id"].tolist()
    pov = {k: g for k, g in tables.poverty[tables.poverty["household_id"].isin(households)].groupby("household_id")}
    home = tables.visits[tables.visits["participant_id"].isin(ids) & (tables.visits["kind"] == "home_visit")]
    vis = {int(k): g for k, g in home.groupby("participant_id")}
    withdrawn = tables.withdrawals.set_index("participant_id")["claimed_on"]
    empty = pd.DataFrame()
    out = []
    for pid in ids:
        p = parts.loc[pid]
        person = {"participant_id": pid, **{c: _plain(p[c]) for c in ParticipantIn.model_fields if c in parts.columns}}
        person["enrolled_on"] = _day(p["enrolled_on"])
        out.append({
            "participant": person,
            "installments": [
                {"period_start": _day(r.period_start), "due_on": _day(r.due_on), "months_covered": int(r.months_covered),
                 "income_base": int(r.income_base), "amount_due": int(r.amount_due), "paid_on": _day(r.paid_on),
                 "amount_paid": _plain(r.amount_paid)}
                for r in inst.get(pid, empty).itertuples()
            ],
            "poverty": [{"status": r.status, "valid_from": _day(r.valid_from), "valid_to": _day(r.valid_to)}
                        for r in pov.get(int(p["household_id"]), empty).itertuples()],
            "visits": [{"visited_on": _day(r.visited_on), "kind": r.kind, "language": r.language}
                       for r in vis.get(pid, empty).itertuples()],
            "withdrawn_on": _day(withdrawn.get(pid)),
        })
    return out
