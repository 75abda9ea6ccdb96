"""API keys: where they come from, how they are stored, how a presented key is checked.

Keys come from `DROPOUT_API_KEYS` (comma-separated; plain keys, or hashed entries as in
a keys file) and/or `DROPOUT_API_KEYS_FILE` (one hashed entry per line, `#` comments).
A hashed entry is

    sha256:<64 hex>                                  for long random keys (what `dropout serve --new-key` makes)
    scrypt:<n>:<r>:<p>:<salt hex>:<hash hex>         for keys people chose themselves

Only hashes are kept in memory: a plain key from the environment is hashed at load.
A presented key is compared against every entry with `hmac.compare_digest` (constant
time, and no early exit over the entries). A key that passed a scrypt check is
remembered by its sha256, so scrypt's cost is paid once per key, not per request.
Keys are never logged, and nothing here puts a key into an exception message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from dropout.errors import ConfigError

ENV_KEYS = "DROPOUT_API_KEYS"
ENV_KEYS_FILE = "DROPOUT_API_KEYS_FILE"
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 256
SCRYPT_DEFAULT = {"n": 2**14, "r": 8, "p": 1}


class AuthConfigError(ConfigError):
    """The API keys are missing or a keys file is malformed (the message never holds a key)."""


def sha256_entry(key: str) -> str:
    """The keys-file line for a long random key: `sha256:<hex>`."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def scrypt_entry(key: str, salt: bytes | None = None, n: int = SCRYPT_DEFAULT["n"], r: int = SCRYPT_DEFAULT["r"],
                 p: int = SCRYPT_DEFAULT["p"]) -> str:
    """The keys-file line for a key a person chose: `scrypt:n:r:p:salt:hash`."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(key.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt:{n}:{r}:{p}:{salt.hex()}:{digest.hex()}"


def new_key() -> str:
    """A fresh random API key (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class _Scrypt:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    def matches(self, key: bytes) -> bool:
        got = hashlib.scrypt(key, salt=self.salt, n=self.n, r=self.r, p=self.p, dklen=len(self.digest))
        return hmac.compare_digest(got, self.digest)


@dataclass
class KeyStore:
    """The hashes of the accepted keys; `check(key)` says whether a presented key is one."""

    sha256: list[bytes] = field(default_factory=list)
    scrypt: list[_Scrypt] = field(default_factory=list)
    _verified: set[bytes] = field(default_factory=set, repr=False)

    def __len__(self) -> int:
        return len(self.sha256) + len(self.scrypt)

    def add_entry(self, entry: str, where: str) -> None:
        """Add one hashed entry (`sha256:...` or `scrypt:...`); `where` names it in errors."""
        kind, _, rest = entry.partition(":")
        try:
            if kind == "sha256":
                digest = bytes.fromhex(rest)
                if len(digest) != 32:
                    raise ValueError
                self.sha256.append(digest)
            elif kind == "scrypt":
                n, r, p, salt, digest = rest.split(":")
                self.scrypt.append(_Scrypt(int(n), int(r), int(p), bytes.fromhex(salt), bytes.fromhex(digest)))
            else:
                raise ValueError
        except ValueError:
            raise AuthConfigError(
                f"{where}: not a hashed key entry; expected 'sha256:<64 hex>' or "
                "'scrypt:<n>:<r>:<p>:<salt hex>:<hash hex>'"
            ) from None

    def add_plain(self, key: str, where: str) -> None:
        if not MIN_KEY_LENGTH <= len(key) <= MAX_KEY_LENGTH:
            raise AuthConfigError(
                f"{where}: an API key must be {MIN_KEY_LENGTH}-{MAX_KEY_LENGTH} characters "
                f"(this one has {len(key)}); make one with `dropout serve --new-key`"
            )
        self.sha256.append(hashlib.sha256(key.encode("utf-8")).digest())

    def check(self, key: str | bytes | None) -> bool:
        """True when `key` is one of the accepted keys (constant time per entry)."""
        if not key:
            return False
        raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
        if len(raw) > MAX_KEY_LENGTH:
            return False
        digest = hashlib.sha256(raw).digest()
        ok = False
        for known in self.sha256:
            ok |= hmac.compare_digest(digest, known)
        if ok or not self.scrypt:
            return ok
        if digest in self._verified:
            return True
        for entry in self.scrypt:
            ok |= entry.matches(raw)
        if ok:
            self._verified.add(digest)
        return ok


def load_keys(env: dict | None = None) -> KeyStore:
    """The keys from `DROPOUT_API_KEYS` and `DROPOUT_API_KEYS_FILE`.

    Raises:
        AuthConfigError: when no key is configured (the service never runs open) or an
            entry is malformed.
    """
    env = os.environ if env is None else env
    store = KeyStore()
    for i, item in enumerate(x.strip() for x in env.get(ENV_KEYS, "").split(",")):
        if not item:
            continue
        where = f"{ENV_KEYS} entry {i + 1}"
        if item.startswith(("sha256:", "scrypt:")):
            store.add_entry(item, where)
        else:
            store.add_plain(item, where)
    path = env.get(ENV_KEYS_FILE, "").strip()
    if path:
        p = Path(path)
        if not p.is_file():
            raise AuthConfigError(f"{ENV_KEYS_FILE}={path}: no such file")
        for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if line:
                store.add_entry(line, f"{path} line {lineno}")
    if not len(store):
        raise AuthConfigError(
            f"no API key configured: set {ENV_KEYS} (comma-separated keys) or {ENV_KEYS_FILE} "
            "(a file of hashed keys; `dropout serve --new-key` makes one)"
        )
    return store


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key in `X-API-Key`, or in `Authorization: Bearer <key>` (BentoML clients' `token=`)."""
    bearer = None
    for name, value in headers:
        if name == b"x-api-key":
            return value.strip()
        if name == b"authorization":
            scheme, _, rest = value.partition(b" ")
            if scheme.lower() == b"bearer":
                bearer = rest.strip()
    return bearer
