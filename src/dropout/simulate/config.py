"""Simulator configuration: one frozen dataclass per mechanism, loaded from a preset YAML.

Presets live in `experiments/presets/<name>.yaml`; every knob is written there with the
source of its number. A preset may say `extends: <other preset>` and override keys
(dicts merge key by key, lists and scalars replace). No knob has a default in Python:
a missing or unknown key is a ConfigError naming its path.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dropout.errors import ConfigError
from dropout.paths import experiments_dir

PRESETS = ("a-luoi", "huong-hoa", "province", "national")


# ---------------------------------------------------------------- geography


@dataclass(frozen=True)
class DistrictSpec:
    """One district written out in the preset (or expanded from a ProvinceSpec)."""

    name: str
    province: str
    province_code: int
    region: str
    terrain: str
    weight: float
    travel_minutes: list[int]
    minority_share: float
    languages: dict[str, float]
    communes: list[str] = field(default_factory=list)  # empty: names are generated


@dataclass(frozen=True)
class ProvinceSpec:
    """A province whose districts are generated (national preset)."""

    name: str
    code: int
    region: str
    weight: float
    n_districts: int
    mountain_share: float
    minority_share_mountain: float
    minority_share_lowland: float
    languages: dict[str, float] = field(default_factory=dict)  # empty: the region's


@dataclass(frozen=True)
class GeographyConfig:
    participants_per_village: float
    villages_per_commune: float
    village_size_sigma: float
    minority_village_kinh_share: float
    kinh_village_minority_share: float
    minority_farther_slope: float
    terrain_travel_minutes: dict[str, list[int]]
    region_languages: dict[str, dict[str, float]]
    districts: list[DistrictSpec]
    provinces: list[ProvinceSpec]


# ---------------------------------------------------------------- people


@dataclass(frozen=True)
class PopulationConfig:
    stock_share: float
    stock_first_year: int
    stock_growth_yearly: float
    year_weights: dict[int, float]
    month_weights: list[float]
    reform_month: str
    reform_enrolment_factor: float
    household_pair_prob: float
    female_share: float
    age_mean: float
    age_sd: float
    age_range: list[int]
    occupations: dict[str, dict[str, float]]
    payment_modes: dict[str, float]
    income_base_at_minimum: dict[str, float]
    income_base_above_sigma: float
    prior_compulsory_share: float
    prior_compulsory_months: list[int]
    stock_paid_share: float


@dataclass(frozen=True)
class IncomeConfig:
    median_vnd: dict[str, float]
    sigma: float
    growth_yearly: float
    harvest_calendar: list[float]
    ar_rho: float
    ar_sd: float
    loss_per_shock: float
    floor_share: float


@dataclass(frozen=True)
class PovertyConfig:
    poor_below_vnd: float
    near_poor_below_vnd: float
    review_months: list[int]
    assessment_sd: float
    exit_margin: float
    request_review_prob: float
    disaster_review_prob: float


@dataclass(frozen=True)
class DisasterKind:
    scope: str  # "regional": one event hits many communes of a region; "local": per commune
    season: list[float]
    region_factor: dict[str, float]
    terrain_factor: dict[str, float]
    severity_probs: list[float]
    shock_weight: float


@dataclass(frozen=True)
class DisasterConfig:
    shock_decay: float
    kinds: dict[str, DisasterKind]


@dataclass(frozen=True)
class LapseConfig:
    intercept: float
    net_cost_share: float
    disaster_shock: float
    subsidy_loss: float
    subsidy_loss_months: int
    habit: float
    habit_memory: float
    tenure: float
    tenure_months: float
    youth: float
    youth_below_age: float
    youth_span_years: float
    distance_per_hour: float
    neighbour: float
    neighbour_months: int
    neighbour_prior_rate: float
    neighbour_prior_weight: float
    pension: float
    pension_horizon_years: float
    person_sd: float
    exposure_months: dict[str, float]
    resume_intercept: float
    resume_scale: float
    makeup_share: float
    withdrawal_monthly_hazard: float
    downgrade_prob: float
    downgrade_per_shock: float
    tardiness_beta: list[float]


@dataclass(frozen=True)
class OutreachConfig:
    home_visits_per_1000: float
    sessions_per_1000: float
    home_targeting: dict[str, float]
    session_targeting: dict[str, float]
    home_effect: float
    session_effect: float
    responsiveness_shape: float
    unresponsive_share: float
    local_language_home: float
    local_language_session: float
    wrong_language_factor: float
    notes: dict[str, float]


@dataclass(frozen=True)
class SimConfig:
    """Everything the simulator draws from, one section per mechanism."""

    name: str
    description: str
    participants: int
    geography: GeographyConfig
    population: PopulationConfig
    income: IncomeConfig
    poverty: PovertyConfig
    disasters: DisasterConfig
    lapse: LapseConfig
    outreach: OutreachConfig

    def with_participants(self, n: int) -> "SimConfig":
        if int(n) < 1:
            raise ConfigError(f"participants must be a positive number, got {n!r}")
        return dataclasses.replace(self, participants=int(n))


# ---------------------------------------------------------------- loading


def preset_path(name: str) -> Path:
    return experiments_dir() / "presets" / f"{name}.yaml"


def load_preset(preset: str | Path) -> SimConfig:
    """Load a preset by name (`a-luoi`) or by path to a YAML file."""
    return config_from_dict(_read_with_extends(preset, seen=()), where=str(preset))


def config_from_dict(data: dict, where: str = "config") -> SimConfig:
    """Build a SimConfig from a plain dict (as read from YAML), checking every key."""
    return _build(SimConfig, data, where)


def build_dataclass(cls, data: dict, where: str):
    """Build any config dataclass from a plain dict, checking every key (scenarios use it too)."""
    return _build(cls, data, where)


def _read_with_extends(preset: str | Path, seen: tuple) -> dict:
    path = Path(preset) if str(preset).endswith((".yaml", ".yml")) else preset_path(str(preset))
    if not path.exists():
        known = ", ".join(PRESETS)
        raise ConfigError(f"preset {preset!r}: no file {path} (known presets: {known})")
    return read_extending(path, "preset", seen, _read_with_extends)


def read_extending(path: Path, what: str, seen: tuple, read_parent) -> dict:
    """The YAML mapping of `path` over the one its `extends` names (`read_parent(name, seen)`
    reads that), refusing a loop and a file that is not a mapping; `what` names the kind
    of file in errors (preset, scenario)."""
    if path in seen:
        raise ConfigError(f"{what} {path}: `extends` loops back on itself")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: expected a mapping at the top level")
    parent = data.pop("extends", None)
    return data if parent is None else _merge(read_parent(parent, seen + (path,)), data)


# Maps of weights are replaced whole by an override: merging two of them key by key
# would mix the categories of both.
_WEIGHT_MAPS = (
    "population.year_weights",
    "population.payment_modes",
    "population.occupations.*",
    "income.median_vnd",
    "outreach.notes",
    "geography.region_languages.*",
)


def _merge(base: dict, override: dict, path: str = "") -> dict:
    out = dict(base)
    for key, value in override.items():
        where = f"{path}.{key}" if path else str(key)
        weights = any(fnmatch.fnmatchcase(where, pattern) for pattern in _WEIGHT_MAPS)
        if isinstance(value, dict) and isinstance(out.get(key), dict) and not weights:
            out[key] = _merge(out[key], value, where)
        else:
            out[key] = value
    return out


def _build(cls, data, where: str):
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if has_default:
                continue
            raise ConfigError(f"{where}.{f.name}: missing (every knob is set in the YAML file)")
        values[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
    return cls(**values)


def _convert(tp, value, where: str):
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {_convert(args[0], k, where): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return int(value)
    if tp is str:
        return str(value)
    return value
