"""Settings of the officers' web pages, and the secret that signs their cookies.

Defaults live here and only here. `WebSettings.from_env()` reads the environment so
the BentoML service can build the app without knowing the fields.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dropout.errors import ConfigError
from dropout.store import DEFAULT_STORE_URL

ENV_SECRET = "DROPOUT_WEB_SECRET"
ENV_SECRET_FILE = "DROPOUT_WEB_SECRET_FILE"
ENV_STORE = "DROPOUT_STORE_URL"
ENV_DATA = "DROPOUT_DATA_DIR"
ENV_PLAN = "DROPOUT_PLAN_PATH"
ENV_CAPACITY = "DROPOUT_PLAN_CAPACITY"
ENV_HTTPS_ONLY = "DROPOUT_WEB_HTTPS_ONLY"
ENV_WHATIF = "DROPOUT_WHATIF_DIR"
ENV_TRUSTED_PROXIES = "DROPOUT_TRUSTED_PROXIES"
DEFAULT_SECRET_FILE = Path.home() / ".dropout" / "web_secret"
MIN_SECRET_LENGTH = 32


@dataclass
class WebSettings:
    """What the web app needs to run.

    Args:
        store_url: SQLAlchemy URL of the score store; users and recorded visits live there too.
        data_dir: folder of raw tables (participant records, villages, disasters); None
            shows scores without the raw history.
        plan_path: a visit plan written by `dropout plan` (plan.parquet, or its folder).
        plan_capacity: officer-hours (the `--capacity` grammar of dropout.plan) to plan
            the latest runs' visits in-process when there is no plan_path.
        secret: key signing session cookies and participant links; None reads
            DROPOUT_WEB_SECRET, else the secret file (created on first use).
        secret_file: where a generated secret is kept (mode 0600).
        https_only: mark the session cookie `Secure`. None (the default): Secure on
            every request except plain http from a loopback peer (a local test server);
            False only for a plain-http deployment on purpose.
        trusted_proxies: addresses or networks (e.g. "10.0.0.5", "10.0.0.0/24") of
            reverse proxies whose `X-Forwarded-For` is believed; default none, so the
            log-in throttle counts by the connection's own peer.
        session_max_age: seconds a login lasts.
        login_max_failures: failed log-ins allowed per username and IP within
            `login_window_seconds` before further attempts are refused.
        note_max_chars: longest visit note accepted.
        max_body_bytes: larger request bodies are refused with 413.
        data_refresh_seconds: how often the score store is checked for a newer run.
        test_data: show a banner that the data is simulated / fake.
        whatif_dir: the --out folder of `dropout whatif`: the provincial office's page shows
            the newest run there that covers its province.
    """

    store_url: str = DEFAULT_STORE_URL
    data_dir: Path | None = None
    plan_path: Path | None = None
    plan_capacity: str | None = None
    secret: str | None = None
    secret_file: Path = field(default_factory=lambda: DEFAULT_SECRET_FILE)
    https_only: bool | None = None
    trusted_proxies: tuple[str, ...] = ()
    session_max_age: int = 8 * 3600
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    note_max_chars: int = 2000
    max_body_bytes: int = 64 * 1024
    data_refresh_seconds: int = 60
    test_data: bool = False
    whatif_dir: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> "WebSettings":
        """Settings from the DROPOUT_* variables of `env` listed below (default:
        os.environ; the secret itself is read by `resolve_secret`); keyword arguments win."""
        env = os.environ if env is None else env
        values: dict = {}
        read = {  # environment variable: (setting, how its text becomes the value)
            ENV_STORE: ("store_url", str),
            ENV_DATA: ("data_dir", Path),
            ENV_PLAN: ("plan_path", Path),
            ENV_CAPACITY: ("plan_capacity", str),
            ENV_SECRET_FILE: ("secret_file", Path),
            ENV_WHATIF: ("whatif_dir", Path),
            ENV_HTTPS_ONLY: ("https_only", lambda v: v.lower() in ("1", "true", "yes", "on")),
            ENV_TRUSTED_PROXIES: ("trusted_proxies", parse_trusted_proxies),
        }
        for name, (setting, convert) in read.items():
            if env.get(name):
                values[setting] = convert(env[name])
        values.update(overrides)
        return cls(**values)

    def trusted_proxy_networks(self) -> tuple:
        """`trusted_proxies` as ip_network objects (a bad entry is a ConfigError)."""
        return tuple(_network(p) for p in self.trusted_proxies)

    def resolve_secret(self, env: Mapping[str, str] | None = None) -> str:
        """The signing secret: explicit, else DROPOUT_WEB_SECRET of `env` (default:
        os.environ), else the secret file."""
        env = os.environ if env is None else env
        secret = self.secret or env.get(ENV_SECRET)
        if secret:
            if len(secret) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    f"{ENV_SECRET} is {len(secret)} characters; use at least {MIN_SECRET_LENGTH} "
                    "random characters (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
                )
            return secret
        return read_or_create_secret(self.secret_file)


def _network(text: str):
    import ipaddress

    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ConfigError(f"{ENV_TRUSTED_PROXIES}: {text!r} is not an IP address or network") from None


def parse_trusted_proxies(text: str) -> tuple[str, ...]:
    """A comma-separated list of proxy addresses/networks, checked."""
    items = tuple(p.strip() for p in (text or "").split(",") if p.strip())
    for item in items:
        _network(item)
    return items


def read_or_create_secret(path: Path) -> str:
    """Read the secret file, creating it (0600, random) if absent.

    Several server workers may start at once: O_EXCL lets exactly one of them write
    the file; the others read what it wrote.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            text = path.read_text(encoding="utf-8").strip()
            if text:
                return text
            time.sleep(0.02)
        raise ConfigError(f"secret file {path} is empty; delete it to have a new one generated") from None
    secret = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(secret + "\n")
    return secret
