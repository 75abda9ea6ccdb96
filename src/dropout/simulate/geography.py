"""Provinces, districts, communes and villages: where people live and how far the office is.

Mechanisms (knobs in the preset's `geography` section):
- Villages per district follow the district weights; their number scales with the number
  of participants (`participants_per_village`), so `--participants` keeps villages
  realistic in size.
- Travel time to the district office: communes are spread evenly over the district's
  `travel_minutes` range (stratified, so the farthest commune is always near the top:
  A Luoi's farthest villages are ~3 hours away), villages jitter around their commune.
- Ethnic language: a village speaks a minority language with probability
  `minority_share`, tilted towards far villages (`minority_farther_slope`): in the
  mountains the Kinh live along the main road, near the district town.
- Commune names are unique nationally (the contract keys disasters by commune name);
  generated names come from Vietnamese syllables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dropout.errors import ConfigError
from dropout.simulate.config import DistrictSpec, GeographyConfig, ProvinceSpec

TERRAINS = ("mountain", "midland", "lowland", "coastal")
VIETNAMESE = "Vietnamese"

_SYLLABLES = (
    "An Bac Binh Cam Chau Dai Dien Dinh Dong Duc Giang Ha Hai Hanh Hiep Hoa Hoang Hong Hung "
    "Huong Khanh Kim Lac Lam Lap Le Lien Linh Loc Long Loi Minh My Nam Nghia Ngoc Nhan Phu "
    "Phuc Phong Phuoc Quang Quy Son Tan Thach Thai Thang Thanh Thinh Thuan Thuong Thuy Tien "
    "Trung Truong Tu Van Viet Vinh Xuan Yen"
).split()


@dataclass
class Geography:
    """The villages table and the arrays (indexed by village / commune / district) behind it."""

    villages: pd.DataFrame
    village_commune: np.ndarray
    village_district: np.ndarray
    village_weight: np.ndarray
    village_minority: np.ndarray
    village_language: np.ndarray
    village_travel: np.ndarray
    commune_names: np.ndarray
    commune_district: np.ndarray
    commune_region: np.ndarray
    commune_terrain: np.ndarray
    districts: list[DistrictSpec]
    district_province: np.ndarray
    district_terrain: np.ndarray
    provinces: list[str]
    province_codes: np.ndarray
    regions: list[str]

    @property
    def n_villages(self) -> int:
        return len(self.village_commune)

    @property
    def n_communes(self) -> int:
        return len(self.commune_names)


def expand_districts(cfg: GeographyConfig, names: "_Names") -> list[DistrictSpec]:
    """The preset's districts plus the generated districts of each ProvinceSpec."""
    out = list(cfg.districts)
    for p in cfg.provinces:
        out.extend(_province_districts(cfg, p, names))
    if not out:
        raise ConfigError("geography: the preset lists no districts and no provinces")
    for d in out:
        if d.terrain not in TERRAINS:
            raise ConfigError(f"geography district {d.name!r}: terrain {d.terrain!r} not in {TERRAINS}")
        lo, hi = d.travel_minutes
        if not 0 <= lo <= hi <= 600:
            raise ConfigError(f"geography district {d.name!r}: travel_minutes {d.travel_minutes} not within 0-600")
    return out


def _province_districts(cfg: GeographyConfig, p: ProvinceSpec, names: "_Names") -> list[DistrictSpec]:
    n_mountain = int(round(p.n_districts * p.mountain_share))
    lowland_cycle = ("lowland", "coastal", "midland")
    languages = p.languages or cfg.region_languages.get(p.region)
    if not languages:
        raise ConfigError(f"geography province {p.name!r}: no languages and none for region {p.region!r}")
    specs = []
    for k, name in enumerate(names.take(p.n_districts)):
        terrain = "mountain" if k < n_mountain else lowland_cycle[(k - n_mountain) % 3]
        specs.append(
            DistrictSpec(
                name=name,
                province=p.name,
                province_code=p.code,
                region=p.region,
                terrain=terrain,
                weight=p.weight / p.n_districts,
                travel_minutes=list(cfg.terrain_travel_minutes[terrain]),
                minority_share=p.minority_share_mountain if terrain == "mountain" else p.minority_share_lowland,
                languages=languages,
            )
        )
    return specs


class _Names:
    """Place names not yet used: every two-syllable name in random order, then three syllables."""

    def __init__(self, rng: np.random.Generator, used: set[str]):
        pairs = [f"{a} {b}" for a in _SYLLABLES for b in _SYLLABLES if a != b]
        self.pool = [pairs[i] for i in rng.permutation(len(pairs))]
        self.rng = rng
        self.used = used
        self.next = 0

    def take(self, n: int) -> list[str]:
        out: list[str] = []
        while len(out) < n:
            if self.next < len(self.pool):
                name = self.pool[self.next]
                self.next += 1
            else:
                name = " ".join(_SYLLABLES[i] for i in self.rng.choice(len(_SYLLABLES), size=3, replace=False))
            if name not in self.used:
                self.used.add(name)
                out.append(name)
        return out


def _allocate(total: int, weights: np.ndarray, minimum: int = 1) -> np.ndarray:
    """Split `total` into integer parts proportional to `weights` (largest remainder)."""
    share = weights / weights.sum() * total
    parts = np.maximum(np.floor(share).astype(np.int64), minimum)
    short = total - parts.sum()
    if short > 0:
        order = np.argsort(-(share - np.floor(share)), kind="stable")
        parts[order[:short]] += 1
    return parts


def build_geography(cfg: GeographyConfig, n_participants: int, rng: np.random.Generator) -> Geography:
    """Draw villages for `n_participants` people over the preset's districts."""
    names = _Names(rng, {c for d in cfg.districts for c in d.communes} | {d.name for d in cfg.districts})
    districts = expand_districts(cfg, names)
    n_d = len(districts)
    weights = np.array([d.weight for d in districts], dtype=float)
    n_villages = max(n_d, int(round(n_participants / cfg.participants_per_village)))
    v_per_d = _allocate(n_villages, weights)
    n_villages = int(v_per_d.sum())  # at least one village per district: small samples may need more

    # communes: explicit names where the preset has them, generated elsewhere
    commune_names: list[str] = []
    c_per_d = np.empty(n_d, dtype=np.int64)
    for k, d in enumerate(districts):
        if d.communes:
            n_c = min(len(d.communes), int(v_per_d[k]))
            keep = np.sort(rng.choice(len(d.communes), size=n_c, replace=False))
            chosen = [d.communes[i] for i in keep]
        else:
            n_c = max(1, int(round(v_per_d[k] / cfg.villages_per_commune)))
            chosen = names.take(n_c)
        commune_names.extend(chosen)
        c_per_d[k] = n_c
    if len(set(commune_names)) != len(commune_names):
        raise ConfigError("geography: commune names repeat across districts; make them unique in the preset")

    lo = np.array([d.travel_minutes[0] for d in districts], dtype=float)
    hi = np.array([d.travel_minutes[1] for d in districts], dtype=float)
    terrain = np.array([TERRAINS.index(d.terrain) for d in districts])
    regions = sorted({d.region for d in districts})
    region = np.array([regions.index(d.region) for d in districts])
    provinces = list(dict.fromkeys(d.province for d in districts))
    province = np.array([provinces.index(d.province) for d in districts])
    codes = np.array([next(d.province_code for d in districts if d.province == p) for p in provinces])

    # communes spread evenly over the travel range (stratified in random order)
    c_district = np.repeat(np.arange(n_d), c_per_d)
    c_first = np.concatenate([[0], np.cumsum(c_per_d)[:-1]])
    c_order = np.lexsort((rng.random(len(c_district)), c_district))
    c_rank = np.empty(len(c_district), dtype=np.int64)
    c_rank[c_order] = np.arange(len(c_district)) - c_first[c_district[c_order]]
    frac = (c_rank + rng.random(len(c_district))) / c_per_d[c_district]
    c_travel = lo[c_district] + (hi - lo)[c_district] * frac

    # villages split evenly over their district's communes
    v_district = np.repeat(np.arange(n_d), v_per_d)
    v_first = np.concatenate([[0], np.cumsum(v_per_d)[:-1]])
    v_rank = np.arange(n_villages) - v_first[v_district]
    v_commune = c_first[v_district] + (v_rank * c_per_d[v_district]) // v_per_d[v_district]
    span = (hi - lo)[v_district]
    travel = c_travel[v_commune] + rng.normal(0.0, 0.06, n_villages) * span
    travel = np.clip(np.rint(travel), lo[v_district], hi[v_district]).astype(np.int64)

    share = np.array([d.minority_share for d in districts])[v_district]
    far = np.where(span > 0, (travel - lo[v_district]) / np.maximum(span, 1.0), 0.5)
    p_minority = np.clip(share * (1.0 + cfg.minority_farther_slope * (far - 0.5)), 0.0, 1.0)
    minority = rng.random(n_villages) < p_minority
    language = np.full(n_villages, VIETNAMESE, dtype=object)
    lang_maps: dict[tuple, int] = {}
    d_lang = np.array([lang_maps.setdefault(tuple(d.languages.items()), len(lang_maps)) for d in districts])
    lang_key = d_lang[v_district]
    for items, key in lang_maps.items():  # one draw per distinct language map, not per village
        langs = np.array([n for n, _ in items], dtype=object)
        p = np.array([w for _, w in items], dtype=float)
        sel = np.flatnonzero(minority & (lang_key == key))
        language[sel] = langs[rng.choice(len(langs), size=len(sel), p=p / p.sum())]

    size = rng.lognormal(0.0, cfg.village_size_sigma, n_villages)
    size_in_d = np.bincount(v_district, weights=size, minlength=n_d)
    v_weight = size / size_in_d[v_district] * (weights / weights.sum())[v_district]

    width = max(3, len(str(n_d)))
    village_id = (
        pd.Series(codes[province[v_district]]).astype(str).str.zfill(2)
        + pd.Series(v_district + 1).astype(str).str.zfill(width)
        + pd.Series(v_rank + 1).astype(str).str.zfill(4)
    )
    names_arr = np.array(commune_names, dtype=object)
    villages = pd.DataFrame(
        {
            "village_id": village_id.astype(str),
            "commune": pd.Series(names_arr[v_commune], dtype="str"),
            "district": pd.Series(np.array([d.name for d in districts], dtype=object)[v_district], dtype="str"),
            "province": pd.Series(np.array(provinces, dtype=object)[province[v_district]], dtype="str"),
            "travel_minutes": travel.astype(np.int64),
            "ethnic_language": pd.Series(language, dtype="str"),
        }
    )
    return Geography(
        villages=villages,
        village_commune=v_commune.astype(np.int64),
        village_district=v_district.astype(np.int64),
        village_weight=v_weight,
        village_minority=minority,
        village_language=language,
        village_travel=travel,
        commune_names=names_arr,
        commune_district=c_district,
        commune_region=region[c_district],
        commune_terrain=terrain[c_district],
        districts=districts,
        district_province=province,
        district_terrain=terrain,
        provinces=provinces,
        province_codes=codes,
        regions=regions,
    )
