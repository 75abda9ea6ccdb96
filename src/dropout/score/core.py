"""Scoring one set of participants: who is due, their features, risk, ranks and reasons.

Both engines (and the service) go through `score_frame`. A chunk of work is a set of
whole districts: every feature of a participant depends only on their own records,
their household, their village (neighbours' lapses), their commune (disasters) and
province (subsidy top-ups), and the ranks are within district and commune, so a
district scored alone gives exactly the rows it gets in a national run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

import numpy as np
import pandas as pd

from dropout.errors import DropoutError
from dropout.features.catalog import load_catalog
from dropout.schema import Tables
from dropout.score.output import INSTALLMENT_COLUMNS, PLACE_COLUMNS, SCORE_COLUMNS, risk_band
from dropout.score.reasons import explain

MAX_WINDOW_DAYS = 366  # the schedule is known 12 months ahead (docs/data.md)
#: The columns every scoring output has, in order (the score row, score/output.py).
OUTPUT_COLUMNS = SCORE_COLUMNS


class ScoringInputError(DropoutError, ValueError):
    """Scoring cannot start: a wrong as-of date, window or model; nothing was written."""


class EmptyWindowError(ScoringInputError):
    """Nobody's next installment falls due within the window."""


@dataclass(frozen=True)
class Job:
    """What to score: as-of date and window (days after as_of, as_of excluded)."""

    as_of: pd.Timestamp
    window_days: int

    @property
    def window_end(self) -> pd.Timestamp:
        return self.as_of + pd.Timedelta(days=self.window_days)


#: A deadline closer than this is left to the next list: no time left to visit.
MIN_LEAD_DAYS = 14


def next_deadline_window(as_of, min_lead_days: int = MIN_LEAD_DAYS) -> int:
    """Days from `as_of` through the first deadline (a month's last day) at least
    `min_lead_days` away: 30 June -> 31 July (31 days), 10 June -> 30 June (20 days).
    A fixed 30 days from a month's last day would miss the next month-end."""
    as_of = pd.Timestamp(as_of).normalize()
    end = (as_of + pd.Timedelta(days=min_lead_days)).to_period("M").to_timestamp(how="end").normalize()
    return int((end - as_of).days)


def parse_window(window: str | int, as_of=None) -> int:
    """'30d', '4w', '30' -> days (1 to 366); 'deadline' -> through the next deadline at
    least two weeks after `as_of` (`next_deadline_window`)."""
    if isinstance(window, str) and window.strip().lower() == "deadline":
        if as_of is None:
            raise ScoringInputError("--window deadline needs an as-of date")
        return next_deadline_window(as_of)
    if isinstance(window, (int, np.integer)):
        days = int(window)
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([dDwW]?)\s*", str(window))
        if not m:
            raise ScoringInputError(f"--window {window!r} is not a number of days or weeks (e.g. 30d, 4w) "
                                    "nor 'deadline'")
        days = int(m.group(1)) * (7 if m.group(2).lower() == "w" else 1)
    if not 1 <= days <= MAX_WINDOW_DAYS:
        raise ScoringInputError(
            f"window of {days} days is outside 1-{MAX_WINDOW_DAYS}: the installment schedule is "
            "known 12 months ahead"
        )
    return days


def check_job(tables: Tables, as_of, window_days) -> Job:
    """Refuse an as-of date outside the data or a window the schedule cannot answer."""
    try:
        ts = pd.Timestamp(as_of)
    except (TypeError, ValueError) as err:
        raise ScoringInputError(f"as-of {as_of!r} is not a date (use YYYY-MM-DD)") from err
    if pd.isna(ts):
        raise ScoringInputError("as-of date is empty")
    ts = ts.normalize()
    days = parse_window(window_days, ts)
    extracted = pd.Timestamp(tables.extracted_on).normalize()
    if ts > extracted:
        raise ScoringInputError(
            f"as-of {ts.date()} is after the data's extraction date {extracted.date()}: payments made "
            "after the extraction are unknown, so every unpaid installment would look lapsed"
        )
    enrolled = pd.to_datetime(tables.participants["enrolled_on"])
    first = enrolled.min() if len(enrolled) else pd.NaT
    if pd.isna(first) or ts < first:
        where = f"the first enrolment is {first.date()}" if not pd.isna(first) else "the data holds no participants"
        raise ScoringInputError(f"as-of {ts.date()} is before any data: {where}")
    return Job(ts, days)


def feature_context(tables: Tables, outside=None):
    """The features' sorted arrays of `tables`, to share between `due_participants` and
    `feature_matrix` (the ledger is then sorted once; the service's path for few people).

    Args:
        outside: counts of the villages' people the tables do not hold (see
            `dropout.features.context.Context`); the service's prepared neighbours.
    """
    from dropout.features.context import Context

    return Context(tables, outside=outside)


def due_participants(tables: Tables, job: Job, context=None) -> pd.DataFrame:
    """Every member of the cohort (paying or in arrears) whose next installment falls due
    within the window, with their place and what they owe.

    Args:
        context: `feature_context(tables)`, when the caller also builds features from it.
    Returns:
        participant_id, village_id, commune, district, due_on, amount_due (gross),
        net_amount (after state and provincial support), status (paying / in_arrears),
        arrears_installments, arrears_vnd, arrears_months, arrears_since, months_covered;
        sorted by participant_id.
    Raises:
        EmptyWindowError: when nobody is due.
    """
    from dropout.features.subsidy import net_cost
    from dropout.timeline import AsOf

    context = context if context is not None else feature_context(tables)
    sched, asof = context.schedule, AsOf.of(job.as_of)
    # The schedule's own answer (`schedule.next_installments` without its frame): the
    # cohort whose next installment falls due in the window, in participant_id order.
    at_schedule = np.flatnonzero(sched.due_within(asof, job.window_days))
    if not len(at_schedule):
        raise EmptyWindowError(
            f"nobody's next installment falls due between {job.as_of.date()} and {job.window_end.date()} "
            f"(window {job.window_days} days): nothing to score; try a later as-of or a longer window"
        )
    nxt = sched.next_installment(asof)
    # Each person's village, commune and district by position (a left join on unique keys,
    # without pandas' merge machinery, which costs more than the rest for a few people).
    parts, villages = tables.participants, tables.villages
    pid = sched.participant_id[at_schedule]
    person = _unique_index(parts["participant_id"].to_numpy(np.int64), "participants", "participant_id")
    at = person.get_indexer(pid)
    village_id = parts["village_id"].array.take(at, allow_fill=True)
    at_village = _unique_index(villages["village_id"].array, "villages", "village_id").get_indexer(village_id)
    net_amount = net_cost(context, asof)["net_amount"][at_schedule]
    arrears = sched.arrears(asof)
    owed = arrears["installments"][at_schedule]
    due = pd.DataFrame({
        "participant_id": pid,
        "village_id": _as_text(village_id),
        "commune": _as_text(villages["commune"].array.take(at_village, allow_fill=True)),
        "district": _as_text(villages["district"].array.take(at_village, allow_fill=True)),
        "due_on": _day_dates(nxt.due_on[at_schedule]),
        "amount_due": nxt.amount_due[at_schedule].astype(np.int64),
        "net_amount": np.asarray(net_amount, dtype=np.float64),
        "status": pd.array(np.where(arrears["behind"][at_schedule], "in_arrears", "paying"), dtype="str"),
        "arrears_installments": owed.astype(np.int64),
        "arrears_vnd": arrears["vnd"][at_schedule].astype(np.int64),
        "arrears_months": arrears["months"][at_schedule].astype(np.int64),
        "arrears_since": _day_dates(arrears["oldest_due"][at_schedule]),
        "months_covered": nxt.months_covered[at_schedule].astype(np.int64),
    }, copy=False)
    return due


def _as_text(values):
    """Place names as the `str` dtype (already so when the tables are validated: no copy)."""
    return values if getattr(values, "dtype", None) == "str" else pd.array(values, dtype="str")


def _day_dates(days: np.ndarray) -> np.ndarray:
    """Day numbers (days since 1970-01-01; NEVER for none) as datetime64[ns], NaT for none."""
    from dropout.timeline import NEVER

    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days == NEVER] = np.datetime64("NaT")
    return out


def population(tables: Tables, job: Job, context=None) -> dict:
    """Who is in the scoring population at as-of, who is scored, who is left out and why.

    The population is the cohort: enrolled on or before as-of and not withdrawn, members
    in arrears included. A member is scored when their next installment falls due in the
    window; nobody is left out without a reason.

    Returns:
        {"population": n, "scored": n, "in_arrears_scored": n, "left_out": {reason: n}}
    """
    from dropout.timeline import AsOf

    context = context if context is not None else feature_context(tables)
    sched, asof = context.schedule, AsOf.of(job.as_of)
    cohort = sched.cohort(asof)
    due = sched.due_within(asof, job.window_days)
    nxt = sched.next_installment(asof)
    left = cohort & ~due
    reasons = {
        "next deadline after the window": int((left & nxt.scheduled).sum()),
        "no installment scheduled after as-of (paid ahead or schedule ended)": int((left & ~nxt.scheduled).sum()),
    }
    return {"population": int(cohort.sum()), "scored": int(due.sum()),
            "in_arrears_scored": int((due & sched.in_arrears(asof)).sum()),
            "left_out": {k: v for k, v in reasons.items() if v}}


def _unique_index(keys, table: str, column: str) -> pd.Index:
    index = pd.Index(keys)
    if not index.is_unique:
        dup = index[index.duplicated()].unique()[:5].tolist()
        raise ScoringInputError(f"{table}.{column} is not unique, e.g. {dup}: validate the tables first")
    return index


def plan_chunks(due: pd.DataFrame, chunk_size: int) -> list[list[str]]:
    """Whole districts packed in name order into chunks of about `chunk_size` people due.

    Deterministic for the same `due`, so a resumed run finds the same chunks. A district
    larger than `chunk_size` is a chunk of its own.
    """
    if chunk_size < 1:
        raise ScoringInputError(f"chunk size must be at least 1, got {chunk_size}")
    sizes = due.groupby("district", sort=True).size()
    chunks: list[list[str]] = []
    current: list[str] = []
    n = 0
    for district, size in sizes.items():
        if current and n + size > chunk_size:
            chunks.append(current)
            current, n = [], 0
        current.append(str(district))
        n += int(size)
    if current:
        chunks.append(current)
    return chunks


def subset_tables(tables: Tables, districts: list[str]) -> Tables:
    """The raw tables restricted to `districts`: everything a participant there depends on."""
    return next(split_tables(tables, [list(districts)]))


def split_tables(tables: Tables, chunks: list[list[str]]) -> Iterator[Tables]:
    """One `Tables` per chunk of districts, in order, each holding what its people depend on.

    Participants go by their village's district; installments and withdrawals by
    participant; visits by village; poverty spells by household, disasters by commune
    name (a name may recur across districts, so those two are looked up per chunk).
    """
    district_chunk = {d: i for i, ds in enumerate(chunks) for d in ds}
    v = tables.villages
    v_chunk = v["district"].astype("str").map(district_chunk).fillna(-1).to_numpy(np.int64)
    village_pos = pd.Index(v["village_id"].astype("str"))
    p = tables.participants
    p_chunk = _lookup(v_chunk, village_pos.get_indexer(p["village_id"].astype("str")))
    pid_pos = pd.Index(p["participant_id"].to_numpy(np.int64))
    n = len(chunks)
    parts = {
        "villages": _groups(v, v_chunk, n),
        "participants": _groups(p, p_chunk, n),
        "installments": _groups(tables.installments, _lookup(
            p_chunk, pid_pos.get_indexer(tables.installments["participant_id"].to_numpy(np.int64))), n),
        "withdrawals": _groups(tables.withdrawals, _lookup(
            p_chunk, pid_pos.get_indexer(tables.withdrawals["participant_id"].to_numpy(np.int64))), n),
        "visits": _groups(tables.visits, _lookup(
            v_chunk, village_pos.get_indexer(tables.visits["village_id"].astype("str"))), n),
    }
    for i in range(n):
        villages, participants = parts["villages"][i], parts["participants"][i]
        yield tables.replace(
            villages=villages,
            participants=participants,
            installments=parts["installments"][i],
            withdrawals=parts["withdrawals"][i],
            visits=parts["visits"][i],
            poverty=tables.poverty[tables.poverty["household_id"].isin(participants["household_id"])],
            disasters=tables.disasters[tables.disasters["commune"].isin(villages["commune"])],
        )


def _lookup(values: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """values[pos], -1 where pos is -1 (not found)."""
    if len(values) == 0:
        return np.full(len(pos), -1, dtype=np.int64)
    return np.where(pos >= 0, values[np.maximum(pos, 0)], -1)


def _groups(df: pd.DataFrame, label: np.ndarray, n: int) -> list[pd.DataFrame]:
    """Rows of `df` split by `label` (0..n-1; -1 dropped), each keeping the original row order."""
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(n + 1))
    return [df.iloc[order[bounds[i]:bounds[i + 1]]] for i in range(n)]


def feature_matrix(tables: Tables, job: Job, due: pd.DataFrame, feature_names: list[str],
                   progress=None, context=None) -> pd.DataFrame:
    """The model's features for the people in `due`, in `due`'s order.

    Args:
        context: `feature_context(tables)`, shared with `due_participants`.
    """
    from dropout.features import FAMILIES, build_features

    callback = None
    if progress is not None:
        task = progress.add_task("features", total=len(FAMILIES))
        callback = lambda family, done, total: progress.advance(task)  # noqa: E731
    feats = build_features(tables, [job.as_of], progress=callback, context=context)
    if "participant_id" not in feats.columns:
        feats = feats.reset_index()
    # Rows of this as-of, then the people of `due`: positions first, one take at the end
    # (each intermediate frame would copy every feature column).
    rows = np.arange(len(feats))
    if "as_of" in feats.columns:
        rows = rows[(pd.to_datetime(feats["as_of"]) == job.as_of).to_numpy()]
    missing = [f for f in feature_names if f not in feats.columns]
    if missing:
        raise ScoringInputError(
            f"the model needs {len(missing)} feature(s) the feature code does not build: {missing[:10]}; "
            "was the model trained on another version of the features?"
        )
    pos = pd.Index(feats["participant_id"].to_numpy(np.int64)[rows]).get_indexer(due["participant_id"].to_numpy())
    if (pos < 0).any():
        absent = due["participant_id"].to_numpy()[pos < 0][:5].tolist()
        raise ScoringInputError(f"no feature row for participants due in the window, e.g. {absent}")
    return feats.iloc[rows[pos], feats.columns.get_indexer(feature_names)].reset_index(drop=True)


def score_frame(tables: Tables, job: Job, due: pd.DataFrame, model, sentence=None, progress=None) -> pd.DataFrame:
    """Score the people in `due` (all of whose districts are in `tables`): OUTPUT_COLUMNS.

    Ranks are computed among the rows given, so `due` must hold whole districts.
    """
    X = feature_matrix(tables, job, due, list(model.feature_names), progress=progress)
    return score_matrix(X, due, model, sentence)


def score_matrix(X: pd.DataFrame, due: pd.DataFrame, model, sentence=None) -> pd.DataFrame:
    """Risk, band, ranks and reasons for feature rows `X` aligned with `due` (same order)."""
    names = list(model.feature_names)
    values = (X if list(X.columns) == names else X[names]).to_numpy(dtype=np.float64, na_value=np.nan)
    risk, reasons = score_values(values, model, sentence)
    # One frame built at once, in OUTPUT_COLUMNS order: adding columns one by one costs a
    # copy each, more than the rest of the work for the few rows of a service request.
    out = {c: due[c].array for c in (*PLACE_COLUMNS, *INSTALLMENT_COLUMNS)}
    out["risk"] = risk
    out["risk_band"] = risk_band(risk)
    out.update(_ranks(pd.DataFrame(out, copy=False)))
    out["expected_lapse"] = risk.copy()  # each person adds their probability to the expected count
    for c in reasons.columns:
        out[c] = reasons[c].array
    return order_rows(pd.DataFrame(out, copy=False))


def score_values(values: np.ndarray, model, sentence=None, langs=None,
                 as_lists: bool = False) -> tuple[np.ndarray, pd.DataFrame | dict[str, list]]:
    """Calibrated risk and the reasons (`explain`'s columns) of feature rows `values`
    (float64, the model's features in its order): the scoring core of the batch run and
    of the service alike. `langs` (default both) and `as_lists` go to `explain`: the
    service asks for its request's language as plain lists."""
    if sentence is None:
        sentence = catalog_sentence()
    names = list(model.feature_names)
    risk = np.asarray(model.predict_proba(values), dtype=np.float64)
    contrib = model.contributions(values)
    if isinstance(contrib, pd.DataFrame):
        head = contrib.columns[: len(names)]
        contrib_values = contrib.to_numpy()[:, : len(names)] if list(head) == names else contrib[names].to_numpy()
    else:
        contrib_values = np.asarray(contrib)[:, : len(names)]
    groups, groups_missing = _reason_groups(tuple(names))
    extra = {"langs": tuple(langs)} if langs is not None else {}
    reasons = explain(contrib_values, values, names, sentence, groups=groups, groups_missing=groups_missing,
                      as_lists=as_lists, **extra)
    return risk, reasons


@lru_cache(maxsize=8)
def _reason_groups(names: tuple[str, ...]) -> tuple[list[str], list[str | None]]:
    """The catalog's reason groups of `names`, and the groups of their empty values."""
    catalog = load_catalog()
    return catalog.reason_groups(list(names)), catalog.reason_groups(list(names), missing=True)


def add_ranks(df: pd.DataFrame) -> pd.DataFrame:
    """rank_in_district and rank_in_commune: 1 = highest risk; ties by participant_id."""
    return df.assign(**_ranks(df))


def _ranks(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """add_ranks' two columns: a cumcount per group over the rows in risk order."""
    order = np.lexsort((df["participant_id"].to_numpy(), -df["risk"].to_numpy()))
    # Places are never missing here: due_participants writes them as text.
    d_codes = pd.factorize(df["district"])[0].astype(np.int64)
    c_codes = pd.factorize(df["commune"])[0].astype(np.int64)
    return {"rank_in_district": _rank_within(d_codes, order),
            "rank_in_commune": _rank_within(d_codes * (int(c_codes.max(initial=0)) + 1) + c_codes, order)}


def _rank_within(group: np.ndarray, order: np.ndarray) -> np.ndarray:
    """1 + the position of each row among its group's rows taken in `order` (groupby cumcount + 1)."""
    ranked = group[order]
    by_group = np.argsort(ranked, kind="stable")  # within a group, still in `order`
    sorted_groups = ranked[by_group]
    first = np.searchsorted(sorted_groups, sorted_groups, side="left")
    within = np.empty(len(order), dtype=np.int64)
    within[by_group] = np.arange(len(order), dtype=np.int64) - first
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = within + 1
    return rank


def order_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The canonical row order of every output: district, then rank in district."""
    if len(df) <= 1:
        return df.reset_index(drop=True)
    codes = pd.factorize(df["district"], sort=True)[0]  # codes in the districts' sorted order
    order = np.lexsort((df["rank_in_district"].to_numpy(), codes))  # stable, as sort_values(kind="stable")
    if len(order) and (order == np.arange(len(order))).all():
        return df.reset_index(drop=True)
    return df.take(order).reset_index(drop=True)


def catalog_sentence():
    """The feature catalog's `reason_sentence(feature, value, lang)`, the catalog read once."""
    from dropout.features.catalog import load_catalog, reason_sentence

    catalog = load_catalog()
    return lambda feature, value, lang: reason_sentence(feature, value, lang, catalog=catalog)
