"""Learn visit effects that correct for who gets visited, with an uncertainty per person.

For each kind of visit (home visit, evening session), on the visit panel (panel.py):

1. Nuisance models, cross-fitted by person (`nuisance.folds`): the propensity
   e(x) = P(treated | features), and the baseline m(x) = logit P(unpaid | features,
   not treated by either kind), both small LightGBM models; each row's values come from
   models that never saw that person.
2. The effect model: a logistic regression of unpaid on

       1, m(x), z, other treatment, T, T x z, T x spoken-not-in-own-language

   weighted by the overlap weights T (1 - e) + (1 - T) e (Li, Morgan & Zaslavsky 2018),
   with z the standardised traits of `modifiers`. The weights balance the visited and
   the others on everything the propensity sees; the outcome model m(x) adjusts for what
   the weights miss: the effect is right if either is (doubly robust in the sense of
   weighted regression adjustment), and the overlap weights keep a few surprising
   visits from dominating.
3. Per person, the effect on the log-odds of not paying is delta(z) = b_T + b_Tz . z
   (spoken in the person's own language), its standard error from the cluster-robust
   sandwich covariance of the coefficients (clusters: the person for home visits, the
   village for sessions, which treat a whole village at once).

The naive difference (the lapse rate of the visited minus that of the others) is kept
beside it: officers visit the people at risk, so it is biased towards harm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dropout.effects.config import EffectsConfig
from dropout.effects.panel import KINDS, TREATMENT, WRONG_LANGUAGE
from dropout.errors import InputError
from dropout.maths import sigmoid


@dataclass
class KindEffect:
    """The learned effect of one kind of visit (log-odds of not paying the next installment)."""

    kind: str
    modifiers: list[str]
    center: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # [T, T x z...]
    cov: np.ndarray
    wrong_language: float  # extra log-odds when spoken in Vietnamese to a minority member (nan: not seen)
    n_rows: int
    n_treated: int
    naive_difference: float  # lapse rate visited - not visited (probability)
    learned: bool = True
    note: str = ""

    def z(self, features: pd.DataFrame) -> np.ndarray:
        x = np.column_stack([pd.to_numeric(features[c], errors="coerce").to_numpy(np.float64) for c in self.modifiers]) \
            if self.modifiers else np.zeros((len(features), 0))
        x = np.where(np.isnan(x), self.center, x)
        return np.column_stack([np.ones(len(features)), (x - self.center) / self.scale])

    def predict(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(log-odds change, its standard error) per row of `features`, spoken in the person's language."""
        z = self.z(features)
        delta = z @ self.coef
        se = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", z, self.cov, z), 0.0))
        return delta, se

    def to_dict(self) -> dict:
        return {"kind": self.kind, "modifiers": self.modifiers, "center": self.center.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(), "cov": self.cov.tolist(),
                "wrong_language": self.wrong_language, "n_rows": self.n_rows, "n_treated": self.n_treated,
                "naive_difference": self.naive_difference, "learned": self.learned, "note": self.note}

    @classmethod
    def from_dict(cls, d: dict) -> "KindEffect":
        arr = {k: np.asarray(d[k], dtype=np.float64) for k in ("center", "scale", "coef", "cov")}
        return cls(**{**d, **arr})


@dataclass
class VisitEffects:
    """Learned effects per kind of visit (`fit_effects`)."""

    kinds: dict[str, KindEffect] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {k: e.to_dict() for k, e in self.kinds.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "VisitEffects":
        return cls({k: KindEffect.from_dict(v) for k, v in d.items()})


# ---------------------------------------------------------------- maths


def weighted_logit(X: np.ndarray, y: np.ndarray, w: np.ndarray, groups: np.ndarray, ridge: float = 1e-6,
                   iters: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression by Newton steps: (coefficients, cluster-robust covariance).

    The sandwich H^-1 M H^-1 with M summed over `groups` (a person's rows are not
    independent); a tiny ridge keeps a constant column from breaking the solve.
    """
    n, k = X.shape
    b = np.zeros(k)
    ridge_m = ridge * np.eye(k) * max(w.sum(), 1.0)
    for _ in range(iters):
        p = sigmoid(X @ b)
        grad = X.T @ (w * (y - p)) - ridge_m @ b
        H = (X * (w * p * (1 - p))[:, None]).T @ X + ridge_m
        step = np.linalg.solve(H, grad)
        b = b + step
        if np.max(np.abs(step)) < 1e-8:
            break
    p = sigmoid(X @ b)
    H = (X * (w * p * (1 - p))[:, None]).T @ X + ridge_m
    scores = X * (w * (y - p))[:, None]
    _, inv = np.unique(groups, return_inverse=True)
    S = np.zeros((inv.max() + 1, k))
    np.add.at(S, inv, scores)
    Hinv = np.linalg.inv(H)
    return b, Hinv @ (S.T @ S) @ Hinv


def _lgb_oof(X: np.ndarray, y: np.ndarray, fold: np.ndarray, fit_rows: np.ndarray, config: EffectsConfig) -> np.ndarray:
    """Out-of-fold predicted probabilities: fold f is predicted by a model fit on the other
    folds' `fit_rows`."""
    import lightgbm as lgb

    out = np.full(len(y), np.nan)
    nz = config.nuisance
    for f in np.unique(fold):
        train = (fold != f) & fit_rows
        if train.sum() < 20 or len(np.unique(y[train])) < 2:
            out[fold == f] = y[train].mean() if train.any() else 0.5
            continue
        booster = lgb.train(dict(nz.lightgbm), lgb.Dataset(X[train], y[train]), num_boost_round=nz.num_boost_round)
        out[fold == f] = booster.predict(X[fold == f])
    return out


def person_folds(groups: np.ndarray, folds: int) -> np.ndarray:
    """A fold per row, the same for all rows of a person (drawn with a fixed seed)."""
    ids, inv = np.unique(groups, return_inverse=True)
    return np.random.default_rng(0).integers(0, folds, len(ids))[inv]


def fit_kind(X: np.ndarray, y: np.ndarray, t: np.ndarray, t_other: np.ndarray, wrong: np.ndarray, z_raw: np.ndarray,
             groups: np.ndarray, config: EffectsConfig, kind: str = "home_visit", modifiers: list[str] | None = None,
             baseline: np.ndarray | None = None, clusters: np.ndarray | None = None) -> KindEffect:
    """The effect of one treatment `t` on the binary outcome `y` (1 = unpaid).

    Args:
        X: features for the nuisance models (rows x columns, NaN allowed).
        t_other: the other kind of visit (a covariate); wrong: spoken not in the own language.
        z_raw: the traits the effect may vary with (rows x modifiers).
        groups: person of each row (cross-fitting folds and the robust covariance).
        baseline: out-of-fold logit of the untreated outcome if already computed.
        clusters: rows that share a treatment decision, for the robust covariance (default: groups).
    """
    modifiers = list(modifiers) if modifiers is not None else [f"z{i}" for i in range(z_raw.shape[1])]
    n_treated = int(t.sum())
    naive = float(y[t == 1].mean() - y[t == 0].mean()) if 0 < n_treated < len(t) else float("nan")
    center = np.nanmean(z_raw, axis=0) if z_raw.shape[1] else np.zeros(0)
    scale = np.nanstd(z_raw, axis=0) if z_raw.shape[1] else np.zeros(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    k = 1 + len(modifiers)
    if n_treated < config.fallback.min_treated:
        return KindEffect(kind, modifiers, center, scale, np.full(k, np.nan), np.full((k, k), np.nan), float("nan"),
                          len(t), n_treated, naive, learned=False,
                          note=f"{n_treated} {kind.replace('_', ' ')}s recorded (< {config.fallback.min_treated}): "
                               "the assumed effect is kept")
    fold = person_folds(groups, config.nuisance.folds)
    Xo = np.column_stack([X, t_other])
    e = _lgb_oof(Xo, t.astype(float), fold, np.ones(len(t), dtype=bool), config)
    lo, hi = config.nuisance.propensity_clip
    e = np.clip(e, lo, hi)
    if baseline is None:
        untreated = (t == 0) & (t_other == 0)
        pb = np.clip(_lgb_oof(X, y.astype(float), fold, untreated, config), 1e-4, 1 - 1e-4)
        baseline = np.log(pb / (1 - pb))
    z = np.where(np.isnan(z_raw), center, z_raw)
    z = (z - center) / scale
    has_wrong = wrong.sum() >= 20
    cols = [np.ones(len(t)), baseline, z, t_other, t, t[:, None] * z]
    if has_wrong:
        cols.append(wrong)
    D = np.column_stack(cols)
    w = t * (1 - e) + (1 - t) * e
    b, V = weighted_logit(D, y.astype(float), w, groups if clusters is None else clusters)
    first = 2 + z.shape[1] + 1  # 1, baseline, z..., t_other
    sl = slice(first, first + k)
    return KindEffect(kind, modifiers, center, scale, b[sl], V[sl, sl],
                      float(b[-1]) if has_wrong else float("nan"), len(t), n_treated, naive)


def fit_effects(panel: pd.DataFrame, config: EffectsConfig) -> VisitEffects:
    """Learn both kinds of visit from the visit panel (`visit_panel`)."""
    from dropout.features import feature_names
    from dropout.effects.panel import feature_families

    missing = [c for c in config.modifiers if c not in panel.columns]
    if missing:
        raise InputError(f"effects config: modifiers {missing} are not features of the panel")
    feats = [c for c in feature_names(feature_families()) if c in panel.columns]
    X = panel[feats].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    y = panel["label"].to_numpy(np.float64)
    groups = panel["participant_id"].to_numpy()
    z_raw = panel[config.modifiers].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    th, ts = panel[TREATMENT["home_visit"]].to_numpy(np.float64), panel[TREATMENT["evening_session"]].to_numpy(np.float64)
    fold = person_folds(groups, config.nuisance.folds)
    untreated = (th == 0) & (ts == 0)
    pb = np.clip(_lgb_oof(X, y, fold, untreated, config), 1e-4, 1 - 1e-4)
    baseline = np.log(pb / (1 - pb))
    out = {}
    for kind in KINDS:
        t, other = (th, ts) if kind == "home_visit" else (ts, th)
        wrong = panel[WRONG_LANGUAGE[kind]].to_numpy(np.float64)
        # a session treats a whole village at once: its rows are clustered by village, not person
        clusters = groups if kind == "home_visit" else panel["village_id"].astype(str).to_numpy()
        eff = fit_kind(X, y, t, other, wrong, z_raw, groups, config, kind, config.modifiers, baseline,
                       clusters=clusters)
        out[kind] = eff
    return VisitEffects(out)


def naive_and_adjusted(effect: KindEffect, features: pd.DataFrame, risk: np.ndarray) -> dict:
    """Average effect on the probability of not paying among `features` rows: learned vs naive."""
    delta, _ = effect.predict(features)
    p = np.clip(risk, 1e-6, 1 - 1e-6)
    return {"adjusted": float(np.mean(sigmoid(np.log(p / (1 - p)) + delta) - p)), "naive": effect.naive_difference}
