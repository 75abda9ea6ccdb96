"""Reason codes: each person's top reasons from LightGBM `pred_contrib`, as sentences.

Only features that push this person's risk *up* (contribution > 0) can be a reason: an
officer acts on what makes a lapse likely, not on what keeps it unlikely. The sentence
comes from the feature catalog with the person's actual value filled in.

The catalog decides, in data, what may be shown (`catalog_rules`): fixed traits
(`shown_as_reason: false`: ethnicity, age, travel time, days to the deadline, village
size) never are; a value is shown only where its `reason_when` holds (no "paid 0
installments late" as a risk); a `reason_variants` entry gives another sentence and
group where the value says something else (never paid = a new member). Batch scoring
and the service both come through `explain`, so both obey. Each reason group carries a
suggested action (catalog `reason_groups`): a person's action is their first reason's.

Vectorised: the top features come from one `argpartition` over the contribution matrix;
sentences are formatted once per distinct (feature, value) pair, grouping by feature,
and handed out by integer codes (categoricals), never by a loop over people. Values are
mostly counts, days and money amounts, so a national run formats a few thousand
sentences for two million people.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from dropout.score.output import LANGS, N_REASONS, reason_columns  # noqa: F401 (re-exported)

SentenceFn = Callable[[str, float, str], str]


def top_features(contributions: np.ndarray, n: int = N_REASONS) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the positions of the `n` largest positive contributions, largest first.

    Args:
        contributions: (rows, features) array without the bias column.
    Returns:
        (index, valid): both (rows, n); `valid` is False where a row has fewer than n
        features with contribution > 0 (index is then meaningless). Ties are broken by
        the lower feature position, so the result depends on the row alone.
    """
    c = np.asarray(contributions, dtype=np.float64)
    rows, n_features = c.shape
    k = min(n, n_features)
    masked = np.where(c > 0, c, -np.inf)
    if n_features > k:
        part = np.argpartition(-masked, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(n_features), (rows, n_features)).copy()
    vals = np.take_along_axis(masked, part, axis=1)
    # Order the k by contribution descending, then by feature position (a stable tie-break).
    order = np.lexsort((part, -vals), axis=1)
    index = np.take_along_axis(part, order, axis=1)
    valid = np.take_along_axis(vals, order, axis=1) > 0
    if k < n:
        index = np.pad(index, ((0, 0), (0, n - k)))
        valid = np.pad(valid, ((0, 0), (0, n - k)))
    # A tie across the partition boundary could leave a higher-position feature in; that
    # only happens for exactly equal floats, and the choice still depends on the row alone.
    return index, valid


def top_reasons(contributions: np.ndarray, n: int = N_REASONS, groups: Sequence[str] | None = None,
                values: np.ndarray | None = None,
                groups_missing: Sequence[str | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Like `top_features`, but each reason group of features is named at most once.

    A group's contribution is the sum of its features' (SHAP values add up), so four
    ways of saying "new to paying" count as one reason; the group is then written with
    its feature that pushes risk up most. Without `groups` every feature is its own.
    Where `values` is empty (NaN) and `groups_missing` names a group for that feature,
    the contribution counts toward that group instead.
    """
    c = np.asarray(contributions, dtype=np.float64)
    if groups is None:
        return top_features(c, n)
    if len(groups) != c.shape[1]:
        raise ValueError(f"{len(groups)} reason groups for {c.shape[1]} features")
    names = list(groups) + [g for g in (groups_missing or []) if g is not None]
    codes_of, uniques = pd.factorize(pd.Series(names, dtype=object))
    n_features, n_groups = c.shape[1], len(uniques)
    lookup = dict(zip(uniques, range(n_groups)))
    base = codes_of[:n_features].astype(np.int64)
    cell = np.broadcast_to(base, c.shape)
    candidates = [{int(b)} for b in base]
    alt = np.array([-1 if g is None else lookup[g] for g in (groups_missing or [None] * n_features)], dtype=np.int64)
    if values is not None and (alt >= 0).any():
        moves = (alt >= 0)[None, :] & np.isnan(np.asarray(values, dtype=np.float64))
        if moves.any():
            cell = np.where(moves, alt[None, :], cell)
            for j in np.flatnonzero(alt >= 0):
                candidates[j].add(int(alt[j]))
    return top_by_cell_group(c, cell, n_groups, candidates, n)


def top_by_cell_group(c: np.ndarray, cell: np.ndarray, n_groups: int, candidates: Sequence[set[int]],
                      n: int = N_REASONS) -> tuple[np.ndarray, np.ndarray]:
    """The top `n` groups per row by the sum of their cells' contributions, each written
    with its strongest feature.

    Args:
        c: (rows, features) contributions.
        cell: (rows, features) the group code of each cell, -1 where it may not be a reason.
        candidates: per feature, every group code its cells can take (to look only at
            the columns that can belong to a group).
    Returns:
        (feature index, valid), both (rows, n).
    """
    rows, n_features = c.shape
    kept = np.where(cell >= 0, c, 0.0)
    # Group sums in one pass (this runs for every person scored).
    flat = (np.arange(rows, dtype=np.int64)[:, None] * n_groups + np.maximum(cell, 0)).ravel()
    group_sum = np.bincount(flat, weights=kept.ravel(), minlength=rows * n_groups).reshape(rows, n_groups)
    best = np.zeros((rows, n_groups), dtype=np.int64)
    for g in range(n_groups):
        cols = np.array([j for j in range(n_features) if g in candidates[j]], dtype=np.int64)
        if len(cols) == 0:
            continue
        sub = np.where(cell[:, cols] == g, kept[:, cols], -np.inf)
        best[:, g] = cols[np.argmax(sub, axis=1)]
    group_index, valid = top_features(group_sum, n)
    return np.take_along_axis(best, group_index, axis=1), valid


# ---------------------------------------------------------------- the catalog's rules


class _Rules:
    """What the catalog says about showing each of a model's features (see the module
    docstring), ready to apply to a matrix of values."""

    def __init__(self, names: tuple[str, ...]):
        from dropout.features.catalog import load_catalog

        catalog = load_catalog()
        self.catalog = catalog
        self.names = names
        self.position = {name: j for j, name in enumerate(names)}
        self.specs = [catalog[name] if name in catalog else None for name in names]

    def cells(self, values: np.ndarray, groups: Sequence[str], groups_missing: Sequence[str | None] | None):
        """(cell group codes, variant numbers, group names, candidate groups per feature).

        cell is -1 where a value may not be a reason; variant 0 is the feature's own
        sentence, k > 0 its k-th `reason_variants` entry.
        """
        rows, n_features = values.shape
        group_names: list[str] = []
        code: dict[str, int] = {}

        def code_of(group: str) -> int:
            if group not in code:
                code[group] = len(group_names)
                group_names.append(group)
            return code[group]

        cell = np.empty((rows, n_features), dtype=np.int64)
        variant = np.zeros((rows, n_features), dtype=np.int8)
        candidates: list[set[int]] = []

        def column(name: str):
            j = self.position.get(name)
            return None if j is None else values[:, j]

        for j, spec in enumerate(self.specs):
            own = values[:, j]
            base = code_of(groups[j])
            cell[:, j] = base
            cand = {base}
            missing_group = groups_missing[j] if groups_missing is not None else None
            if missing_group is not None:
                g = code_of(missing_group)
                cell[np.isnan(own), j] = g
                cand.add(g)
            if spec is not None:
                if not spec.shown_as_reason:
                    cell[:, j] = -1
                    candidates.append(set())
                    continue
                shown = spec.reason_when.evaluate(own, column) if spec.reason_when is not None else None
                taken = np.zeros(rows, dtype=bool)
                for k, v in enumerate(spec.reason_variants, start=1):
                    hit = v.when.evaluate(own, column) & ~taken
                    if hit.any():
                        variant[hit, j] = k
                        if v.group is not None:
                            g = code_of(v.group)
                            cell[hit, j] = g
                            cand.add(g)
                    taken |= hit
                if shown is not None:
                    cell[~(shown | taken), j] = -1
            candidates.append(cand)
        return cell, variant, group_names, candidates


_RULES: dict[tuple[str, ...], _Rules] = {}


def catalog_rules(feature_names: Sequence[str]) -> _Rules:
    """The catalog's rules for these features (read once per feature list)."""
    key = tuple(feature_names)
    if key not in _RULES:
        _RULES[key] = _Rules(key)
    return _RULES[key]


def shown_features(feature_names: Sequence[str]) -> list[str]:
    """The features that may ever be a reason (catalog `shown_as_reason` not false)."""
    rules = catalog_rules(feature_names)
    return [n for n, spec in zip(rules.names, rules.specs) if spec is None or spec.shown_as_reason]


def explain(
    contributions: np.ndarray,
    values: np.ndarray,
    feature_names: Sequence[str],
    sentence: SentenceFn,
    n: int = N_REASONS,
    langs: Sequence[str] = LANGS,
    index: pd.Index | None = None,
    groups: Sequence[str] | None = None,
    groups_missing: Sequence[str | None] | None = None,
    as_lists: bool = False,
) -> pd.DataFrame | dict[str, list]:
    """Top `n` reasons per row as sentences in each language, plus the feature names.

    Args:
        contributions: (rows, features) `pred_contrib` without the bias column, in the
            order of `feature_names`.
        values: (rows, features) the feature values the model saw.
        sentence: `sentence(feature, value, lang) -> str` (the catalog's reason sentence).
        groups: each feature's reason group (catalog `reason_group`); a group is named
            at most once per row (see `top_reasons`); `groups_missing`: the group of
            an empty value (catalog `reason_group_missing`), None to keep `groups`.
    Returns:
        One row per input row with `reason_columns(n, langs)` and then `action_<lang>`
        (the suggested action of the first reason's group) as categorical columns;
        missing (null) where a row has fewer than k reasons pushing risk up.
        With `as_lists`: the same columns as a dict of plain lists (None where missing),
        without the categoricals (the service's few rows: building them costs more
        than finding the reasons).
    """
    contributions = np.asarray(contributions)
    values = np.asarray(values, dtype=np.float64)
    names = np.asarray(list(feature_names), dtype=object)
    if contributions.shape != values.shape or contributions.shape[1] != len(names):
        raise ValueError(
            f"contributions {contributions.shape}, values {values.shape} and {len(names)} feature "
            "names do not line up (give pred_contrib without its bias column)"
        )
    rows = contributions.shape[0]
    rules = catalog_rules(list(names))
    cell, variant, group_names, candidates = rules.cells(
        values, list(groups) if groups is not None else list(names), groups_missing)
    idx, valid = top_by_cell_group(np.asarray(contributions, dtype=np.float64), cell, len(group_names),
                                   candidates, n)
    r, j = np.nonzero(valid)
    feat = idx[r, j]
    val = values[r, feat]
    var = variant[r, feat].astype(np.int64)

    # One sentence per distinct (feature, variant, value): group the (row, slot) pairs by
    # feature and variant.
    n_variants = int(variant.max(initial=0)) + 1
    key = feat.astype(np.int64) * n_variants + var
    pair_code = np.empty(len(feat), dtype=np.int64)
    texts: dict[str, list[str]] = {lang: [] for lang in langs}
    order = np.argsort(key, kind="stable")
    keys_sorted = key[order]
    bounds = np.flatnonzero(np.diff(keys_sorted)) + 1
    offset = 0
    for part in np.split(order, bounds) if len(order) else []:
        f, v = int(feat[part[0]]), int(var[part[0]])
        uniq, inverse = np.unique(val[part], return_inverse=True, equal_nan=True)
        pair_code[part] = offset + inverse.ravel()
        offset += len(uniq)
        for lang in langs:
            if v == 0:
                texts[lang].extend(sentence(names[f], _plain(x), lang) for x in uniq)
            else:
                texts[lang].extend(_variant_text(rules, names[f], v, _plain(x), lang) for x in uniq)

    first_group = np.where(valid[:, 0], cell[np.arange(rows), idx[:, 0]], -1) if rows else np.zeros(0, np.int64)
    if as_lists:
        return _as_lists(rules, names, texts, pair_code, r, j, idx, valid, first_group, group_names, n, langs)
    out = {}  # in reason_columns order
    for lang in langs:
        cats, remap = _dedupe(texts[lang])
        codes = remap[pair_code] if len(pair_code) else pair_code
        for k in range(n):
            slot = np.full(rows, -1, dtype=np.int64)
            sel = j == k
            slot[r[sel]] = codes[sel]
            out[f"reason_{k + 1}_{lang}"] = pd.Categorical.from_codes(slot, dtype=pd.CategoricalDtype(cats))
    feature_dtype = _dtype(tuple(names), True)
    for k in range(n):
        slot = np.where(valid[:, k], idx[:, k], -1)
        out[f"reason_{k + 1}_feature"] = pd.Categorical.from_codes(slot, dtype=feature_dtype)
    # The suggested action: the group of the first reason (first_group above).
    for lang in langs:
        actions = [rules.catalog.action(g, lang) for g in group_names]
        known = [a for a in dict.fromkeys(actions) if a is not None]
        at = {a: i for i, a in enumerate(known)}
        per_group = np.array([at[a] if a is not None else -1 for a in actions] + [-1], dtype=np.int64)
        out[f"action_{lang}"] = pd.Categorical.from_codes(per_group[first_group], dtype=_dtype(tuple(known), False))
    return pd.DataFrame(out, index=index if index is not None else pd.RangeIndex(rows), copy=False)


def _as_lists(rules, names, texts, pair_code, r, j, idx, valid, first_group, group_names, n, langs) -> dict[str, list]:
    """`explain`'s columns as plain lists: the same texts, features and actions as its
    categoricals decode to (tests/test_score_reasons.py pins the two)."""
    rows = idx.shape[0]
    out: dict[str, list] = {}
    r_list, j_list, codes = r.tolist(), j.tolist(), pair_code.tolist()
    for lang in langs:
        text = texts[lang]
        for k in range(n):
            col: list = [None] * rows
            for row, slot, code in zip(r_list, j_list, codes):
                if slot == k:
                    col[row] = text[code]
            out[f"reason_{k + 1}_{lang}"] = col
    for k in range(n):
        out[f"reason_{k + 1}_feature"] = [str(names[f]) if ok else None
                                          for f, ok in zip(idx[:, k].tolist(), valid[:, k].tolist())]
    for lang in langs:
        actions = [rules.catalog.action(g, lang) for g in group_names]
        out[f"action_{lang}"] = [actions[g] if g >= 0 else None for g in first_group.tolist()]
    return out


@lru_cache(maxsize=64)
def _dtype(categories: tuple[str, ...], as_array: bool) -> pd.CategoricalDtype:
    """The categorical dtype of a fixed list (feature names, actions), made once: its
    checks cost more than the rest of a one-person explanation. `as_array`: categories
    from an object array (as the feature names come), else from the list."""
    if as_array:
        return pd.CategoricalDtype(pd.Index(np.asarray(list(categories), dtype=object)))
    return pd.CategoricalDtype(list(categories))


def _variant_text(rules: _Rules, feature: str, variant: int, value, lang: str) -> str:
    from dropout.features.catalog import variant_sentence

    return variant_sentence(feature, variant, value, lang, catalog=rules.catalog)


def _plain(v: float):
    """A float that holds a whole number becomes an int, so '{value}' reads '3', not '3.0'."""
    if np.isnan(v):
        return float("nan")
    return int(v) if float(v).is_integer() else float(v)


def _dedupe(texts: list[str]) -> tuple[pd.Index, np.ndarray]:
    """Unique sentences (categories must be unique) and each input's position among them."""
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
    return pd.Index(uniques, dtype=object), codes.astype(np.int64)
