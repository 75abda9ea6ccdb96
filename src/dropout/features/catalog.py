"""The feature catalog (features/catalog.yaml): the single list of features and their reasons.

`load_catalog()` reads and checks it; `reason_sentence(feature, value, lang)` writes the
sentence an officer reads for one feature value, in Vietnamese (`vi`) or English (`en`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from dropout.errors import ConfigError
from dropout.paths import features_dir

KINDS = ("numeric", "flag", "category")
DIRECTIONS = ("up", "down", "unknown")
FORMATS = ("integer", "decimal", "percent", "signed_percent_points", "vnd", "signed_vnd", "month", "label")
LANGS = ("en", "vi")
REQUIRED = ("name", "family", "meaning", "unit", "kind", "direction", "monotone", "format", "reason_en", "reason_vi")
OPTIONAL = ("reason_en_missing", "reason_vi_missing", "reason_en_zero", "reason_vi_zero", "reason_group",
            "reason_group_missing", "labels_en", "labels_vi")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_VI_LETTERS = re.compile("[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.I)
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
UNKNOWN = {"en": "unknown", "vi": "không rõ"}


class CatalogError(ConfigError):
    """features/catalog.yaml is malformed; the message names the feature and the field."""


@dataclass(frozen=True)
class FeatureSpec:
    """One catalog entry."""

    name: str
    family: str
    meaning: str
    unit: str
    kind: str
    direction: str
    monotone: bool
    format: str
    reason_en: str
    reason_vi: str
    reason_en_missing: str | None = None
    reason_vi_missing: str | None = None
    # A sentence for the value 0, where "Paid 0 installment(s) on time" reads badly.
    reason_en_zero: str | None = None
    reason_vi_zero: str | None = None
    # Features that tell an officer the same thing share a group: a person's reasons name
    # each group once (e.g. one sentence for "new to paying", not four). Default: the name.
    reason_group: str | None = None
    # The group an empty value belongs to, where "never happened" says something else
    # than the value does (no lateness recorded yet = new to paying).
    reason_group_missing: str | None = None
    labels_en: dict = field(default_factory=dict)
    labels_vi: dict = field(default_factory=dict)

    @property
    def monotone_constraint(self) -> int:
        """LightGBM's monotone constraint: +1 risk rises, -1 falls, 0 free."""
        if not self.monotone:
            return 0
        return {"up": 1, "down": -1}.get(self.direction, 0)


@dataclass(frozen=True)
class Catalog:
    families: tuple[str, ...]
    features: tuple[FeatureSpec, ...]

    def names(self, families=None) -> list[str]:
        """Feature names in catalog order, optionally only those of `families`."""
        wanted = set(families) if families is not None else None
        return [f.name for f in self.features if wanted is None or f.family in wanted]

    def __getitem__(self, name: str) -> FeatureSpec:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"feature {name!r} is not in the catalog (features/catalog.yaml)")

    def __contains__(self, name: str) -> bool:
        return any(f.name == name for f in self.features)

    def by_family(self) -> dict[str, list[str]]:
        return {fam: self.names([fam]) for fam in self.families}

    def categorical(self) -> list[str]:
        """Features that are codes, not amounts (for a model's categorical_feature)."""
        return [f.name for f in self.features if f.kind == "category"]

    def reason_groups(self, names: list[str] | None = None, missing: bool = False) -> list[str | None]:
        """The reason group of each of `names` (default: all, catalog order); with
        `missing`, the group of an empty value (None where it is the usual group)."""
        names = names if names is not None else self.names()
        if missing:
            return [self[n].reason_group_missing if n in self else None for n in names]
        return [self[n].reason_group or n if n in self else n for n in names]

    def monotone_constraints(self, names: list[str] | None = None) -> list[int]:
        """LightGBM monotone constraints for `names` (default: all, catalog order)."""
        return [self[n].monotone_constraint for n in (names if names is not None else self.names())]


def _check_entry(i: int, raw: dict, families: tuple[str, ...]) -> FeatureSpec:
    where = f"features/catalog.yaml feature #{i + 1} ({raw.get('name', '?')!r})"
    if not isinstance(raw, dict):
        raise CatalogError(f"{where}: expected a mapping, got {type(raw).__name__}")
    missing = [k for k in REQUIRED if k not in raw or raw[k] in (None, "")]
    if missing:
        raise CatalogError(f"{where}: missing field(s) {missing}")
    unknown = [k for k in raw if k not in REQUIRED + OPTIONAL]
    if unknown:
        raise CatalogError(f"{where}: unknown field(s) {unknown}; allowed: {list(REQUIRED + OPTIONAL)}")
    if raw["family"] not in families:
        raise CatalogError(f"{where}: family {raw['family']!r} is not one of {list(families)}")
    for name, allowed in (("kind", KINDS), ("direction", DIRECTIONS), ("format", FORMATS)):
        if raw[name] not in allowed:
            raise CatalogError(f"{where}: {name} {raw[name]!r} is not one of {list(allowed)}")
    if not isinstance(raw["monotone"], bool):
        raise CatalogError(f"{where}: monotone must be true or false, got {raw['monotone']!r}")
    if raw["monotone"] and raw["direction"] == "unknown":
        raise CatalogError(f"{where}: monotone is true but direction is 'unknown'")
    if ("reason_en_zero" in raw) != ("reason_vi_zero" in raw):
        raise CatalogError(f"{where}: give reason_en_zero and reason_vi_zero together")
    for key in ("reason_en", "reason_vi", "reason_en_missing", "reason_vi_missing", "reason_en_zero", "reason_vi_zero"):
        text = raw.get(key)
        if text is None:
            continue
        bad = [p for p in _PLACEHOLDER.findall(text) if p != "value"]
        if bad:
            raise CatalogError(f"{where}: {key} uses placeholder(s) {bad}; only {{value}} is filled in")
        if key in ("reason_en", "reason_vi") and "{value}" not in text:
            raise CatalogError(f"{where}: {key} must contain {{value}}")
    if raw["format"] == "label":
        for lang in LANGS:
            labels = raw.get(f"labels_{lang}")
            if not isinstance(labels, dict) or not labels:
                raise CatalogError(f"{where}: format 'label' needs labels_{lang} (value -> phrase)")
        if set(raw["labels_en"]) != set(raw["labels_vi"]):
            raise CatalogError(f"{where}: labels_en and labels_vi cover different values")
    vi_texts = [raw["reason_vi"], *(raw.get("labels_vi") or {}).values()]
    if not any(_VI_LETTERS.search(str(t)) for t in vi_texts):
        raise CatalogError(f"{where}: reason_vi has no Vietnamese diacritics; write it in full Vietnamese")
    labels_en = {int(k): str(v) for k, v in (raw.get("labels_en") or {}).items()}
    labels_vi = {int(k): str(v) for k, v in (raw.get("labels_vi") or {}).items()}
    return FeatureSpec(**{**raw, "labels_en": labels_en, "labels_vi": labels_vi})


def parse_catalog(data: dict) -> Catalog:
    """Check a parsed catalog document and build a `Catalog`."""
    if not isinstance(data, dict) or "features" not in data or "families" not in data:
        raise CatalogError("features/catalog.yaml: expected top-level keys 'families' and 'features'")
    families = tuple(data["families"])
    specs = tuple(_check_entry(i, raw, families) for i, raw in enumerate(data["features"]))
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise CatalogError(f"features/catalog.yaml: duplicate feature name(s) {dupes}")
    order = [families.index(s.family) for s in specs]
    if order != sorted(order):
        raise CatalogError("features/catalog.yaml: features must be grouped by family in the order of 'families'")
    return Catalog(families, specs)


@lru_cache(maxsize=4)
def load_catalog(path: str | None = None) -> Catalog:
    """Read and check features/catalog.yaml (or `path`)."""
    p = Path(path) if path else features_dir() / "catalog.yaml"
    return parse_catalog(yaml.safe_load(p.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- reason sentences


def _group(number: int, sep: str) -> str:
    return f"{number:,}".replace(",", sep)


def format_value(spec: FeatureSpec, value, lang: str) -> str:
    """Write one value the way the feature's `format` says, in `lang`."""
    sep, dec = (".", ",") if lang == "vi" else (",", ".")
    fmt = spec.format
    if fmt == "label":
        labels = spec.labels_vi if lang == "vi" else spec.labels_en
        key = int(round(float(value)))
        if key not in labels:
            raise ValueError(f"feature {spec.name!r}: no label for value {value!r}; labels cover {sorted(labels)}")
        return labels[key]
    v = float(value)
    if fmt == "integer":
        return ("-" if v < 0 else "") + _group(abs(int(round(v))), sep)
    if fmt == "decimal":
        return f"{v:.1f}".replace(".", dec)
    if fmt == "percent":
        return f"{v * 100:.0f}%"
    if fmt == "signed_percent_points":
        points = int(round(v * 100))
        word = "điểm phần trăm" if lang == "vi" else "percentage points"
        return f"{points:+d} {word}"
    if fmt in ("vnd", "signed_vnd"):
        amount = int(round(v))
        sign = ("+" if amount > 0 else "-" if amount < 0 else "") if fmt == "signed_vnd" else ("-" if amount < 0 else "")
        return f"{sign}{_group(abs(amount), sep)} {'đồng' if lang == 'vi' else 'VND'}"
    if fmt == "month":
        m = int(round(v))
        return f"tháng {m}" if lang == "vi" else MONTHS_EN[m - 1]
    raise ValueError(f"feature {spec.name!r}: unknown format {fmt!r}")


def reason_sentence(feature: str, value, lang: str = "en", catalog: Catalog | None = None) -> str:
    """The officer's sentence for `feature` at `value`, in `lang` ('vi' or 'en').

    An empty value (None/NaN: "never happened") uses the feature's *_missing sentence, a
    zero its *_zero sentence when the catalog has one.
    """
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {list(LANGS)}, got {lang!r}")
    spec = (catalog or load_catalog())[feature]
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    try:
        missing = missing or bool(value != value)  # numpy NaN, pd.NA
    except (TypeError, ValueError):
        pass
    if missing:
        text = getattr(spec, f"reason_{lang}_missing")
        if text:
            return text
        return getattr(spec, f"reason_{lang}").replace("{value}", UNKNOWN[lang])
    zero = getattr(spec, f"reason_{lang}_zero")
    if zero and spec.format != "label" and float(value) == 0:
        return zero.replace("{value}", format_value(spec, value, lang))
    return getattr(spec, f"reason_{lang}").replace("{value}", format_value(spec, value, lang))
