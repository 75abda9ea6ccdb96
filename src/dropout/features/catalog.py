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

import numpy as np
import yaml

from dropout.errors import ConfigError
from dropout.paths import features_dir

KINDS = ("numeric", "flag", "category")
DIRECTIONS = ("up", "down", "unknown")
FORMATS = ("integer", "decimal", "percent", "signed_percent_points", "vnd", "signed_vnd", "month", "label")
LANGS = ("en", "vi")
REQUIRED = ("name", "family", "meaning", "unit", "kind", "direction", "monotone", "format", "reason_en", "reason_vi")
OPTIONAL = ("reason_en_missing", "reason_vi_missing", "reason_en_zero", "reason_vi_zero", "reason_group",
            "reason_group_missing", "labels_en", "labels_vi", "shown_as_reason", "reason_when", "reason_variants")
VARIANT_FIELDS = ("when", "group", "reason_en", "reason_vi")
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
    # False for fixed traits (ethnicity, age, travel time, days to the deadline, village
    # size) and schedule facts: they shape the approach, never a reason an officer reads.
    shown_as_reason: bool = True
    # When a value may be a reason (a `Condition`), e.g. "value > 0": a count of late
    # payments of 0 is good behaviour, never a risk reason. Default: always.
    reason_when: "Condition | None" = None
    # Other sentences (and groups) for values that say something else, the first whose
    # `when` holds: e.g. "has never paid" is a new member, not a late payer.
    reason_variants: tuple["Variant", ...] = ()

    @property
    def monotone_constraint(self) -> int:
        """LightGBM's monotone constraint: +1 risk rises, -1 falls, 0 free."""
        if not self.monotone:
            return 0
        return {"up": 1, "down": -1}.get(self.direction, 0)



_OPS = {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal, ">": np.greater,
        ">=": np.greater_equal}
_TERM = re.compile(r"^(?:(missing|present)|([a-z_][a-z0-9_]*) is (missing|present)|"
                   r"([a-z_][a-z0-9_]*)\s*(==|!=|<=|>=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?|[a-z_][a-z0-9_]*))$")


@dataclass(frozen=True)
class Condition:
    """A test on a person's feature values: clauses joined by `or`, terms by `and`.

    A term is `missing` / `present` (the feature's own value), `NAME is missing|present`,
    or `NAME OP NUMBER` / `NAME OP NAME` with OP one of == != < <= > >=; NAME is `value`
    (the feature's own value) or another feature. A comparison with an empty value is false, and so is
    any term on a feature the model does not use.
    """

    text: str
    clauses: tuple[tuple[tuple[str, str, float | str | None], ...], ...]

    @classmethod
    def parse(cls, text: str, where: str) -> "Condition":
        if not isinstance(text, str) or not text.strip():
            raise CatalogError(f"{where}: a condition must be text such as 'value > 0', got {text!r}")
        clauses = []
        for clause in re.split(r"\s+or\s+", text.strip()):
            terms = []
            for term in re.split(r"\s+and\s+", clause.strip()):
                m = _TERM.match(term.strip())
                if not m:
                    raise CatalogError(
                        f"{where}: cannot read {term!r} in {text!r}; write terms like 'value > 0', "
                        "'missing', 'payment_days_total == 0', joined by 'and' / 'or'")
                if m.group(1):
                    terms.append(("value", m.group(1), None))
                elif m.group(2):
                    terms.append((m.group(2), m.group(3), None))
                else:
                    right = m.group(6)
                    terms.append((m.group(4), m.group(5), right if right[0].isalpha() or right[0] == "_"
                                  else float(right)))
            clauses.append(tuple(terms))
        return cls(text, tuple(clauses))

    def names(self) -> set[str]:
        names = set()
        for clause in self.clauses:
            for name, _, right in clause:
                names |= {n for n in (name, right) if isinstance(n, str)}
        return names - {"value"}

    def evaluate(self, own: np.ndarray, column) -> np.ndarray:
        """Where the condition holds, for rows whose own value is `own`; `column(name)`
        gives another feature's values (None when the model does not use it)."""
        out = np.zeros(len(own), dtype=bool)
        for clause in self.clauses:
            hold = np.ones(len(own), dtype=bool)
            for name, op, number in clause:
                values = own if name == "value" else column(name)
                if values is None:
                    hold[:] = False
                    break
                if op == "missing":
                    hold &= np.isnan(values)
                elif op == "present":
                    hold &= ~np.isnan(values)
                else:
                    other = number
                    if isinstance(number, str):
                        other = own if number == "value" else column(number)
                        if other is None:
                            hold[:] = False
                            break
                    # NaN compares false without a floating-point error (no errstate
                    # needed: entering one per term cost more than the comparison).
                    hold &= _OPS[op](values, other)
            out |= hold
        return out


@dataclass(frozen=True)
class Variant:
    """Another sentence and group for the values where `when` holds; without sentences
    the feature's own (missing / zero / formatted) sentence is kept."""

    when: Condition
    group: str | None = None
    reason_en: str | None = None
    reason_vi: str | None = None


@dataclass(frozen=True)
class Catalog:
    families: tuple[str, ...]
    features: tuple[FeatureSpec, ...]
    # reason group -> {"action_en": ..., "action_vi": ...}: what an officer can do about it
    group_actions: dict = field(default_factory=dict)
    # families -> their feature names: asked for on every request the service scores
    _names: dict = field(default_factory=dict, repr=False, compare=False)

    def action(self, group: str | None, lang: str) -> str | None:
        """The suggested action of a reason group in `lang`, None when it has none."""
        entry = self.group_actions.get(group) if group else None
        return entry[f"action_{lang}"] if entry else None

    def names(self, families=None) -> list[str]:
        """Feature names in catalog order, optionally only those of `families` (a new list each call)."""
        key = tuple(families) if families is not None else None
        hit = self._names.get(key)
        if hit is None:
            wanted = set(families) if families is not None else None
            hit = self._names[key] = tuple(f.name for f in self.features if wanted is None or f.family in wanted)
        return list(hit)

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
    shown = raw.get("shown_as_reason", True)
    if not isinstance(shown, bool):
        raise CatalogError(f"{where}: shown_as_reason must be true or false, got {shown!r}")
    when = Condition.parse(raw["reason_when"], f"{where} reason_when") if "reason_when" in raw else None
    variants = []
    for k, v in enumerate(raw.get("reason_variants") or []):
        at = f"{where} reason_variants #{k + 1}"
        if not isinstance(v, dict) or "when" not in v:
            raise CatalogError(f"{at}: expected a mapping with 'when' (and group / reason_en / reason_vi)")
        unknown = [key for key in v if key not in VARIANT_FIELDS]
        if unknown:
            raise CatalogError(f"{at}: unknown field(s) {unknown}; allowed: {list(VARIANT_FIELDS)}")
        if ("reason_en" in v) != ("reason_vi" in v):
            raise CatalogError(f"{at}: give reason_en and reason_vi together")
        for key in ("reason_en", "reason_vi"):
            bad = [p for p in _PLACEHOLDER.findall(str(v.get(key, ""))) if p != "value"]
            if bad:
                raise CatalogError(f"{at}: {key} uses placeholder(s) {bad}; only {{value}} is filled in")
        if "reason_vi" in v and not _VI_LETTERS.search(str(v["reason_vi"])):
            raise CatalogError(f"{at}: reason_vi has no Vietnamese diacritics; write it in full Vietnamese")
        variants.append(Variant(Condition.parse(v["when"], at), v.get("group"), v.get("reason_en"), v.get("reason_vi")))
    return FeatureSpec(**{**raw, "labels_en": labels_en, "labels_vi": labels_vi, "shown_as_reason": shown,
                          "reason_when": when, "reason_variants": tuple(variants)})


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
    groups = data.get("reason_groups") or {}
    if not isinstance(groups, dict):
        raise CatalogError("features/catalog.yaml: reason_groups must map a group to action_en and action_vi")
    for group, entry in groups.items():
        if not isinstance(entry, dict) or set(entry) != {"action_en", "action_vi"}:
            raise CatalogError(f"features/catalog.yaml reason_groups.{group}: give exactly action_en and action_vi")
        if not _VI_LETTERS.search(str(entry["action_vi"])):
            raise CatalogError(f"features/catalog.yaml reason_groups.{group}: action_vi has no Vietnamese diacritics")
    known = set(names)
    for spec in specs:
        conditions = [spec.reason_when, *(v.when for v in spec.reason_variants)]
        unknown = sorted({n for c in conditions if c is not None for n in c.names()} - known)
        if unknown:
            raise CatalogError(f"features/catalog.yaml feature {spec.name!r}: a condition names unknown feature(s) "
                               f"{unknown}")
        if groups and spec.shown_as_reason:
            used = {spec.reason_group or spec.name, spec.reason_group_missing, *(v.group for v in spec.reason_variants)}
            lacking = sorted(g for g in used - {None} if g not in groups)
            if lacking:
                raise CatalogError(f"features/catalog.yaml feature {spec.name!r}: reason group(s) {lacking} have no "
                                   "suggested action in reason_groups")
    return Catalog(families, specs, dict(groups))


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


def variant_sentence(feature: str, variant: int, value, lang: str = "en", catalog: Catalog | None = None) -> str:
    """The sentence of `feature`'s variant number `variant` (1-based; 0 = the feature's own)."""
    spec = (catalog or load_catalog())[feature]
    if variant == 0:
        return reason_sentence(feature, value, lang, catalog=catalog)
    v = spec.reason_variants[variant - 1]
    text = getattr(v, f"reason_{lang}")
    if text is None:
        return reason_sentence(feature, value, lang, catalog=catalog)
    if "{value}" not in text:
        return text
    return text.replace("{value}", format_value(spec, value, lang))
