"""Reason codes: each person's top reasons from LightGBM `pred_contrib`, as sentences.

Only features that push this person's risk *up* (contribution > 0) can be a reason: an
officer acts on what makes a lapse likely, not on what keeps it unlikely. The sentence
comes from the feature catalog with the person's actual value filled in.

Vectorised: the top features come from one `argpartition` over the contribution matrix;
sentences are formatted once per distinct (feature, value) pair, grouping by feature,
and handed out by integer codes (categoricals), never by a loop over people. Values are
mostly counts, days and money amounts, so a national run formats a few thousand
sentences for two million people.
"""

from __future__ import annotations

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
    base = codes_of[:n_features]
    lookup = dict(zip(uniques, range(n_groups)))
    alt = np.array([-1 if g is None else lookup[g] for g in (groups_missing or [None] * n_features)], dtype=np.int64)
    moves = None
    if values is not None and (alt >= 0).any():
        moves = (alt >= 0)[None, :] & np.isnan(np.asarray(values, dtype=np.float64))
        if not moves.any():
            moves = None
    # Group sums as matrix products (one pass each; this runs for every person scored).
    onehot = np.zeros((n_features, n_groups))
    onehot[np.arange(n_features), base] = 1.0
    if moves is None:
        group_sum = c @ onehot
    else:
        moved = np.where(moves, c, 0.0)
        onehot_alt = np.zeros((n_features, n_groups))
        has_alt = np.flatnonzero(alt >= 0)
        onehot_alt[has_alt, alt[has_alt]] = 1.0
        group_sum = (c - moved) @ onehot + moved @ onehot_alt
    # Each group's strongest feature, looking only at the columns that can belong to it.
    best = np.empty((c.shape[0], n_groups), dtype=np.int64)
    for g in range(n_groups):
        cols = np.flatnonzero((base == g) | ((alt == g) if moves is not None else False))
        if len(cols) == 0:  # a group only empty values join, and none is empty here
            best[:, g] = 0
            continue
        sub = c[:, cols]
        if moves is not None:
            member = np.where(moves[:, cols], alt[cols] == g, base[cols] == g)
            sub = np.where(member, sub, -np.inf)
        best[:, g] = cols[np.argmax(sub, axis=1)]
    group_index, valid = top_features(group_sum, n)
    return np.take_along_axis(best, group_index, axis=1), valid


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
) -> pd.DataFrame:
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
        One row per input row with `reason_columns(n, langs)` as categorical columns;
        missing (null) where a row has fewer than k reasons pushing risk up.
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
    idx, valid = top_reasons(contributions, n, groups, values, groups_missing)
    r, j = np.nonzero(valid)
    feat = idx[r, j]
    val = values[r, feat]

    # One sentence per distinct (feature, value): group the (row, slot) pairs by feature.
    pair_code = np.empty(len(feat), dtype=np.int64)
    texts: dict[str, list[str]] = {lang: [] for lang in langs}
    order = np.argsort(feat, kind="stable")
    feats_sorted = feat[order]
    bounds = np.flatnonzero(np.diff(feats_sorted)) + 1
    offset = 0
    for group in np.split(order, bounds) if len(order) else []:
        f = int(feat[group[0]])
        uniq, inverse = np.unique(val[group], return_inverse=True, equal_nan=True)
        pair_code[group] = offset + inverse.ravel()
        offset += len(uniq)
        for lang in langs:
            texts[lang].extend(sentence(names[f], _plain(v), lang) for v in uniq)

    out = {}  # in reason_columns order
    for lang in langs:
        cats, remap = _dedupe(texts[lang])
        codes = remap[pair_code] if len(pair_code) else pair_code
        for k in range(n):
            slot = np.full(rows, -1, dtype=np.int64)
            sel = j == k
            slot[r[sel]] = codes[sel]
            out[f"reason_{k + 1}_{lang}"] = pd.Categorical.from_codes(slot, dtype=pd.CategoricalDtype(cats))
    feature_dtype = pd.CategoricalDtype(pd.Index(names))
    for k in range(n):
        slot = np.where(valid[:, k], idx[:, k], -1)
        out[f"reason_{k + 1}_feature"] = pd.Categorical.from_codes(slot, dtype=feature_dtype)
    return pd.DataFrame(out, index=index if index is not None else pd.RangeIndex(rows), copy=False)


def _plain(v: float):
    """A float that holds a whole number becomes an int, so '{value}' reads '3', not '3.0'."""
    if np.isnan(v):
        return float("nan")
    return int(v) if float(v).is_integer() else float(v)


def _dedupe(texts: list[str]) -> tuple[pd.Index, np.ndarray]:
    """Unique sentences (categories must be unique) and each input's position among them."""
    codes, uniques = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
    return pd.Index(uniques, dtype=object), codes.astype(np.int64)
