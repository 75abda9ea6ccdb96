"""DropoutModel: a LightGBM binary classifier with early stopping and calibration.

Three verbs, scikit-learn style: `fit` (train on one slice, stop early and calibrate on a
later validation slice), `predict_proba` (calibrated probability of the positive
class, a 1-d array), `contributions` (LightGBM `pred_contrib`, in log-odds).

Persistence never uses pickle. A saved model is a folder of plain files:

    model.txt         LightGBM's own text format (Booster.save_model)
    calibration.json  the monotone calibration map (see calibration.py)
    linear.json       when the model blends in a linear model (see linear.py)
    features.json     feature names in catalog order and their monotone constraints
    metadata.json     target, horizon, parameters, best iteration, sha256 of model.txt
    reference.json    when present: the training reference monitoring compares runs with
    digest.json       sha256 of every file above and the model's digest over them all

The digest (`DropoutModel.digest`) is what a scoring run and the service record as the
model: two folders that differ in any file (another calibration, feature list, blend
weight) have different digests, so one run id can never mix them. `load` refuses a
folder without digest.json, with a file that does not match it, or with a file it does
not list; calibration values must be finite and in range.

`DropoutModel.load` also reads the layout MLflow writes for a logged Booster
(`model.lgb` with the JSON files under `extra_files/`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

# OpenMP threads that spin while waiting make LightGBM up to 30x slower on a machine whose
# cores are busy with other work (measured: 8.8 s vs 0.56 s for 50 trees on 2 cores).
# Must be set before the OpenMP runtime starts, i.e. before lightgbm first runs.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from dropout.io import write_bytes
from dropout.errors import DropoutError
from dropout.model.calibration import Calibrator
from dropout.model.linear import LinearBase

MODEL_FILE = "model.txt"
MLFLOW_MODEL_FILE = "model.lgb"
DIGEST_FILE = "digest.json"
#: Files a model folder may hold (besides digest.json); each is covered by the digest.
MODEL_PARTS = (MODEL_FILE, "calibration.json", "features.json", "metadata.json", "linear.json", "reference.json")
MAX_PART_BYTES = 256 * 2**20


def folder_digest(file_sha256: dict[str, str]) -> str:
    """The model's digest: sha256 over the sorted `name sha256` lines of its files."""
    lines = "".join(f"{name} {sha}\n" for name, sha in sorted(file_sha256.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()
DIRECTIONS = {"up": 1, "down": -1}


class ModelInputError(DropoutError, ValueError):
    """The feature matrix handed to a model does not match the features it was trained on."""


def _entry_get(entry, key, default=None):
    if isinstance(entry, dict):
        return entry.get(key, default)
    return getattr(entry, key, default)


def catalog_entries(catalog) -> list:
    """Catalog entries as a list, whatever container the catalog comes in."""
    if isinstance(catalog, pd.DataFrame):
        return catalog.to_dict("records")
    if isinstance(catalog, dict):
        if "features" in catalog:
            return list(catalog["features"])
        return [({"name": k, **v} if isinstance(v, dict) else v) for k, v in catalog.items()]
    for attr in ("features", "entries"):
        if hasattr(catalog, attr) and not callable(getattr(catalog, attr)):
            return list(getattr(catalog, attr))
    return list(catalog)


def monotone_constraints(catalog, feature_names: list[str]) -> list[int]:
    """+1 / -1 for features the catalog marks monotone with a certain direction, else 0.

    Raises:
        ModelInputError: if a feature is missing from the catalog.
    """
    by_name = {_entry_get(e, "name"): e for e in catalog_entries(catalog)}
    missing = [f for f in feature_names if f not in by_name]
    if missing:
        raise ModelInputError(f"features not in the catalog: {missing[:10]}")
    out = []
    for f in feature_names:
        e = by_name[f]
        certain = bool(_entry_get(e, "monotone", False))
        out.append(DIRECTIONS.get(str(_entry_get(e, "direction", "unknown")), 0) if certain else 0)
    return out


class DropoutModel:
    """Calibrated LightGBM binary classifier over a fixed, ordered list of features.

    Args:
        params: LightGBM parameters (objective binary; seed, deterministic, num_threads).
        feature_names: column names in catalog order; `fit` takes them from X if None.
        monotone: one of -1/0/+1 per feature (LightGBM `monotone_constraints`).
        calibration: "isotonic" or "platt".
        num_boost_round, early_stopping_rounds: training length and patience on validation.
        metadata: free JSON-serialisable facts kept beside the model (target, horizon...).
    """

    def __init__(
        self,
        params: dict | None = None,
        *,
        feature_names: list[str] | None = None,
        monotone: list[int] | None = None,
        calibration: str = "isotonic",
        num_boost_round: int = 1000,
        early_stopping_rounds: int = 50,
        metadata: dict | None = None,
        linear_weight: float = 0.0,
        linear_signs: list[int] | None = None,
        linear_weights: list[float] | None = None,
    ):
        self.params = dict(params or {})
        self.linear_signs = list(linear_signs) if linear_signs is not None else None
        weights = [float(w) for w in (linear_weights or [])]
        for w in [float(linear_weight), *weights]:
            if not 0.0 <= w < 1.0:
                raise ModelInputError(f"linear weights must be in [0, 1), got {w!r}")
        self.linear_weight = float(linear_weight)
        # Candidate weights: `fit` picks the one with the best AUC on the validation slice.
        self.linear_weights = weights
        self.feature_names = list(feature_names) if feature_names is not None else None
        self.monotone = list(monotone) if monotone is not None else None
        self.calibration = calibration
        self.num_boost_round = int(num_boost_round)
        self.early_stopping_rounds = int(early_stopping_rounds)
        self.metadata = dict(metadata or {})

    # ------------------------------------------------------------------ input

    def _matrix(self, X) -> np.ndarray:
        if self.feature_names is None:
            raise ModelInputError("the model has no feature list: fit or load it first")
        if isinstance(X, pd.DataFrame):
            missing = [f for f in self.feature_names if f not in X.columns]
            if missing:
                raise ModelInputError(f"X lacks {len(missing)} model feature(s): {missing[:10]}")
            return X[self.feature_names].to_numpy(dtype=np.float64, na_value=np.nan)
        arr = np.asarray(X, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != len(self.feature_names):
            raise ModelInputError(
                f"X must be 2-d with {len(self.feature_names)} columns in catalog order, got shape {arr.shape}"
            )
        return arr

    # ------------------------------------------------------------------ fit

    def fit(self, X_train, y_train, X_val, y_val, *, context=None, context_val=None) -> "DropoutModel":
        """Train with early stopping on (X_val, y_val), then calibrate on the same slice.

        `context`/`context_val` are accepted for the common model interface and not used.
        """
        self.digest_ = None
        if self.feature_names is None:
            if not isinstance(X_train, pd.DataFrame):
                raise ModelInputError("give feature_names or pass X_train as a DataFrame")
            self.feature_names = [str(c) for c in X_train.columns]
        if self.monotone is None:
            self.monotone = [0] * len(self.feature_names)
        if len(self.monotone) != len(self.feature_names):
            raise ModelInputError(
                f"monotone has {len(self.monotone)} entries for {len(self.feature_names)} features"
            )
        y_train = np.asarray(y_train, dtype=np.float64)
        y_val = np.asarray(y_val, dtype=np.float64)
        for name, y in (("y_train", y_train), ("y_val", y_val)):
            if len(np.unique(y)) < 2:
                raise ModelInputError(f"{name} holds a single class; cannot train a binary classifier")
        params = {"objective": "binary", "metric": "binary_logloss", **self.params}
        params["monotone_constraints"] = self.monotone
        m_train, m_val = self._matrix(X_train), self._matrix(X_val)
        if self.linear_weights and max(self.linear_weights) > 0:
            self.linear_weight = max(w for w in self.linear_weights if w > 0)  # a line is fitted; chosen below
        if self.linear_weight > 0:
            # A logistic regression on the same rows, blended in the log-odds (linear.py).
            signs = self.linear_signs if self.linear_signs is not None else self.monotone
            self.linear_ = LinearBase(signs).fit(m_train, y_train)
        elif hasattr(self, "linear_"):
            del self.linear_
        dtrain = lgb.Dataset(
            m_train.astype(np.float32), label=y_train, feature_name=self.feature_names, free_raw_data=True,
        )
        dval = lgb.Dataset(m_val.astype(np.float32), label=y_val, reference=dtrain)
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=self.num_boost_round,
            valid_sets=[dval],
            valid_names=["validation"],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, first_metric_only=True, verbose=False)],
        )
        best = booster.best_iteration or booster.current_iteration()
        # Keep only the trees up to the best iteration, so the model in memory is the
        # model on disk, tree for tree.
        self.booster_ = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
        self.best_iteration_ = int(best)
        if self.linear_weights:
            self.linear_weight = self._choose_weight(m_val, y_val)
            if self.linear_weight == 0 and hasattr(self, "linear_"):
                del self.linear_
        raw_val = self._raw(m_val)
        self.calibrator_ = Calibrator(method=self.calibration).fit(raw_val, y_val)
        self.metadata.update(
            best_iteration=self.best_iteration_,
            n_train=int(len(y_train)),
            n_validation=int(len(y_val)),
            lightgbm_version=lgb.__version__,
        )
        return self

    def _check_fitted(self):
        if not hasattr(self, "booster_") or not hasattr(self, "calibrator_"):
            raise ModelInputError("the model is not fitted: call fit() or DropoutModel.load()")

    # ------------------------------------------------------------------ predict

    def _choose_weight(self, m_val: np.ndarray, y_val: np.ndarray) -> float:
        """The candidate blend weight with the best AUC on the validation slice (ties: the
        one listed first). The slice is the most recent data before the test months."""
        from sklearn.metrics import roc_auc_score

        trees = self.booster_.predict(m_val, raw_score=True)
        line = self.linear_.margin(m_val) if getattr(self, "linear_", None) is not None else trees
        scores = [float(roc_auc_score(y_val, (1 - w) * trees + w * line)) for w in self.linear_weights]
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        self.metadata["linear_weight_validation_auc"] = dict(zip(map(str, self.linear_weights), scores))
        return self.linear_weights[best]

    def _raw(self, m: np.ndarray) -> np.ndarray:
        if getattr(self, "linear_", None) is None:
            return self.booster_.predict(m)
        w = self.linear_weight
        margin = (1.0 - w) * self.booster_.predict(m, raw_score=True) + w * self.linear_.margin(m)
        return 1.0 / (1.0 + np.exp(-margin))

    def predict_raw(self, X) -> np.ndarray:
        """The uncalibrated probability of the positive class (1-d): the booster's, blended
        in the log-odds with the linear model's when there is one (weight `linear_weight`)."""
        self._check_fitted()
        return self._raw(self._matrix(X))

    def predict_proba(self, X, *, context=None) -> np.ndarray:
        """Calibrated probability of the positive class, a 1-d array in [0, 1].

        (Unlike scikit-learn, not an (n, 2) array: we only ever want P(label = 1).)
        """
        raw = self.predict_raw(X)
        return self.calibrator_.transform(raw)

    def contributions(self, X) -> pd.DataFrame:
        """Per-row feature contributions (LightGBM `pred_contrib`) in log-odds of the raw score.

        Columns are the features in catalog order plus `bias`; a row sums to the raw
        log-odds. The calibration map is non-decreasing, so a positive contribution
        pushes the calibrated probability up too: signs and the order of reasons hold,
        magnitudes are in raw log-odds, not in calibrated probability.
        """
        self._check_fitted()
        m = self._matrix(X)
        contrib = self.booster_.predict(m, pred_contrib=True)
        if getattr(self, "linear_", None) is not None:  # additive: the line's terms join the trees'
            w = self.linear_weight
            lin, intercept = self.linear_.contributions(m)
            contrib *= 1.0 - w
            contrib[:, :-1] += w * lin
            contrib[:, -1] += w * intercept
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(contrib, columns=[*self.feature_names, "bias"], index=index)

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Total gain (or split count) per feature, largest first."""
        self._check_fitted()
        imp = self.booster_.feature_importance(importance_type=kind)
        return pd.Series(imp, index=self.feature_names, name=kind).sort_values(ascending=False)

    # ------------------------------------------------------------------ persistence

    def model_text(self) -> str:
        self._check_fitted()
        return self.booster_.model_to_string()

    @property
    def sha256(self) -> str:
        """sha256 of the LightGBM text model (the bytes of model.txt)."""
        return hashlib.sha256(self.model_text().encode("utf-8")).hexdigest()

    def file_bytes(self) -> dict[str, bytes]:
        """Every file of the saved folder (digest.json included), as bytes."""
        files = {MODEL_FILE: self.model_text().encode("utf-8")}
        for name, obj in self._json_parts().items():
            files[name] = (json.dumps(obj, indent=1, ensure_ascii=False, default=str) + "\n").encode("utf-8")
        shas = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        manifest = {"files": shas, "digest": folder_digest(shas), "format": "dropout-model-digest-1"}
        files[DIGEST_FILE] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")
        return files

    @property
    def digest(self) -> str:
        """sha256 over every file of the model's folder (see the module docstring)."""
        if getattr(self, "digest_", None) is None:
            self.digest_ = json.loads(self.file_bytes()[DIGEST_FILE])["digest"]
        return self.digest_

    def _json_parts(self) -> dict[str, dict]:
        parts = {"linear.json": self.linear_.to_dict()} if getattr(self, "linear_", None) is not None else {}
        if getattr(self, "reference_", None) is not None:  # dropout.monitor.reference
            parts["reference.json"] = self.reference_
        return {
            **parts,
            "calibration.json": self.calibrator_.to_dict(),
            "features.json": {"features": self.feature_names, "monotone": self.monotone},
            "metadata.json": {
                **self.metadata,
                "params": self.params,
                "calibration": self.calibration,
                "num_boost_round": self.num_boost_round,
                "early_stopping_rounds": self.early_stopping_rounds,
                "linear_weight": self.linear_weight if getattr(self, "linear_", None) is not None else 0.0,
                "model_sha256": self.sha256,
                "format": "lightgbm-text+json",
            },
        }

    def save(self, folder: str | Path) -> Path:
        """Write the model folder (LightGBM text + JSON files); returns the folder."""
        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        files = self.file_bytes()
        for name, data in files.items():  # digest.json last: a folder without it is refused
            if name != DIGEST_FILE:
                write_bytes(data, folder / name)
        write_bytes(files[DIGEST_FILE], folder / DIGEST_FILE)
        self.digest_ = json.loads(files[DIGEST_FILE])["digest"]
        return folder

    @classmethod
    def load(cls, folder: str | Path, verify: bool = True) -> "DropoutModel":
        """Read a saved model folder (ours or MLflow's layout), checking its digest.

        Raises:
            FileNotFoundError: no model file in the folder.
            ModelInputError: no digest.json, a file that does not match it or that it does
                not list, a symlink, or a file that cannot be read as what it should be.
        """
        folder = Path(folder)
        model_file = next((folder / n for n in (MODEL_FILE, MLFLOW_MODEL_FILE) if (folder / n).exists()), None)
        if model_file is None:
            raise FileNotFoundError(f"{folder}: no {MODEL_FILE} or {MLFLOW_MODEL_FILE} (not a model folder)")
        parts = _model_parts(folder, model_file)
        if verify:
            digest = _check_digest(folder, parts)
        try:
            model = cls._from_parts(folder, parts)
        except ModelInputError:
            raise
        except (ValueError, KeyError, TypeError, IndexError, RecursionError, lgb.basic.LightGBMError) as err:
            raise ModelInputError(f"{folder}: not a usable model ({type(err).__name__}: {err})") from None
        model.digest_ = digest if verify else None
        return model

    @classmethod
    def _from_parts(cls, folder: Path, parts: dict[str, bytes]) -> "DropoutModel":
        def part(name: str) -> dict:
            if name not in parts:
                raise FileNotFoundError(f"{folder}: {name} is missing")
            try:
                value = json.loads(parts[name].decode("utf-8"))
            except (ValueError, RecursionError) as err:
                raise ModelInputError(f"{folder}: {name} is not valid JSON ({type(err).__name__})") from None
            if not isinstance(value, dict):
                raise ModelInputError(f"{folder}: {name} is not a JSON object")
            return value

        meta, feats = part("metadata.json"), part("features.json")
        text = parts[MODEL_FILE].decode("utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if not meta.get("model_sha256"):
            raise ModelInputError(f"{folder}: metadata.json has no model_sha256")
        if meta["model_sha256"] != digest:
            raise ModelInputError(
                f"{folder / MODEL_FILE}: sha256 {digest[:12]}... does not match metadata.json "
                f"({str(meta['model_sha256'])[:12]}...); the model file was changed"
            )
        names = feats.get("features")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise ModelInputError(f"{folder}: features.json has no list of feature names")
        _check_model_text(folder, text, len(names))
        params = meta.pop("params", {})
        model = cls(
            params,
            feature_names=names,
            monotone=feats.get("monotone"),
            calibration=meta.pop("calibration", "isotonic"),
            num_boost_round=meta.pop("num_boost_round", 1000),
            early_stopping_rounds=meta.pop("early_stopping_rounds", 50),
            linear_weight=float(meta.pop("linear_weight", 0.0)),
            metadata={k: v for k, v in meta.items() if k not in ("model_sha256", "format")},
        )
        if not (np.isfinite(model.linear_weight) and 0.0 <= model.linear_weight <= 1.0):
            raise ModelInputError(f"{folder}: metadata.json linear_weight={model.linear_weight} is not within 0-1")
        model.booster_ = lgb.Booster(model_str=text)
        model.best_iteration_ = int(model.metadata.get("best_iteration", model.booster_.current_iteration()))
        model.calibrator_ = Calibrator.from_dict(part("calibration.json"))
        if model.linear_weight > 0:
            model.linear_ = LinearBase.from_dict(part("linear.json"))
            model.linear_signs = model.linear_.monotone
            if len(model.linear_.monotone) != len(model.feature_names):
                raise ModelInputError(f"{folder}: linear.json does not match the feature list")
        try:
            model.reference_ = part("reference.json")
        except FileNotFoundError:  # trained before monitoring kept a reference
            model.reference_ = None
        if model.booster_.feature_name() != model.feature_names:
            raise ModelInputError(f"{folder}: features.json does not match the booster's feature names")
        return model

    def __repr__(self) -> str:
        n = len(self.feature_names) if self.feature_names else 0
        state = f"fitted, {self.best_iteration_} trees" if hasattr(self, "booster_") else "not fitted"
        return f"DropoutModel({n} features, calibration={self.calibration!r}, {state})"


def _model_parts(folder: Path, model_file: Path) -> dict[str, bytes]:
    """The folder's model files by their names in our layout ({model.txt: bytes, ...}),
    digest.json included; symlinks and oversized files refused."""
    places = {MODEL_FILE: model_file}
    for name in (*MODEL_PARTS[1:], DIGEST_FILE):
        for p in (folder / name, folder / "extra_files" / name):
            if p.exists() or p.is_symlink():
                places[name] = p
                break
    out = {}
    for name, p in places.items():
        if p.is_symlink() or not p.is_file():
            raise ModelInputError(f"{p}: not a regular file (symlinks are refused in a model folder)")
        if p.stat().st_size > MAX_PART_BYTES:
            raise ModelInputError(f"{p}: {p.stat().st_size:,} bytes is too large for a model file")
        out[name] = p.read_bytes()
    return out


def _check_digest(folder: Path, parts: dict[str, bytes]) -> str:
    """Check digest.json against the files; return the model's digest."""
    if DIGEST_FILE not in parts:
        raise ModelInputError(
            f"{folder}: no {DIGEST_FILE}, so nothing proves which calibration and features go with "
            "this model; save the model again with this version of dropout (DropoutModel.save) or retrain")
    try:
        manifest = json.loads(parts[DIGEST_FILE].decode("utf-8"))
        listed = dict(manifest["files"])
        digest = str(manifest["digest"])
    except (ValueError, KeyError, TypeError, RecursionError):
        raise ModelInputError(f"{folder}: {DIGEST_FILE} is not a digest manifest") from None
    if folder_digest(listed) != digest:
        raise ModelInputError(f"{folder}: {DIGEST_FILE} is inconsistent (its digest is not over its files)")
    ours = (folder / MODEL_FILE).exists()
    present = set(parts) - {DIGEST_FILE}
    if ours:  # our layout: every file of the folder must be listed
        present |= {p.name for p in folder.iterdir() if p.name != DIGEST_FILE}
    unlisted = sorted(present - set(listed))
    if unlisted:
        raise ModelInputError(f"{folder}: {', '.join(unlisted)} not covered by {DIGEST_FILE}")
    for name, sha in listed.items():
        if name not in parts:
            raise ModelInputError(f"{folder}: {name} is listed in {DIGEST_FILE} but missing")
        actual = hashlib.sha256(parts[name]).hexdigest()
        if actual != sha:
            raise ModelInputError(f"{folder}: {name} sha256 {actual[:12]}... does not match {DIGEST_FILE} "
                                  f"({str(sha)[:12]}...); the file was changed")
    return digest


def _check_model_text(folder: Path, text: str, n_features: int) -> None:
    """Cheap checks before LightGBM parses the text (a malformed file can abort the
    process inside LightGBM's C++ code, where no Python exception can catch it)."""
    head = text[:4096]
    if not head.startswith("tree\n") or "\nversion=" not in head or "end of trees" not in text:
        raise ModelInputError(f"{folder}: {MODEL_FILE} is not a LightGBM text model")
    if f"\nmax_feature_idx={n_features - 1}\n" not in head:
        raise ModelInputError(f"{folder}: {MODEL_FILE} does not have the {n_features} features of features.json")
