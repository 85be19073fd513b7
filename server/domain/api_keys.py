"""API keys: their format, their stored record, and how a presented key is checked.

A key reads ``mk_<key id>_<secret>``: the key id (12 characters) names the key
in logs, listings and the store and is not secret; the secret (52 characters,
260 random bits from ``secrets``) is shown once, at creation, and only its
SHA-256 is stored. A slow password hash (scrypt, bcrypt) protects secrets that
people choose, which are guessable; a 260-bit random secret cannot be guessed
whatever the hash, so a fast one costs nothing in security and keeps the check
to microseconds on every call. Digests are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from server.domain.caller import check_tenant_name
from server.domain.errors import FieldViolation, InvalidArgument, Unauthenticated

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "ApiKey",
    "IssuedKey",
    "PresentedKey",
    "hash_secret",
    "issue_key",
    "parse_key",
]

# Lowercase RFC 4648 base32: no characters that look alike, no "_" (the separator).
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
KEY_ID_LENGTH = 12
SECRET_LENGTH = 52  # 52 characters of 5 bits: 260 bits
_KEY = re.compile(rf"mk_([{_ALPHABET}]{{{KEY_ID_LENGTH}}})_([{_ALPHABET}]{{{SECRET_LENGTH}}})")
MAX_DESCRIPTION_LENGTH = 200


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored: never its secret, only the secret's hash."""

    key_id: str
    tenant: str
    secret_hash: str
    description: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def matches(self, secret: str) -> bool:
        """Whether ``secret`` is this key's, compared in constant time."""
        return hmac.compare_digest(hash_secret(secret), self.secret_hash)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: its record, and the key itself, to show once and then forget."""

    record: ApiKey
    key: str


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """A well-formed key as a caller presented it."""

    key_id: str
    secret: str


def issue_key(tenant: str, description: str, now: datetime) -> IssuedKey:
    """A new random key of ``tenant``. ``InvalidArgument`` for a bad tenant name or a
    description longer than ``MAX_DESCRIPTION_LENGTH``."""
    check_tenant_name(tenant)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise InvalidArgument(
            [FieldViolation("description", f"at most {MAX_DESCRIPTION_LENGTH} characters")]
        )
    key_id = _random_text(KEY_ID_LENGTH)
    secret = _random_text(SECRET_LENGTH)
    record = ApiKey(key_id, tenant, hash_secret(secret), description, now)
    return IssuedKey(record, f"mk_{key_id}_{secret}")


def parse_key(key: str) -> PresentedKey:
    """The parts of ``key``; ``Unauthenticated`` (``API_KEY_MALFORMED``) when it does
    not have the form of a Memoria key. The message never repeats the key."""
    found = _KEY.fullmatch(key)
    if found is None:
        raise Unauthenticated(
            "API_KEY_MALFORMED",
            "malformed API key: expected 'authorization: Bearer mk_<key id>_<secret>'",
        )
    return PresentedKey(found.group(1), found.group(2))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))
