"""Point-in-time arrays shared by the schedule, the feature families and the labels.

Dates are handled as whole days since 1970-01-01 (int64); "never" is `NEVER`, a day far
in the future, so `paid <= as_of` is False for an unpaid installment without special
cases. Per-participant questions on the installment ledger ("how many installments fell
due in the last 6 months, how many of them are still unpaid") are answered with
rows sorted by (participant, due_on), `np.searchsorted` on a combined key and prefix
sums: O(rows) per as-of date, no loop over participants.

Conventions (docs/data.md, DESIGN.md "Point in time"):
- an event dated on `as_of` is known at `as_of` (`paid_on <= as_of` counts as paid);
- an installment is *past due* at `as_of` when `due_on < as_of`; its outcome "paid by
  the deadline or not" is then known, since a payment on time has `paid_on <= due_on`;
- the schedule (`period_start`, `due_on`, `amount_due`) is known in advance; whether a
  row was paid is known only from `paid_on`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd

from dropout.errors import DataContractError, DropoutError

NEVER = np.int64(10**7)  # ~ year 29349: "has not happened"
LONG_AGO = np.int64(-(10**7))
_KEY_OFFSET = np.int64(10**8)  # makes day numbers positive inside combined keys
_KEY_SHIFT = np.int64(1 << 32)
_STEP_DAYS = 200  # step cached positions forward up to this far; beyond, binary-search afresh
_CACHED_DAYS = 16
_NS_PER_DAY = np.int64(86_400 * 10**9)


class InvalidAsOfError(DropoutError, ValueError):
    """An as-of date that cannot be used (unparseable, or after the extraction date)."""


# ---------------------------------------------------------------- dates as day numbers


def to_days(values) -> np.ndarray:
    """Dates (Series, array, list) as int64 day numbers; NaT becomes NEVER."""
    if not isinstance(values, pd.Series):
        values = pd.Series(values)
    if values.dtype != "datetime64[ns]":
        values = pd.to_datetime(values).astype("datetime64[ns]")
    ns = values.to_numpy().view(np.int64)
    out = ns // _NS_PER_DAY  # floor: dates before 1970 stay on the right day
    out[ns == np.iinfo(np.int64).min] = NEVER
    return out


def day_of(ts) -> np.int64:
    """One date as a day number."""
    return np.int64(pd.Timestamp(ts).to_datetime64().astype("datetime64[D]").astype(np.int64))


def to_timestamps(days: np.ndarray) -> np.ndarray:
    """Day numbers back to datetime64[ns]; NEVER and LONG_AGO become NaT."""
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[(days >= NEVER) | (days <= LONG_AGO)] = np.datetime64("NaT")
    return out


def months_back(as_of: pd.Timestamp, months: int) -> np.int64:
    """The day `months` calendar months before `as_of` (clipped to month ends)."""
    return _months_back(pd.Timestamp(as_of), int(months))


@lru_cache(maxsize=4096)
def _months_back(as_of: pd.Timestamp, months: int) -> np.int64:
    # Cached: a DateOffset step costs more than a small request's whole family.
    return day_of(as_of - pd.DateOffset(months=months))


def str_values(column: pd.Series) -> np.ndarray:
    """A column's values as Python strings (`astype("str").to_numpy()`, no copy when already str)."""
    return column.to_numpy() if column.dtype == "str" else column.astype("str").to_numpy()


class _Calendar:
    """Lookup tables from day number to month and day of month (1900-2199): a gather, not a conversion."""

    first = np.int64(np.datetime64("1900-01-01", "D").astype(np.int64))
    last = np.int64(np.datetime64("2199-12-31", "D").astype(np.int64))
    first_month = np.int64((1900 - 1970) * 12)

    def __init__(self):
        days = np.arange(self.first, self.last + 1, dtype=np.int64)
        months = days.astype("datetime64[D]").astype("datetime64[M]")
        self.month = months.astype(np.int64)
        self.day = (days - months.astype("datetime64[D]").astype(np.int64) + 1).astype(np.int64)
        month_idx = np.arange(self.first_month, self.first_month + 300 * 12 + 1, dtype=np.int64)
        self.month_end = (month_idx + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1

    def at(self, days) -> np.ndarray:
        return np.clip(np.asarray(days, dtype=np.int64), self.first, self.last) - self.first


_CALENDAR: _Calendar | None = None


def _calendar() -> _Calendar:
    global _CALENDAR
    if _CALENDAR is None:
        _CALENDAR = _Calendar()
    return _CALENDAR


def month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day number (days outside 1900-2199 are clipped)."""
    cal = _calendar()
    return cal.month[cal.at(days)]


def day_in_month(days: np.ndarray) -> np.ndarray:
    """Day of the month (1-31) of each day number."""
    cal = _calendar()
    return cal.day[cal.at(days)]


def month_end(month_idx: np.ndarray) -> np.ndarray:
    """Last day (day number) of each month index (months since 1970-01)."""
    cal = _calendar()
    i = np.clip(np.asarray(month_idx, dtype=np.int64) - cal.first_month, 0, len(cal.month_end) - 1)
    return cal.month_end[i]


def calendar_month(days: np.ndarray) -> np.ndarray:
    """Calendar month (1-12) of each day number."""
    return month_index(days) % 12 + 1


def whole_months_between(start_days: np.ndarray, end_day) -> np.ndarray:
    """Whole calendar months from each start day to `end_day` (may be negative)."""
    start = np.asarray(start_days, dtype=np.int64)
    end = np.full_like(start, end_day) if np.ndim(end_day) == 0 else np.asarray(end_day, dtype=np.int64)
    months = month_index(end) - month_index(start)
    return months - (day_in_month(end) < day_in_month(start))


def months_since(event_days: np.ndarray, as_of_day, known: np.ndarray) -> np.ndarray:
    """Whole months since each event as float, NaN where `known` is False."""
    out = np.full(len(event_days), np.nan)
    if known.any():
        out[known] = whole_months_between(event_days[known], as_of_day)
    return out


def days_since(event_days: np.ndarray, as_of_day, known: np.ndarray) -> np.ndarray:
    out = np.full(len(event_days), np.nan, dtype=np.float64)
    out[known] = as_of_day - event_days[known]
    return out


# ---------------------------------------------------------------- sorted-segment tools


def prefix_sum(values: np.ndarray) -> np.ndarray:
    """Cumulative sums with a leading 0, so sum(values[lo:hi]) = p[hi] - p[lo].

    Flags give int32 counts (a cumsum over int8 is the fast path); numbers give int64/float64.
    """
    if values.dtype == bool:
        out = np.zeros(len(values) + 1, dtype=np.int32)
        np.cumsum(values.view(np.int8), dtype=np.int32, out=out[1:])
        return out
    out = np.zeros(len(values) + 1, dtype=np.int64 if values.dtype.kind in "iu" else np.float64)
    np.cumsum(values, out=out[1:])
    return out


def range_sum(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return prefix[hi] - prefix[lo]


def range_max(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, empty) -> np.ndarray:
    """max(values[lo[i]:hi[i]]) for each i, `empty` where the range is empty.

    One `np.maximum.reduceat` over interleaved bounds: O(len(values) + len(lo)).
    Ranges must be ordered and not overlap (lo[i] <= hi[i] <= lo[i+1]).
    """
    if len(lo) == 0:
        return np.empty(0, dtype=values.dtype)
    ext = np.append(values, np.asarray(empty, dtype=values.dtype))
    bounds = np.empty(2 * len(lo), dtype=np.int64)
    bounds[0::2] = lo
    bounds[1::2] = hi
    out = np.maximum.reduceat(ext, bounds)[0::2]
    return np.where(hi > lo, out, np.asarray(empty, dtype=values.dtype))


def last_true(flags: np.ndarray) -> np.ndarray:
    """For each position i, the last j <= i with flags[j] (-1 if none)."""
    idx = np.where(flags, np.arange(len(flags), dtype=np.int64), np.int64(-1))
    return np.maximum.accumulate(idx) if len(idx) else idx


def entity_day_key(entity: np.ndarray, day: np.ndarray) -> np.ndarray:
    """(entity, day) pairs as one sortable int64 each (days lie within +-10**7 of 1970)."""
    return np.asarray(entity, dtype=np.int64) * _KEY_SHIFT + (np.asarray(day, dtype=np.int64) + _KEY_OFFSET)


class SortedEvents:
    """Events grouped by an entity index (participant, village, household, commune), sorted by day.

    Answers "how many events of entity e fall before day d" for all entities at once with
    one `searchsorted` on a combined (entity, day) key.
    """

    def __init__(self, entity: np.ndarray, day: np.ndarray, n_entities: int, **columns: np.ndarray):
        entity = np.asarray(entity, dtype=np.int64)
        day = np.asarray(day, dtype=np.int64)
        key = entity_day_key(entity, day)
        if len(key) > 1 and not bool(np.all(key[1:] >= key[:-1])):
            # Stable and fast on nearly sorted input (raw exports usually are).
            order = np.argsort(key, kind="stable")
            key, entity, day = key[order], entity[order], day[order]
            columns = {k: np.asarray(v)[order] for k, v in columns.items()}
        self.key = key
        self.entity = entity
        self.day = day
        self.n_entities = n_entities
        self.columns = {k: np.asarray(v) for k, v in columns.items()}
        self._base = np.arange(n_entities, dtype=np.int64) * _KEY_SHIFT
        counts = np.bincount(entity, minlength=n_entities) if len(entity) else np.zeros(n_entities, np.int64)
        self.end = np.cumsum(counts).astype(np.int64)
        self.start = self.end - counts
        self._positions: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.day)

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def before(self, day) -> np.ndarray:
        """Per entity, the position of its first event on or after `day` (events < day precede it).

        Results are cached; a later day is reached by stepping each entity forward from the
        nearest earlier cached day (as-of dates come in order, so this is a few vectorised
        steps instead of a binary search per entity). Do not modify the returned array.
        """
        day = int(day)
        hit = self._positions.get(day)
        if hit is not None:
            return hit
        near = [d for d in self._positions if d <= day and day - d <= _STEP_DAYS]
        if near:
            pos = self._advance(self._positions[max(near)], day)
        else:
            pos = np.searchsorted(self.key, self._base + (day + _KEY_OFFSET), side="left")
        self._positions[day] = pos
        while len(self._positions) > _CACHED_DAYS:
            self._positions.pop(next(iter(self._positions)))
        return pos

    def _advance(self, pos: np.ndarray, day: int) -> np.ndarray:
        pos = pos.copy()
        active = np.flatnonzero(pos < self.end)
        while active.size:
            active = active[self.day[pos[active]] < day]
            pos[active] += 1
            active = active[pos[active] < self.end[active]]
        return pos

    def through(self, day) -> np.ndarray:
        """Per entity, the position just after its last event on or before `day`."""
        return self.before(np.int64(day) + 1)

    def last_on_or_before(self, day) -> tuple[np.ndarray, np.ndarray]:
        """Per entity, (position of the last event with day <= `day`, whether there is one)."""
        pos = self.through(day) - 1
        return np.maximum(pos, 0), pos >= self.start

    @cached_property
    def prev_same_entity(self) -> np.ndarray:
        """Whether the previous row belongs to the same entity."""
        out = np.zeros(len(self.entity), dtype=bool)
        out[1:] = self.entity[1:] == self.entity[:-1]
        return out


def entity_index(ids: pd.Series | np.ndarray, universe: np.ndarray) -> np.ndarray:
    """Position of each id in the sorted array `universe`; -1 where absent.

    Ids usually come in runs (installments grouped by participant): each run is looked up once.
    """
    ids = np.asarray(ids)
    if len(universe) == 0 or len(ids) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    run_start = np.flatnonzero(np.concatenate(([True], ids[1:] != ids[:-1])))
    run_ids = ids[run_start]
    pos = np.minimum(np.searchsorted(universe, run_ids), len(universe) - 1)
    run_pos = np.where(universe[pos] == run_ids, pos, -1).astype(np.int64)
    if len(run_start) == len(ids):
        return run_pos
    return np.repeat(run_pos, np.diff(np.append(run_start, len(ids))))


def require_columns(df: pd.DataFrame, table: str, columns: list[str]) -> None:
    """Refuse a table that lacks columns the features need, naming them."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataContractError(
            [{"table": table, "column": ", ".join(missing),
              "check": f"missing column(s) needed by the features; present: {list(df.columns)}",
              "rows": []}]
        )


@dataclass(frozen=True)
class AsOf:
    """One as-of date: the timestamp and its day number."""

    ts: pd.Timestamp
    day: np.int64

    @classmethod
    def of(cls, ts) -> "AsOf":
        ts = pd.Timestamp(ts).normalize()
        return cls(ts, day_of(ts))

    def months_back(self, months: int) -> np.int64:
        return months_back(self.ts, months)


def normalize_as_of_dates(as_of_dates, extracted_on: pd.Timestamp | None = None) -> list[pd.Timestamp]:
    """Parse, de-duplicate and sort as-of dates; refuse any after the extraction date."""
    if isinstance(as_of_dates, (str, pd.Timestamp, np.datetime64)) or not hasattr(as_of_dates, "__iter__"):
        as_of_dates = [as_of_dates]
    out = []
    for value in as_of_dates:
        try:
            ts = pd.Timestamp(value)
        except (ValueError, TypeError) as err:
            raise InvalidAsOfError(f"as_of date {value!r} is not a date (use YYYY-MM-DD)") from err
        if pd.isna(ts):
            raise InvalidAsOfError(f"as_of date {value!r} is empty")
        out.append(ts.normalize())
    if not out:
        raise InvalidAsOfError("no as_of dates given: pass at least one date")
    out = sorted(set(out))
    if extracted_on is not None:
        late = [d for d in out if d > pd.Timestamp(extracted_on)]
        if late:
            raise InvalidAsOfError(
                f"as_of date(s) {[d.date().isoformat() for d in late]} lie after the extraction date "
                f"{pd.Timestamp(extracted_on).date().isoformat()}: what happened after the extraction "
                "is unknown, so features there would be wrong"
            )
    return out
