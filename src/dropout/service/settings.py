"""The service's settings: environment variables, read once, with their defaults here.

| variable | default | meaning |
|---|---|---|
| DROPOUT_MODEL | `champion` | model folder, or registry alias / `NAME@alias` (name default `dropout-lapse`) |
| DROPOUT_TRACKING_URI | MLflow default of the project | where the registry lives |
| DROPOUT_DATA_DIR | (none) | reference data folder: villages, disasters, neighbours, subsidy policies |
| DROPOUT_STORE_URL | `sqlite:///out/scores.db` | score store for /score_ids and /ranked |
| DROPOUT_API_KEYS, DROPOUT_API_KEYS_FILE | (none; required) | see `auth.py` |
| DROPOUT_MAX_BODY_BYTES | 2 MiB | largest request body accepted |
| DROPOUT_SERVICE_WORKERS, DROPOUT_SERVICE_THREADS | 2, 2 | BentoML worker processes and threads each |
| DROPOUT_ACCESS_LOG | 1 | BentoML access log (method, path, status, latency; never bodies) |
| DROPOUT_SERVICE_LOAD_DELAY | 0 | seconds to wait before loading the model (tests of readiness) |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dropout.errors import ConfigError

DEFAULT_MODEL = "champion"
DEFAULT_MAX_BODY_BYTES = 2 * 2**20


def _env_int(env, name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}-{high}")
    return value


def _env_float(env, name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name}={value} is outside 0-3600 seconds")
    return value


@dataclass(frozen=True)
class ServiceSettings:
    model: str = DEFAULT_MODEL
    tracking_uri: str | None = None
    data_dir: Path | None = None
    store_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 2
    threads: int = 2
    access_log: bool = True
    load_delay_seconds: float = 0.0

    @classmethod
    def from_env(cls, env=None) -> "ServiceSettings":
        """Read the DROPOUT_* variables (see the module docstring); raise ConfigError on a bad value."""
        env = os.environ if env is None else env
        data_dir = env.get("DROPOUT_DATA_DIR", "").strip()
        return cls(
            model=env.get("DROPOUT_MODEL", "").strip() or DEFAULT_MODEL,
            tracking_uri=env.get("DROPOUT_TRACKING_URI", "").strip() or None,
            data_dir=Path(data_dir) if data_dir else None,
            store_url=env.get("DROPOUT_STORE_URL", "").strip() or None,
            max_body_bytes=_env_int(env, "DROPOUT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, 64 * 2**20),
            workers=_env_int(env, "DROPOUT_SERVICE_WORKERS", 2, 1, 64),
            threads=_env_int(env, "DROPOUT_SERVICE_THREADS", 2, 1, 64),
            access_log=env.get("DROPOUT_ACCESS_LOG", "1").strip().lower() not in ("0", "false", "no", "off"),
            load_delay_seconds=_env_float(env, "DROPOUT_SERVICE_LOAD_DELAY", 0.0),
        )
