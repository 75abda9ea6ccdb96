"""From a /score request's JSON records to a checked, typed `Tables`.

The request's records become the raw tables of the data contract (`request_tables`),
are checked against the contract's rules between rows (`contract.py`; the column rules
were checked by the request model), and typed as `validate_raw` types a data folder
(`request_tables`). A refusal names the request's own field paths
(`participants.0.installments.3.paid_on`), which is what a caller can act on.

The validated records are then joined with the reference data (`Reference`): their
villages' rows and evening sessions, the disasters of their communes and the subsidy
policies (`own_tables`), and the counts of the neighbours the community features count
(`service/neighbours.py`). A person's records in the request replace whatever the
reference data holds about them and their household. `join_reference` joins the
neighbours' records themselves (the plain way, which tests hold `own_tables` to).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from dropout.errors import DropoutError
from dropout.rules import RULES, broken, key_rules
from dropout.schema import TABLE_NAMES, Tables
from dropout.service.models import ParticipantIn, ScoreRequest
from dropout.schema import contract

class RequestError(DropoutError, ValueError):
    """A request that passed pydantic but cannot be scored; `errors` are pydantic-style dicts."""

    def __init__(self, errors: list[dict], message: str = "the records do not meet the data contract"):
        self.errors = errors
        super().__init__(f"{message}: {len(errors)} problem(s)")


# ---------------------------------------------------------------- reference data


@dataclass
class Reference:
    """Validated reference tables, split by village once so a request takes only its part.

    Each village's part is ready to join at start-up: its frames have a fresh row index,
    and `keys` holds, per table, the person (or household, for poverty) of each row, so
    a request drops its own people's rows with one `np.isin` and no pandas filtering.
    """

    tables: Tables
    by_village: dict[str, Tables] = field(default_factory=dict, repr=False)
    keys: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)
    #: village -> its evening sessions (the visits that reach everyone there), ready to join
    sessions: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    #: the reference people as neighbours: village counts for the community features
    neighbours: object = field(default=None, repr=False)

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
        by_village, keys = {}, {}
        for i, (v, part) in enumerate(zip(ids, split_tables(relabelled, [[v] for v in ids]))):
            part = part.replace(villages=villages.iloc[[i]].reset_index(drop=True),
                                **{n: getattr(part, n).reset_index(drop=True) for n in (*_JOINED, "disasters")})
            by_village[v] = part
            keys[v] = {n: _key_values(getattr(part, n)[c]) for n, c in _JOINED.items()}
        from dropout.service.neighbours import Neighbours

        sessions = {v: part.visits[part.visits["participant_id"].isna().to_numpy()].reset_index(drop=True)
                    for v, part in by_village.items()}
        return cls(tables, by_village, keys, sessions, Neighbours(tables))

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
        """The reference rows of these villages (those it has), in the order of `ids`."""
        found = [self.by_village[v].villages for v in ids if v in self.by_village]
        if not found:
            return self.tables.villages.iloc[:0]
        return found[0] if len(found) == 1 else pd.concat(found, ignore_index=True)

    def slices(self, village_ids) -> list[Tables]:
        return [self.by_village[v] for v in village_ids if v in self.by_village]


# The reference tables a request's records replace rows of, and the key of a row's owner.
_JOINED = {"participants": "participant_id", "installments": "participant_id", "withdrawals": "participant_id",
           "poverty": "household_id", "visits": "participant_id"}
_NO_KEY = np.iinfo(np.int64).min  # an evening session's missing participant: nobody's id (ids are > 0)


def _key_values(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=np.int64, na_value=_NO_KEY)


# ---------------------------------------------------------------- request -> raw tables


@dataclass
class RawRequest:
    """The request's records as contract tables, typed, and where each row came from."""

    raw: dict[str, pd.DataFrame | None]  # None: a table the request does not give
    origin: dict[str, list[tuple]]  # table -> per row, the loc prefix in the request
    extracted_on: pd.Timestamp

    def tables(self) -> Tables:
        """As a `Tables` (absent tables empty, subsidy policies from the reference)."""
        raw = {n: (df if df is not None else _typed(n, {})) for n, df in self.raw.items()}
        return Tables(**raw, extracted_on=self.extracted_on)


_EPOCH = date(1970, 1, 1)


def _column(kind: str, nullable: bool, values: list) -> object:
    """One column typed as `validate_raw` types it: int64 / Int64, float64, str, datetime64[ns]."""
    if kind == "date":
        days = np.array([(v - _EPOCH).days if v is not None else 0 for v in values], dtype=np.int64)
        out = days.astype("datetime64[D]").astype("datetime64[ns]")
        if nullable:
            out[np.array([v is None for v in values], dtype=bool)] = np.datetime64("NaT")
        return out
    if kind == "int":
        if not nullable:
            return np.array(values, dtype=np.int64)
        # pd.array(values, dtype="Int64") infers each value's type: four times the cost.
        mask = np.array([v is None for v in values], dtype=bool)
        return pd.arrays.IntegerArray(np.array([0 if v is None else v for v in values], dtype=np.int64), mask)
    if kind == "float":
        return np.array(values, dtype=np.float64)
    return _text(values)


_STR = pd.array([], dtype="str")


def _text(values: list) -> object:
    """Text as the `str` dtype; straight from a pyarrow array when `str` is Arrow-backed
    (pandas' own conversion of a short list costs about ten times more)."""
    if isinstance(_STR, pd.arrays.ArrowStringArray):
        import pyarrow as pa

        try:
            return type(_STR)(pa.array(values, type=_STR._pa_array.type), dtype=_STR.dtype)
        except (TypeError, ValueError, pa.ArrowException):
            pass
    return pd.array(values, dtype="str")


def _typed(table: str, columns: dict[str, list]) -> pd.DataFrame:
    # Columns added to the contract later (optional) are not in requests: the contract
    # check fills them in as empty.
    spec = {c: col for c, col in contract()[table].items() if not col.optional}
    if not any(columns.get(c) for c in spec):  # most requests leave some tables empty
        if table not in _EMPTY:
            _EMPTY[table] = pd.DataFrame({c: _column(col.kind, col.nullable, []) for c, col in spec.items()})
        return _EMPTY[table].copy(deep=False)  # copy-on-write: nobody changes the shared one
    return _frame({c: _column(col.kind, col.nullable, columns.get(c, [])) for c, col in spec.items()})


def _frame(columns: dict[str, object]) -> pd.DataFrame:
    """A frame of typed, equally long arrays, without pandas' checks of each input (a
    third of a one-row frame's cost); pandas' own constructor if that path is gone."""
    n = len(next(iter(columns.values()))) if columns else 0
    try:
        return pd.DataFrame._from_arrays(list(columns.values()), columns=pd.Index(list(columns)),
                                         index=pd.RangeIndex(n), verify_integrity=False)
    except (AttributeError, TypeError):  # pragma: no cover - a pandas without it
        return pd.DataFrame(columns)


_EMPTY: dict[str, pd.DataFrame] = {}


def request_tables(request: ScoreRequest, reference: Reference, today: date | None = None) -> RawRequest:
    """The request's records as typed contract tables (checked by nothing yet).

    Raises:
        RequestError: a person's village is neither in the request nor in the reference data.
    """
    spec = contract()
    cols: dict[str, dict[str, list]] = {n: {c: [] for c, col in spec[n].items() if not col.optional}
                                        for n in TABLE_NAMES}
    origin: dict[str, list[tuple]] = {n: [] for n in TABLE_NAMES}

    def add(table: str, where: tuple, **values) -> None:
        for c, v in values.items():
            cols[table][c].append(v)
        origin[table].append(where)

    seen_spells: set[tuple] = set()
    for i, rec in enumerate(request.participants):
        p = rec.participant
        add("participants", ("participants", i, "participant"), **dict(p))
        if rec.installments:  # the most rows of a request: column by column (fields: extra="forbid")
            rows = [inst.__dict__ for inst in rec.installments]
            table = cols["installments"]
            table["participant_id"].extend([p.participant_id] * len(rows))
            for c in rows[0]:
                table[c].extend([r[c] for r in rows])
            origin["installments"].extend(("participants", i, "installments", j) for j in range(len(rows)))
        for j, spell in enumerate(rec.poverty):
            key = (p.household_id, spell.status, spell.valid_from, spell.valid_to)
            if key in seen_spells:  # people of one household each send its spells
                continue
            seen_spells.add(key)
            add("poverty", ("participants", i, "poverty", j), household_id=p.household_id, **dict(spell))
        for j, visit in enumerate(rec.visits):
            add("visits", ("participants", i, "visits", j), visit_id=len(cols["visits"]["visit_id"]) + 1,
                participant_id=p.participant_id if visit.kind == "home_visit" else None,
                village_id=p.village_id, outcome_note=None, **dict(visit))
        if rec.withdrawn_on is not None:
            add("withdrawals", ("participants", i, "withdrawn_on"), participant_id=p.participant_id,
                claimed_on=rec.withdrawn_on)
    raw: dict[str, pd.DataFrame | None] = {n: _typed(n, cols[n]) for n in
                                           ("participants", "installments", "poverty", "visits", "withdrawals")}
    if request.villages is not None:
        for k, v in enumerate(request.villages):
            add("villages", ("villages", k), **dict(v))
        raw["villages"] = _typed("villages", cols["villages"])
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
        raw["villages"] = known.reset_index(drop=True)
        origin["villages"] = [("reference", "villages")] * len(known)
    if request.disasters is not None:
        for k, d in enumerate(request.disasters):
            add("disasters", ("disasters", k), **dict(d))
        raw["disasters"] = _typed("disasters", cols["disasters"])
    else:
        raw["disasters"] = None
    raw["subsidy_policies"] = reference.tables.subsidy_policies
    extracted = pd.Timestamp(request.extracted_on if request.extracted_on is not None else (today or date.today()))
    return RawRequest(raw, origin, extracted)


def validate_request(request: ScoreRequest, reference: Reference, today: date | None = None) -> Tables:
    """The request's records, checked against the data contract, as a typed `Tables`.

    Column types, values and ranges were checked by the request model; the rules
    between rows and tables are the contract's own (`dropout.rules`), evaluated on the
    request's records.

    Raises:
        RequestError: with field paths, when the records break the contract.
    """
    req = request_tables(request, reference, today)
    errors = request_errors(req)
    if errors:
        raise RequestError(errors)
    return req.tables()


def request_errors(req: RawRequest) -> list[dict]:
    """Every break of the contract's rules between rows in the request, at its field path."""
    frames = {n: _Columns(df if df is not None else _typed(n, {})) for n, df in req.raw.items()}
    # Only the rules whose table holds rows of the request: the reference data's rows
    # (villages, subsidy policies) were checked when it was loaded.
    sent = {n for n, where in req.origin.items() if any(w[0] != "reference" for w in where)}
    errors = []
    for rule, rows in broken(frames, req.extracted_on, [r for r in (*RULES, *_key_rules()) if r.table in sent]):
        origin = req.origin.get(rule.table, [])
        msg = rule.text(req.extracted_on)
        for pos in rows:
            if pos >= len(origin) or origin[pos][0] == "reference":
                continue  # the reference data was checked when it was loaded
            errors.append({"loc": request_loc(origin[pos], rule.table, rule.column), "msg": msg,
                           "type": "data_contract"})
    return errors


class _Columns:
    """A frame whose columns are taken out once: the rules read a request's columns many
    times, and each `df[col]` builds a new Series. Everything else is the frame's own."""

    def __init__(self, df: pd.DataFrame):
        self._df = df
        self._columns: dict[str, pd.Series] = {}

    def __getitem__(self, key):
        if not isinstance(key, str):
            return self._df[key]
        col = self._columns.get(key)
        if col is None:
            col = self._columns[key] = self._df[key]
        return col

    def __len__(self) -> int:
        return len(self._df)

    def __getattr__(self, name):
        return getattr(self._df, name)


@lru_cache(maxsize=1)
def _key_rules():
    from dropout.schema import key_columns

    return key_rules(key_columns())


def request_loc(base: tuple, table: str, column: str | None) -> list:
    """The request's field path of a contract table's row (`base`) and column."""
    if base[-1] == "withdrawn_on":  # a withdrawal is one field of its participant's record
        return list(base)
    field = _request_field(table, [c.strip() for c in (column or "").split(",") if c.strip()])
    return [*base, field] if field else list(base)


def _request_field(table: str, columns: list[str]) -> str | None:
    """The request's field name for a contract column (ids implied by nesting have none)."""
    if not columns:
        return None
    c = columns[-1] if table in ("installments", "poverty") and columns[0] in ("participant_id", "household_id") \
        else columns[0]
    if table in ("installments", "withdrawals") and c == "participant_id":
        return None
    if table == "poverty" and c == "household_id":
        return None
    if table == "visits" and c in ("participant_id", "village_id", "visit_id", "outcome_note"):
        return None
    return c


# ---------------------------------------------------------------- join with the reference


def scoring_tables(request: ScoreRequest, reference: Reference, today: date | None = None) -> Tables:
    """The request's checked records joined with the neighbours from the reference data."""
    return join_reference(request, validate_request(request, reference, today), reference)


def join_reference(request: ScoreRequest, own: Tables, reference: Reference) -> Tables:
    """The request's checked records (`own`) joined with the neighbours from the reference data.

    The reference rows kept are those of the villages the request's people live in,
    minus everything about the request's people and their households (their records in
    the request replace them). Disasters: the request's when given, else the reference's
    for those villages' communes (each commune's once).
    """
    if request.villages is not None and not any(v.village_id in reference.by_village for v in request.villages):
        return own
    village_ids = sorted({rec.participant.village_id for rec in request.participants})
    found = [v for v in village_ids if v in reference.by_village]
    if not found:
        return own
    people = own.participants
    drop = {"household_id": people["household_id"].to_numpy(np.int64),
            "participant_id": people["participant_id"].to_numpy(np.int64)}

    def ref(name: str) -> list[tuple[pd.DataFrame, np.ndarray | None]]:
        """Each village's rows of table `name`, as (frame, rows to keep or None for all).

        A household with members in two of the villages has its spells in both parts:
        they are kept once, from the first.
        """
        out, seen = [], []
        for v in found:
            df, keys = getattr(reference.by_village[v], name), reference.keys[v][name]
            if not len(df):
                continue
            mine = np.isin(keys, np.concatenate([drop[_JOINED[name]], *seen]) if seen else drop[_JOINED[name]])
            out.append((df, ~mine if mine.any() else None))
            if name == "poverty":
                seen.append(keys)
        return out

    visits_all, villages, disasters = _village_rows(request, own, reference, found, ref("visits"))
    return Tables(
        villages=villages,
        participants=_stack([*ref("participants"), (own.participants, None)]),
        installments=_stack([*ref("installments"), (own.installments, None)]),
        poverty=_stack([*ref("poverty"), (own.poverty, None)]),
        disasters=disasters,
        subsidy_policies=own.subsidy_policies,
        visits=visits_all,
        withdrawals=_stack([*ref("withdrawals"), (own.withdrawals, None)]),
        extracted_on=own.extracted_on,
    )


def own_tables(request: ScoreRequest, own: Tables, reference: Reference) -> tuple[Tables, object]:
    """The request's checked records with their villages' reference rows, and the
    neighbours' counts: what `join_reference` gives the features, without the neighbours'
    records.

    Every feature of a person depends on their own records and household, their village
    row and evening sessions, their commune's disasters and the subsidy policies, except
    the community counts of the village's other people: those come from
    `Reference.neighbours` (`Context.outside`), less the request's own people. The
    features equal those of `join_reference`'s tables (tests pin the two together).

    Returns:
        (tables, outside): `outside` is None when no village of the request is in the
        reference data.
    """
    if request.villages is not None and not any(v.village_id in reference.by_village for v in request.villages):
        return own, None
    found = sorted({rec.participant.village_id for rec in request.participants} & reference.by_village.keys())
    if not found:
        return own, None
    sessions = [(reference.sessions[v], None) for v in found]
    visits, villages, disasters = _village_rows(request, own, reference, found, sessions)
    tables = own.replace(villages=villages, visits=visits, disasters=disasters)
    outside = reference.neighbours.outside(own.participants["participant_id"].to_numpy(np.int64))
    return tables, outside


def _village_rows(request: ScoreRequest, own: Tables, reference: Reference, found: list[str],
                  visits: list) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The visits (the reference's `visits` pieces and the request's own), villages and
    disasters of the request's villages `found` in the reference data."""
    own_visits = own.visits
    # An evening session the caller also sent (same village, day, kind) counts once. Only
    # rows without a participant (sessions) can be dropped, so without any the check is moot.
    if visits and len(own_visits) and own_visits["participant_id"].isna().any():
        theirs = _stack(visits)
        if len(theirs):
            key = ["village_id", "visited_on", "kind"]
            dup = own_visits[key].merge(theirs[key].drop_duplicates(), on=key, how="left", indicator=True)
            own_visits = own_visits[(dup["_merge"].to_numpy() == "left_only")
                                    | own_visits["participant_id"].notna().to_numpy()]
    visits_all = _stack([*visits, (own_visits, None)])
    if len(visits_all):
        visits_all = visits_all.assign(visit_id=np.arange(1, len(visits_all) + 1, dtype=np.int64))
    if request.villages is not None:
        villages = own.villages
    else:
        villages = _stack([(reference.by_village[v].villages, None) for v in found])
    if request.disasters is not None:
        disasters = own.disasters
    else:
        communes: dict[str, str] = {}  # villages of one commune share its disasters: take them once
        for v in found:
            communes.setdefault(str(reference.by_village[v].villages["commune"].iloc[0]), v)
        disasters = _stack([(reference.by_village[v].disasters, None) for v in communes.values()])
    return visits_all, villages, disasters


def _stack(pieces: list[tuple[pd.DataFrame, np.ndarray | None]]) -> pd.DataFrame:
    """The kept rows of each piece, one piece after another, with a fresh row index.

    Columns and dtypes are the first non-empty piece's (the reference's), as the contract
    types them all. Built column by column: a request joins a few dozen rows, where
    pandas' concat and boolean indexing cost far more than the copying.
    """
    kept = [(df, m) for df, m in pieces if len(df) and (m is None or m.any())]
    if not kept:
        return pieces[-1][0].reset_index(drop=True)
    if len(kept) == 1 and kept[0][1] is None:
        return kept[0][0].reset_index(drop=True)
    first = kept[0][0]
    same = all(list(df.columns) == list(first.columns) and df.dtypes.equals(first.dtypes) for df, _ in kept[1:])
    if not same:  # a request frame typed differently: pandas' concat, then the first's dtypes
        out = pd.concat([df if m is None else df[m] for df, m in kept], ignore_index=True)
        out = out[list(first.columns)]
        for c in first.columns:
            if out[c].dtype != first[c].dtype:
                try:
                    out[c] = out[c].astype(first[c].dtype)
                except (TypeError, ValueError):
                    pass
        return out
    columns = {}
    for c in first.columns:
        arrays = [df[c].array if m is None else df[c].array[m] for df, m in kept]
        columns[c] = arrays[0] if len(arrays) == 1 else type(arrays[0])._concat_same_type(arrays)
    return pd.DataFrame(columns, copy=False)


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
