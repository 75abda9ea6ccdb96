"""Officer capacity: the `--capacity` grammar, parsed once and resolved against villages.

Grammar (entries separated by commas or semicolons; spaces around tokens are ignored)::

    capacity := entry ("," entry)*
    entry    := HOURS                      every district not named gets HOURS
              | NAME "=" HOURS             a district, or a commune, by its name
              | "district:" NAME "=" HOURS an explicit district
              | "commune:" NAME "=" HOURS  an explicit commune
              | DISTRICT "/" COMMUNE "=" HOURS   a commune named with its district
    HOURS    := a positive number of officer-hours, optionally followed by "h"

Examples: ``30`` (30 hours in every district), ``A Luoi=30``, ``Hong Thai=6,Hong Kim=4``,
``20, A Luoi=30`` (A Luoi 30, every other district 20).

Each entry is a *pool* of officer-hours for the plan period (a week unless the caller
scales it). Pools never overlap: a commune named on its own is planned from its own
hours, and a district's hours serve only its communes that are not named. Communes that
no entry covers are not planned. Names match case-, space- and accent-insensitively
("a lưới" finds "A Luoi"); a name that is both a district and a commune, or a commune
name found in several districts, must be written with a prefix or as DISTRICT/COMMUNE.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from dataclasses import dataclass

import pandas as pd

from dropout.errors import ConfigError

SCOPES = ("district", "commune")
_HOURS = re.compile(r"^\s*(?P<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*h?\s*$", re.IGNORECASE)
_EXAMPLES = 'e.g. "30", "A Luoi=30" or "Hong Thai=6,Hong Kim=4"'


class CapacityError(ConfigError):
    """The capacity text cannot be parsed, or names a place that is not in the data."""


@dataclass(frozen=True)
class CapacityEntry:
    """One `NAME=HOURS` entry as written; `scope` is None until resolved when not prefixed."""

    name: str
    hours: float
    scope: str | None = None  # "district" / "commune" when written with a prefix
    district: str | None = None  # for DISTRICT/COMMUNE entries
    text: str = ""


@dataclass(frozen=True)
class Capacity:
    """Officer-hours per pool for the plan period, as parsed from the `--capacity` text."""

    entries: tuple[CapacityEntry, ...] = ()
    default_hours: float | None = None
    text: str = ""

    def scaled(self, factor: float) -> "Capacity":
        """The same pools with every number of hours multiplied (e.g. by a number of weeks)."""
        if not (factor > 0 and math.isfinite(factor)):
            raise CapacityError(f"capacity scale must be a positive number, got {factor!r}")
        entries = tuple(
            CapacityEntry(e.name, e.hours * factor, e.scope, e.district, e.text) for e in self.entries
        )
        default = None if self.default_hours is None else self.default_hours * factor
        return Capacity(entries, default, self.text)


def parse_capacity(text: str) -> Capacity:
    """Parse the capacity grammar (module docstring); raise CapacityError naming the entry."""
    if not isinstance(text, str) or not text.strip():
        raise CapacityError(f"capacity is empty: give officer-hours, {_EXAMPLES}")
    entries: list[CapacityEntry] = []
    default: float | None = None
    seen: dict[tuple, str] = {}
    for i, raw in enumerate(re.split(r"[,;]", text), start=1):
        item = raw.strip()
        if not item:
            raise CapacityError(f'capacity "{text}": entry {i} is empty (a stray comma?); {_EXAMPLES}')
        if "=" not in item:
            hours = _parse_hours(item, text, i, item)
            if default is not None:
                raise CapacityError(
                    f'capacity "{text}": entry {i} ("{item}") is a second plain number; give at most '
                    "one default for every district, and name the others as NAME=HOURS"
                )
            default = hours
            continue
        name_part, _, hours_part = item.partition("=")
        if "=" in hours_part:
            raise CapacityError(f'capacity "{text}": entry {i} ("{item}") has more than one "="')
        hours = _parse_hours(hours_part, text, i, item)
        entry = _parse_name(name_part.strip(), hours, text, i, item)
        key = (entry.scope, _norm(entry.district or ""), _norm(entry.name))
        if key in seen:
            raise CapacityError(
                f'capacity "{text}": "{entry.name}" is given twice (entries "{seen[key]}" and "{item}")'
            )
        seen[key] = item
        entries.append(entry)
    return Capacity(tuple(entries), default, text)


def _parse_hours(value: str, text: str, i: int, item: str) -> float:
    m = _HOURS.match(value)
    if not m:
        raise CapacityError(
            f'capacity "{text}": entry {i} ("{item}"): hours "{value.strip()}" is not a positive '
            f"number of officer-hours; {_EXAMPLES}"
        )
    hours = float(m.group("num"))
    if hours <= 0:
        raise CapacityError(f'capacity "{text}": entry {i} ("{item}"): hours must be more than 0')
    return hours


def _parse_name(name: str, hours: float, text: str, i: int, item: str) -> CapacityEntry:
    scope = None
    prefix, sep, rest = name.partition(":")
    if sep:
        if prefix.strip().lower() not in SCOPES:
            raise CapacityError(
                f'capacity "{text}": entry {i} ("{item}"): unknown prefix "{prefix.strip()}:" '
                '(use "district:" or "commune:")'
            )
        scope, name = prefix.strip().lower(), rest.strip()
    district = None
    if "/" in name:
        district, _, name = (s.strip() for s in name.partition("/"))
        if scope == "district":
            raise CapacityError(
                f'capacity "{text}": entry {i} ("{item}"): DISTRICT/COMMUNE names a commune, '
                'not a district; drop the "district:" prefix'
            )
        scope = "commune"
        if not district:
            raise CapacityError(f'capacity "{text}": entry {i} ("{item}"): the district before "/" is empty')
    if not name:
        raise CapacityError(f'capacity "{text}": entry {i} ("{item}"): the name before "=" is empty')
    return CapacityEntry(name=name, hours=hours, scope=scope, district=district, text=item)


def _norm(name: str) -> str:
    """Case-, space- and accent-insensitive key: 'A Lưới' -> 'a luoi'."""
    s = unicodedata.normalize("NFD", str(name)).replace("đ", "d").replace("Đ", "D")
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(s.lower().split())


def resolve_pools(capacity: Capacity, villages: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """Assign every village to at most one pool of officer-hours.

    Args:
        capacity: parsed capacity.
        villages: needs village_id, commune, district.

    Returns:
        (pool of each village as a Series indexed by village_id, NaN where no pool covers
        it; pools table with pool, scope, district, commune, hours).
    """
    v = villages[["village_id", "commune", "district"]].drop_duplicates("village_id")
    communes = v[["district", "commune"]].drop_duplicates()
    districts = {_norm(d): d for d in communes["district"]}
    by_commune: dict[str, list[tuple[str, str]]] = {}
    for d, c in communes.itertuples(index=False):
        by_commune.setdefault(_norm(c), []).append((d, c))

    commune_pools: dict[tuple[str, str], float] = {}
    district_pools: dict[str, float] = {}
    for e in capacity.entries:
        scope, target = _resolve_entry(e, capacity.text, districts, by_commune)
        if scope == "district":
            if target in district_pools:
                raise CapacityError(f'capacity "{capacity.text}": district "{target}" is given twice')
            district_pools[target] = e.hours
        else:
            if target in commune_pools:
                raise CapacityError(f'capacity "{capacity.text}": commune "{target[1]}" is given twice')
            commune_pools[target] = e.hours

    rows = []
    for (d, c), hours in commune_pools.items():
        rows.append({"pool": f"{d}/{c}", "scope": "commune", "district": d, "commune": c, "hours": hours})
    named_districts = set(district_pools)
    for d, hours in district_pools.items():
        rows.append({"pool": d, "scope": "district", "district": d, "commune": None, "hours": hours})
    if capacity.default_hours is not None:
        for d in sorted(set(communes["district"]) - named_districts):
            rows.append(
                {"pool": d, "scope": "district", "district": d, "commune": None, "hours": capacity.default_hours}
            )
    pools = pd.DataFrame(rows, columns=["pool", "scope", "district", "commune", "hours"])

    key = list(zip(v["district"], v["commune"]))
    commune_pool = pd.Series([f"{d}/{c}" if (d, c) in commune_pools else None for d, c in key], dtype=object)
    district_pool = v["district"].where(v["district"].isin(set(pools.loc[pools.scope == "district", "district"])))
    pool = commune_pool.fillna(pd.Series(district_pool.to_numpy(), dtype=object))
    return pd.Series(pool.to_numpy(), index=v["village_id"].to_numpy(), name="pool", dtype=object), pools


def _resolve_entry(e: CapacityEntry, text: str, districts: dict, by_commune: dict) -> tuple[str, object]:
    key = _norm(e.name)
    if e.scope == "commune" or e.district is not None:
        matches = by_commune.get(key, [])
        if e.district is not None:
            matches = [m for m in matches if _norm(m[0]) == _norm(e.district)]
            if _norm(e.district) not in districts:
                raise CapacityError(_unknown(text, e, e.district, "district", districts.values()))
        if not matches:
            raise CapacityError(_unknown(text, e, e.name, "commune", [c for ms in by_commune.values() for _, c in ms]))
        if len(matches) > 1:
            raise CapacityError(_ambiguous_commune(text, e, matches))
        return "commune", matches[0]
    if e.scope == "district":
        if key not in districts:
            raise CapacityError(_unknown(text, e, e.name, "district", districts.values()))
        return "district", districts[key]
    in_d, in_c = key in districts, key in by_commune
    if in_d and in_c:
        raise CapacityError(
            f'capacity "{text}": "{e.name}" is both a district and a commune; write '
            f'"district:{e.name}=..." or "commune:{e.name}=..."'
        )
    if in_d:
        return "district", districts[key]
    if in_c:
        if len(by_commune[key]) > 1:
            raise CapacityError(_ambiguous_commune(text, e, by_commune[key]))
        return "commune", by_commune[key][0]
    names = list(districts.values()) + [c for ms in by_commune.values() for _, c in ms]
    raise CapacityError(_unknown(text, e, e.name, "district or commune", names))


def _unknown(text: str, e: CapacityEntry, name: str, what: str, known) -> str:
    known = sorted(set(known))
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    shown = ", ".join(known[:8]) + (" ..." if len(known) > 8 else "")
    return f'capacity "{text}": no {what} called "{name}" in the data (entry "{e.text}"){hint}. Known: {shown}'


def _ambiguous_commune(text: str, e: CapacityEntry, matches: list) -> str:
    options = ", ".join(f'"{d}/{c}=..."' for d, c in matches)
    return f'capacity "{text}": commune "{e.name}" is in several districts; write one of {options}'
