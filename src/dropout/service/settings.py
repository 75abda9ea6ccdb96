"""The service's settings: environment variables, read once, with their defaults here.

| variable | default | meaning |
|---|---|---|
| DROPOUT_MODEL | `champion` | model folder, or registry alias / `NAME@alias` (name default `dropout-lapse`) |
| DROPOUT_TRACKING_URI | MLflow default of the project | where the registry lives |
| DROPOUT_DATA_DIR | (none) | reference data folder: villages, disasters, neighbours, subsidy policies |
| DROPOUT_STORE_URL | `sqlite:///out/scores.db` | score store for /score_ids and /ranked |
| DROPOUT_API_KEYS, DROPOUT_API_KEYS_FILE | (none; required) | see `auth.py` |
| DROPOUT_MAX_BODY_BYTES | 2 MiB | largest request body accepted |
| DROPOUT_SERVICE_WORKERS, DROPOUT_SERVICE_THREADS | 2, 1 | BentoML worker processes and threads each (one scoring thread per process: two contend for the GIL) |
| DROPOUT_ACCESS_LOG | 1 | BentoML access log (method, path, status, latency; never bodies) |
| DROPOUT_TRACING | 0 | OpenTelemetry spans per request; BentoML's tracing settings (exporter, sample rate) apply only when on. Off, no URL is traced: BentoML's default sample rate collects nothing anyway, and skipping the tracing middleware saves about a third of the server's own time per request |
| DROPOUT_SERVICE_LOAD_DELAY | 0 | seconds to wait before loading the model (tests of readiness) |
| DROPOUT_WEB_ENABLED | on when DROPOUT_STORE_URL or DROPOUT_DATA_DIR is set | mount the officers' pages under `/web` |

The officers' pages mounted under `/web` read their own settings with
`dropout.web.settings.WebSettings.from_env` from the same environment: the same
DROPOUT_STORE_URL and DROPOUT_DATA_DIR, and DROPOUT_PLAN_PATH, DROPOUT_PLAN_CAPACITY,
DROPOUT_WEB_SECRET(_FILE), DROPOUT_WEB_HTTPS_ONLY. They keep their own log-in (session
cookie, CSRF tokens); the API key neither is needed for them nor opens them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dropout.errors import ConfigError

DEFAULT_MODEL = "champion"
DEFAULT_MAX_BODY_BYTES = 2 * 2**20
WEB_PATH = "/web"  # where the service mounts the officers' pages
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")


def _env_number(env, name: str, default, low, high, kind=int, unit: str = ""):
    """`kind(env[name])` when set, refused unless a number of that kind within [low, high]."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not {'a whole number' if kind is int else 'a number'}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}-{high}{unit}")
    return value


def _env_bool(env, name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in TRUE_WORDS:
        return True
    if raw in FALSE_WORDS:
        return False
    raise ConfigError(f"{name}={raw!r} is not one of {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}")


@dataclass(frozen=True)
class ServiceSettings:
    model: str = DEFAULT_MODEL
    tracking_uri: str | None = None
    data_dir: Path | None = None
    store_url: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 2
    threads: int = 1
    access_log: bool = True
    tracing: bool = False
    load_delay_seconds: float = 0.0
    web_enabled: bool = False

    @classmethod
    def from_env(cls, env=None) -> "ServiceSettings":
        """Read the DROPOUT_* variables (see the module docstring); raise ConfigError on a bad value."""
        env = os.environ if env is None else env
        data_dir = env.get("DROPOUT_DATA_DIR", "").strip()
        store_url = env.get("DROPOUT_STORE_URL", "").strip() or None
        return cls(
            model=env.get("DROPOUT_MODEL", "").strip() or DEFAULT_MODEL,
            tracking_uri=env.get("DROPOUT_TRACKING_URI", "").strip() or None,
            data_dir=Path(data_dir) if data_dir else None,
            store_url=store_url,
            max_body_bytes=_env_number(env, "DROPOUT_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, 1024, 64 * 2**20),
            workers=_env_number(env, "DROPOUT_SERVICE_WORKERS", 2, 1, 64),
            threads=_env_number(env, "DROPOUT_SERVICE_THREADS", 1, 1, 64),
            access_log=env.get("DROPOUT_ACCESS_LOG", "1").strip().lower() not in FALSE_WORDS,
            tracing=_env_bool(env, "DROPOUT_TRACING", False),
            load_delay_seconds=_env_number(env, "DROPOUT_SERVICE_LOAD_DELAY", 0.0, 0, 3600, float, " seconds"),
            web_enabled=_env_bool(env, "DROPOUT_WEB_ENABLED", bool(store_url or data_dir)),
        )
