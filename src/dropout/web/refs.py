"""Opaque participant references for URLs, so server and proxy logs never hold an SI number.

A participant's page is `/p/<ref>`, where `ref` is the 64-bit SI number enciphered with
a keyed 4-round Feistel network (HMAC-SHA256 rounds) and written in 13 base-32
characters. It is a bijection: the page deciphers the ref back to the number, no lookup
table needed, and without the server's secret a ref says nothing about the person.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

_ROUNDS = 4
_MASK32 = 0xFFFFFFFF
_REF_LENGTH = 13  # ceil(64 / 5)


class ParticipantRefs:
    """Encode SI numbers to URL refs and back, under one secret key."""

    def __init__(self, secret: str):
        self._key = hmac.new(secret.encode(), b"dropout participant ref v1", hashlib.sha256).digest()

    def _round(self, i: int, half: int) -> int:
        digest = hmac.new(self._key, bytes([i]) + half.to_bytes(4, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[:4], "big")

    def encode(self, participant_id: int) -> str:
        value = int(participant_id)
        if not 0 <= value < 2**64:
            raise ValueError(f"participant_id {value} is outside 0 .. 2**64")
        left, right = value >> 32, value & _MASK32
        for i in range(_ROUNDS):
            left, right = right, left ^ self._round(i, right)
        block = ((left << 32) | right).to_bytes(8, "big")
        return base64.b32encode(block).decode().rstrip("=").lower()

    def decode(self, ref: str) -> int | None:
        """The SI number of `ref`, or None when `ref` is not a well-formed ref."""
        if not isinstance(ref, str) or len(ref) != _REF_LENGTH:
            return None
        try:
            block = base64.b32decode(ref.upper() + "===", casefold=False)
        except (ValueError, base64.binascii.Error):
            return None
        if len(block) != 8:
            return None
        value = int.from_bytes(block, "big")
        left, right = value >> 32, value & _MASK32
        for i in reversed(range(_ROUNDS)):
            left, right = right ^ self._round(i, left), left
        value = (left << 32) | right
        # The 13th character carries one spare bit: accept only the canonical spelling.
        return value if self.encode(value) == ref else None
