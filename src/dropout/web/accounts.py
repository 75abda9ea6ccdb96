"""Officers' accounts: the `users` table, argon2 password hashes, and log-in throttling.

Roles: `officer` sees one district (the `district` column); `admin` sees every district
and manages accounts with `dropout users add/disable`; `province` (a provincial office)
sees its province's subsidy what-if and no person's page: for it the `district` column
holds the province.

Sessions live in the store (`web_sessions`): the cookie carries only a random session id,
kept here as its sha256. Logging out deletes the row, so a copy of the cookie taken
before is refused afterwards; disabling an account or changing its password deletes all
of the account's rows (and bumps `session_version`, checked as well).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dropout.errors import DropoutError
from dropout.store.engine import engine_for
from dropout.store.tables import login_failures, users, web_sessions

ROLES = ("officer", "admin", "province")
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()
# Verified against when the username does not exist, so both cases take as long.
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(DropoutError):
    """An account operation was refused (bad username, role, district or password)."""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    district: str | None
    active: bool
    session_version: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, district: str) -> bool:
        """Admins see every district, officers only their own, provincial offices none."""
        return self.is_admin or (self.role == "officer" and self.district is not None and self.district == district)

    @property
    def province(self) -> str | None:
        """The province of a provincial office's account (kept in the `district` column)."""
        return self.district if self.role == "province" else None

    def may_see_province(self, province: str) -> bool:
        """Admins see every province's what-if, a provincial office its own."""
        return self.is_admin or (self.province is not None and self.province == province)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _row_to_user(row) -> User:
    return User(row.id, row.username, row.role, row.district, bool(row.active), int(row.session_version))


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def add_user(store_url: str, username: str, password: str, role: str, district: str | None) -> User:
    """Create an account; raise AccountError naming what is wrong."""
    username = normalize_username(username)
    if not USERNAME_RE.match(username):
        raise AccountError(
            f"username {username!r}: use 2-63 characters a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
        )
    if role not in ROLES:
        raise AccountError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    if role == "officer" and not (district and district.strip()):
        raise AccountError("an officer account needs --district (the district they may see)")
    if role == "province" and not (district and district.strip()):
        raise AccountError("a province account needs --province (the province whose what-if it may see)")
    if role == "admin":
        district = None
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: use at least {MIN_PASSWORD_LENGTH} characters")
    engine = engine_for(store_url)
    with engine.begin() as conn:
        exists = conn.execute(sa.select(users.c.id).where(users.c.username == username)).first()
        if exists:
            raise AccountError(f"username {username!r} already exists")
        conn.execute(
            users.insert().values(
                username=username,
                password_hash=_hasher.hash(password),
                role=role,
                district=district.strip() if district else None,
                active=True,
                session_version=1,
                created_at=_now(),
            )
        )
    user = get_user_by_name(store_url, username)
    assert user is not None
    return user


def disable_user(store_url: str, username: str) -> User:
    """Disable an account and end its sessions; raise AccountError if it does not exist."""
    username = normalize_username(username)
    engine = engine_for(store_url)
    with engine.begin() as conn:
        result = conn.execute(
            users.update()
            .where(users.c.username == username)
            .values(active=False, disabled_at=_now(), session_version=users.c.session_version + 1)
        )
        if result.rowcount == 0:
            raise AccountError(f"username {username!r} does not exist")
        _end_sessions(conn, username)
    user = get_user_by_name(store_url, username)
    assert user is not None
    return user


def set_password(store_url: str, username: str, password: str) -> None:
    """Replace a password (ends the account's sessions)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: use at least {MIN_PASSWORD_LENGTH} characters")
    engine = engine_for(store_url)
    with engine.begin() as conn:
        result = conn.execute(
            users.update()
            .where(users.c.username == normalize_username(username))
            .values(password_hash=_hasher.hash(password), session_version=users.c.session_version + 1)
        )
        if result.rowcount == 0:
            raise AccountError(f"username {username!r} does not exist")
        _end_sessions(conn, normalize_username(username))


def list_users(store_url: str) -> list[User]:
    with engine_for(store_url).connect() as conn:
        rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
    return [_row_to_user(r) for r in rows]


def get_user(store_url: str, user_id: int) -> User | None:
    with engine_for(store_url).connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    return _row_to_user(row) if row else None


def get_user_by_name(store_url: str, username: str) -> User | None:
    with engine_for(store_url).connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == normalize_username(username))).first()
    return _row_to_user(row) if row else None


def authenticate(store_url: str, username: str, password: str) -> User | None:
    """The active user with this username and password, else None (same cost either way)."""
    engine = engine_for(store_url)
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == normalize_username(username))).first()
    stored = row.password_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row.active:
        return None
    if _hasher.check_needs_rehash(stored):
        with engine.begin() as conn:
            conn.execute(users.update().where(users.c.id == row.id).values(password_hash=_hasher.hash(password)))
    return _row_to_user(row)


# ---------------------------------------------------------------- sessions


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "replace")).hexdigest()


def _end_sessions(conn, username: str) -> None:
    ids = sa.select(users.c.id).where(users.c.username == username).scalar_subquery()
    conn.execute(web_sessions.delete().where(web_sessions.c.user_id == ids))


def start_session(store_url: str, user: User, max_age_seconds: int) -> str:
    """A new session for `user`, valid `max_age_seconds`; returns its id (for the cookie only)."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    with engine_for(store_url).begin() as conn:
        conn.execute(web_sessions.insert().values(
            id_hash=_session_hash(session_id), user_id=user.id, session_version=user.session_version,
            created_at=now, expires_at=now + timedelta(seconds=max_age_seconds)))
        conn.execute(web_sessions.delete().where(web_sessions.c.expires_at < now))
    return session_id


def session_user(store_url: str, session_id: str) -> User | None:
    """The active user of an open, unexpired session, else None."""
    if not isinstance(session_id, str) or not session_id or len(session_id) > 256:
        return None
    with engine_for(store_url).connect() as conn:
        row = conn.execute(
            sa.select(users, web_sessions.c.session_version.label("ses_version"), web_sessions.c.expires_at)
            .join(web_sessions, web_sessions.c.user_id == users.c.id)
            .where(web_sessions.c.id_hash == _session_hash(session_id))
        ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=timezone.utc)
    if expires <= _now() or not row.active or int(row.ses_version) != int(row.session_version):
        return None
    return _row_to_user(row)


def end_session(store_url: str, session_id: str) -> None:
    """Log out: the session id is refused from now on, wherever the cookie was copied."""
    if isinstance(session_id, str) and session_id:
        with engine_for(store_url).begin() as conn:
            conn.execute(web_sessions.delete().where(web_sessions.c.id_hash == _session_hash(session_id)))


# ---------------------------------------------------------------- throttling


def throttle_key(username: str, client_ip: str) -> str:
    """What failed log-ins are counted by: a hash of the username and the client address."""
    raw = f"{normalize_username(username)}\x00{client_ip}".encode()
    return hashlib.sha256(raw).hexdigest()


def recent_failures(store_url: str, key: str, window_seconds: int) -> tuple[int, datetime | None]:
    """How many failures `key` has within the window, and the oldest of them."""
    since = _now() - timedelta(seconds=window_seconds)
    with engine_for(store_url).connect() as conn:
        count, oldest = conn.execute(
            sa.select(sa.func.count(), sa.func.min(login_failures.c.failed_at)).where(
                login_failures.c.key_hash == key, login_failures.c.failed_at >= since
            )
        ).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=timezone.utc)  # SQLite returns naive datetimes
    return int(count), oldest


def record_failure(store_url: str, key: str, window_seconds: int) -> None:
    """Count one failed log-in; forget failures older than the window."""
    now = _now()
    with engine_for(store_url).begin() as conn:
        conn.execute(login_failures.insert().values(key_hash=key, failed_at=now))
        conn.execute(login_failures.delete().where(login_failures.c.failed_at < now - timedelta(seconds=window_seconds)))


def clear_failures(store_url: str, key: str) -> None:
    with engine_for(store_url).begin() as conn:
        conn.execute(login_failures.delete().where(login_failures.c.key_hash == key))
