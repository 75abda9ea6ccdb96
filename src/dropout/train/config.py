"""Experiment configuration: one YAML file in `experiments/` describes a whole run.

The file names the data (a folder, or a simulator preset), the as-of dates, the target
and its horizon, the backtest folds, the model parameters file, where to track and
under which name to register. Every default lives here, once. Unknown keys are refused
so that a typo never silently falls back to a default.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError, model_validator

from dropout.strict import Strict
from dropout.errors import ConfigError
from dropout.paths import models_dir, project_root

TARGETS = ("lapse", "no_payment", "withdraw_12m")
#: Days after as_of by which a target's label is known (withdraw_12m: a claim within 12 months).
WITHDRAW_HORIZON_DAYS = 365




class SimulatedSource(Strict):
    preset: str
    participants: int | None = Field(default=None, gt=0)
    seed: int = 1
    start: str | None = None
    end: str | None = None


class DataSource(Strict):
    """Either `folder` (a data folder of the contract) or `simulate` (a preset)."""

    folder: str | None = None
    simulate: SimulatedSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.folder is None) == (self.simulate is None):
            raise ValueError("data: give exactly one of `folder` or `simulate`")
        return self


class AsOf(Strict):
    start: str
    end: str | None = None  # default: the last labelled date (extraction - label horizon)
    frequency: str = "MS"  # pandas offset alias: MS = first day of each month


class Backtest(Strict):
    folds: int = Field(default=3, ge=1)
    test_months: int = Field(default=6, ge=1)
    validation_months: int = Field(default=6, ge=1)
    gap_days: int | None = Field(default=None, ge=0)  # default: the label horizon
    validation_gap_days: int | None = Field(default=None, ge=0)  # default: gap_days
    min_train_months: int = Field(default=6, ge=1)
    max_train_rows: int | None = Field(default=None, gt=0)  # participant-level subsample
    # Share of participants kept out of training: only their rows of the validation months
    # early-stop and calibrate the model. For long horizons (withdraw_12m, no validation
    # gap) a person's training rows share the outcome of their validation rows, so
    # validation looks better than test and the calibration comes out too steep.
    validation_people: float | None = Field(default=None, gt=0, lt=1)


class ModelSpec(Strict):
    params: str = "models/lightgbm.yaml"
    calibration: Literal["isotonic", "platt"] = "platt"


class Evaluation(Strict):
    top_k_percent: tuple[float, ...] = (5.0, 10.0, 20.0)
    top_n_per_district: tuple[int, ...] = (20, 50)
    ece_bins: int = Field(default=10, ge=2)
    capacity_percent: float = Field(default=10.0, gt=0, le=100)  # selection used for groups
    oracle_fraction_target: float = 0.95
    ece_target: float = 0.02


class Tracking(Strict):
    uri: str | None = None  # default: sqlite:///<root>/experiments/mlflow.db
    experiment: str = "dropout"


class Registry(Strict):
    name: str = "dropout-{target}"
    enabled: bool = True  # register the final model at all
    gate_metric: Literal["pr_auc", "auc", "brier"] = "pr_auc"
    min_improvement: float = 0.0


class TargetOverride(Strict):
    horizon_days: int | None = Field(default=None, gt=0)
    horizon: str | None = None
    backtest: dict | None = None
    as_of: dict | None = None


class ExperimentConfig(Strict):
    name: str
    data: DataSource
    as_of: AsOf
    target: Literal["lapse", "no_payment", "withdraw_12m"] = "lapse"
    horizon_days: int = Field(default=90, gt=0)  # or `horizon: 90d` / `39w` in the file
    backtest: Backtest = Backtest()
    model: ModelSpec = ModelSpec()
    evaluation: Evaluation = Evaluation()
    tracking: Tracking = Tracking()
    registry: Registry = Registry()
    seed: int = 1
    output_dir: str = "runs"
    targets: dict[str, TargetOverride] = {}
    # The folder relative paths of the file are read from: the config file's own folder
    # (load_config), else the current folder.
    _base_dir: Path | None = PrivateAttr(default=None)

    @property
    def base_dir(self) -> Path:
        return self._base_dir if self._base_dir is not None else Path.cwd()

    def path(self, value: str | Path) -> Path:
        """A path written in the config: absolute as is, else relative to the config file's folder."""
        p = Path(value)
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def tracking_uri(self) -> str | None:
        """The config's tracking URI, a relative SQLite file taken from the config's folder."""
        uri = self.tracking.uri
        if uri and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
            return f"sqlite:///{self.path(uri.removeprefix('sqlite:///'))}"
        return uri

    @property
    def label_horizon_days(self) -> int:
        """Days after as_of by which the label is known."""
        return WITHDRAW_HORIZON_DAYS if self.target == "withdraw_12m" else self.horizon_days

    @property
    def gap_days(self) -> int:
        return self.backtest.gap_days if self.backtest.gap_days is not None else self.label_horizon_days

    @property
    def validation_gap_days(self) -> int:
        vg = self.backtest.validation_gap_days
        return vg if vg is not None else self.gap_days

    @property
    def registered_model_name(self) -> str:
        return self.registry.name.format(target=self.target, name=self.name)

    @model_validator(mode="before")
    @classmethod
    def _horizon_words(cls, raw):
        """`horizon: 90d` or `39w` is another way to write `horizon_days`."""
        if isinstance(raw, dict) and "horizon" in raw:
            raw = dict(raw)
            text = raw.pop("horizon")
            if "horizon_days" in raw:
                raise ValueError("give `horizon` or `horizon_days`, not both")
            raw["horizon_days"] = parse_horizon(text)
        return raw

    @model_validator(mode="after")
    def _gap_covers_horizon(self):
        if self.gap_days < self.label_horizon_days:
            raise ValueError(
                f"backtest.gap_days={self.gap_days} is shorter than the label horizon "
                f"({self.label_horizon_days} days for target {self.target!r}): test labels "
                "would be visible in training"
            )
        for t in self.targets:
            if t not in TARGETS:
                raise ValueError(f"targets: unknown target {t!r} (use one of {TARGETS})")
        return self


def parse_horizon(text) -> int:
    """'90d', '39w', '90' (days) or an int -> days."""
    import re

    if isinstance(text, bool):
        raise ValueError(f"horizon {text!r} is not a number of days or weeks (e.g. 90d, 39w)")
    if isinstance(text, int):
        days = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([dDwW]?)\s*", str(text))
        if not m:
            raise ValueError(f"horizon {text!r} is not a number of days or weeks (e.g. 90d, 39w)")
        days = int(m.group(1)) * (7 if m.group(2).lower() == "w" else 1)
    if days <= 0:
        raise ValueError(f"horizon {text!r} must be at least one day")
    return days


def _deep_merge(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in extra.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def config_from_dict(raw: dict, target: str | None = None, source: str = "<dict>",
                     base_dir: str | Path | None = None) -> ExperimentConfig:
    """Build a config from a parsed YAML mapping, applying the `targets:` override of `target`.

    Args:
        base_dir: the folder relative paths are read from (default: the current folder).
    """
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    raw = copy.deepcopy(raw)
    if target is not None:
        if target not in TARGETS:
            raise ConfigError(f"--target {target!r} is unknown; use one of {', '.join(TARGETS)}")
        raw["target"] = target
    chosen = raw.get("target", "lapse")
    override = (raw.get("targets") or {}).get(chosen)
    if override:
        if "horizon" in override and override["horizon"] is not None:
            raw.pop("horizon", None)
            raw["horizon_days"] = parse_horizon(override["horizon"])
        for key in ("horizon_days", "backtest", "as_of"):
            if key in override and override[key] is not None:
                raw[key] = _deep_merge(raw.get(key) or {}, override[key]) if isinstance(override[key], dict) else override[key]
    try:
        cfg = ExperimentConfig.model_validate(raw)
        cfg._base_dir = Path(base_dir).resolve() if base_dir is not None else None
        return cfg
    except ValidationError as exc:
        lines = [f"{source}: invalid experiment config"]
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"])
            got = f" (got {err.get('input')!r})" if where else ""
            lines.append(f"- {where or 'config'}: {err['msg']}{got}")
        raise ConfigError("\n".join(lines)) from None


def resolve_path(path: str | Path) -> Path:
    """A path of the project (models/..., experiments/...): absolute as is, else relative to
    the project root. Paths written inside an experiment config use `ExperimentConfig.path`."""
    p = Path(path)
    return p if p.is_absolute() else project_root() / p


def load_config(path: str | Path, target: str | None = None) -> ExperimentConfig:
    """Read and validate an experiment YAML file; `target` overrides its target.

    The file is looked for as given, then in the project (`experiments/a-luoi.yaml` works
    from any folder). Relative paths inside it resolve against the file's own folder.
    """
    p = Path(path)
    if not p.exists():
        alt = resolve_path(path)
        if not alt.exists():
            raise ConfigError(f"experiment config {path} does not exist")
        p = alt
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return config_from_dict(raw, target=target, source=str(p), base_dir=p.resolve().parent)


DEFAULT_LGB_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 100,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "monotone_constraints_method": "advanced",
    "seed": 1,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbosity": -1,
}
DEFAULT_TRAINING = {"num_boost_round": 1000, "early_stopping_rounds": 50}
DEFAULT_TUNING = {"inner_validation_months": 6, "inner_splits": 1, "max_inner_rows": None, "candidates": [],
                  "linear_weights": [0.0]}


def load_tuning(path: str | Path | None = None) -> dict:
    """The `tuning` section of models/lightgbm.yaml (or `path`)."""
    p = Path(path) if path else models_dir() / "lightgbm.yaml"
    raw = (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("tuning") or {}
    bad = set(raw) - set(DEFAULT_TUNING)
    if bad:
        raise ConfigError(f"{p}: unknown tuning settings {sorted(bad)} (known: {sorted(DEFAULT_TUNING)})")
    out = {**DEFAULT_TUNING, **raw}
    cands = out["candidates"] or []
    if not isinstance(cands, list) or not all(isinstance(c, dict) and c for c in cands):
        raise ConfigError(f"{p}: tuning.candidates must be a list of non-empty parameter mappings")
    months = out["inner_validation_months"]
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise ConfigError(f"{p}: tuning.inner_validation_months must be a positive whole number, got {months!r}")
    rows = out["max_inner_rows"]
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1000):
        raise ConfigError(f"{p}: tuning.max_inner_rows must be a whole number >= 1000 or empty, got {rows!r}")
    weights = out["linear_weights"]
    if (not isinstance(weights, list) or not weights
            or not all(isinstance(w, (int, float)) and not isinstance(w, bool) and 0 <= w < 1 for w in weights)):
        raise ConfigError(f"{p}: tuning.linear_weights must be a list of numbers in [0, 1), got {weights!r}")
    splits = out["inner_splits"]
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise ConfigError(f"{p}: tuning.inner_splits must be a positive whole number, got {splits!r}")
    return {"inner_validation_months": months, "inner_splits": splits, "max_inner_rows": rows,
            "candidates": [dict(c) for c in cands], "linear_weights": [float(w) for w in weights]}


def load_model_params(path: str | Path | None = None) -> tuple[dict, dict]:
    """Read models/lightgbm.yaml (or `path`): (LightGBM params, training settings)."""
    p = Path(path) if path else models_dir() / "lightgbm.yaml"
    if not p.exists():
        raise ConfigError(f"model parameters file {p} does not exist")
    raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    unknown = set(raw) - {"params", "training", "tuning"}
    if unknown:
        raise ConfigError(f"{p}: unknown top-level keys {sorted(unknown)} (use `params`, `training`, `tuning`)")
    params = {**DEFAULT_LGB_PARAMS, **(raw.get("params") or {})}
    training = {**DEFAULT_TRAINING, **(raw.get("training") or {})}
    bad = set(training) - set(DEFAULT_TRAINING)
    if bad:
        raise ConfigError(f"{p}: unknown training settings {sorted(bad)} (known: {sorted(DEFAULT_TRAINING)})")
    return params, training
