"""Checks on client input. Each check adds field violations; none raises alone,
so one response can name every problem of a request."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from server.domain.clock import from_micros
from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.inputs import MessageInput, RawTimestamp
from server.domain.metadata import RESERVED_METADATA_KEY
from server.domain.models import ROLE_TYPES, JsonObject, MemoryType, RoleType

__all__ = [
    "MAX_METADATA_DEPTH",
    "Limits",
    "Violations",
    "check_identifier",
    "check_session_id",
]

_ID_PATTERN = re.compile(r"[A-Za-z0-9._:@-]+")
# Objects and arrays in metadata may nest this deep. Protobuf decoders refuse a
# google.protobuf.Struct nested much deeper (about 33 levels in Python), so a
# deeper value could be stored but not read back by every client.
MAX_METADATA_DEPTH = 20
_MAX_ID_LENGTH = 256
_MAX_ROLE_LENGTH = 256
_MAX_NAME_LENGTH = 256
# RFC 5321 caps a forward path at 256 octets, so an address at 254 characters.
_MAX_EMAIL_LENGTH = 254
# Deliberately loose: one "@" between non-empty parts, no spaces. Deliverability
# is for the client to prove, not for a memory store to guess.
_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
# The canonical text form of a UUID, which needs no parsing (the hot path of imports).
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# As a client writes them: the enum's names in protobuf JSON (grpcurl), its numbers.
_ROLE_TYPE_SPELLINGS = (
    "one of "
    + ", ".join(f"ROLE_TYPE_{r.name}" for r in RoleType)
    + f" (in protobuf JSON; or the numbers 1 to {len(RoleType)})"
)
# google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
_MIN_TIMESTAMP_SECONDS = -62_135_596_800
_MAX_TIMESTAMP_SECONDS = 253_402_300_799


@dataclass(frozen=True, slots=True)
class Limits:
    """Size limits on requests, set by configuration."""

    max_content_bytes: int = 1024 * 1024
    max_metadata_bytes: int = 64 * 1024
    max_messages_per_request: int = 1000
    max_page_size: int = 1000
    default_page_size: int = 100
    # Largest response (list pages, memory, stream batches): gRPC clients refuse
    # more than 4 MiB unless told otherwise.
    max_response_bytes: int = 4 * 1024 * 1024


@dataclass(slots=True)
class Violations:
    """Collects field violations and raises them together."""

    found: list[FieldViolation] = field(default_factory=list)

    def add(self, path: str, description: str) -> None:
        self.found.append(FieldViolation(path, description))

    def raise_if_any(self) -> None:
        if self.found:
            raise InvalidArgument(list(self.found))

    def identifier(self, path: str, value: str, *, required: bool = True) -> None:
        """Session and user ids: 1 to 256 characters of [A-Za-z0-9._:@-]."""
        if not value:
            if required:
                self.add(path, "must not be empty")
            return
        if len(value) > _MAX_ID_LENGTH:
            self.add(path, f"must be at most {_MAX_ID_LENGTH} characters, got {len(value)}")
        elif not _ID_PATTERN.fullmatch(value):
            self.add(path, "may only contain the characters A-Z a-z 0-9 . _ : @ -")

    def uuid(self, path: str, value: str) -> str:
        """Returns the canonical form of a UUID, or "" after adding a violation."""
        if not value:
            self.add(path, "must not be empty")
            return ""
        if _CANONICAL_UUID.fullmatch(value):
            return value
        try:
            return str(uuid.UUID(value))
        except ValueError:
            self.add(path, f"is not a UUID: {value[:64]!r}")
            return ""

    def email(self, path: str, value: str) -> None:
        """Optional: "" means none."""
        if len(value) > _MAX_EMAIL_LENGTH:
            self.add(path, f"must be at most {_MAX_EMAIL_LENGTH} characters, got {len(value)}")
        elif value and not _EMAIL_PATTERN.fullmatch(value):
            self.add(path, f"is not an e-mail address (local@domain): {value[:64]!r}")

    def name(self, path: str, value: str) -> None:
        """A person's given or family name; optional."""
        if len(value) > _MAX_NAME_LENGTH:
            self.add(path, f"must be at most {_MAX_NAME_LENGTH} characters, got {len(value)}")

    def role(self, path: str, value: str) -> None:
        if len(value) > _MAX_ROLE_LENGTH:
            self.add(path, f"must be at most {_MAX_ROLE_LENGTH} characters")

    def message(self, path: str, message: MessageInput, limits: Limits) -> RoleType | None:
        """Role, role type, content and metadata of one message (not its uuid).

        Returns the role type, or None when it is invalid. Cheap for the common
        case (no metadata, content far under the limit): imports run it per message.
        """
        if len(message.role) > _MAX_ROLE_LENGTH:
            self.role(f"{path}.role", message.role)
        # A character is at most 4 UTF-8 bytes: most contents need no encoding.
        if len(message.content) * 4 > limits.max_content_bytes:
            self.content(f"{path}.content", message.content, limits)
        if message.metadata:
            self.metadata(f"{path}.metadata", message.metadata, limits)
        role_type = ROLE_TYPES.get(message.role_type)
        if role_type is None:
            return self.role_type(f"{path}.role_type", message.role_type)
        return role_type

    def timestamp(self, path: str, value: RawTimestamp) -> datetime | None:
        """A Timestamp within its documented range, to the microsecond."""
        seconds, nanos = value
        if not 0 <= nanos < 1_000_000_000:
            self.add(path, f"nanos must be between 0 and 999999999, got {nanos}")
        elif not _MIN_TIMESTAMP_SECONDS <= seconds <= _MAX_TIMESTAMP_SECONDS:
            self.add(path, "must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z")
        else:
            return from_micros(seconds * 1_000_000 + nanos // 1000)
        return None

    def role_type(self, path: str, value: str) -> RoleType | None:
        if not value:
            self.add(path, f"is required: {_ROLE_TYPE_SPELLINGS}")
            return None
        try:
            return RoleType(value)
        except ValueError:
            self.add(path, f"unknown role type {value!r}; use {_ROLE_TYPE_SPELLINGS}")
            return None

    def memory_type(self, path: str, value: str) -> MemoryType:
        """Unset means the message window."""
        if not value:
            return MemoryType.MESSAGE_WINDOW
        try:
            return MemoryType(value)
        except ValueError:
            self.add(path, f"unknown memory type {value!r}")
            return MemoryType.MESSAGE_WINDOW

    def content(self, path: str, value: str, limits: Limits) -> None:
        size = len(value.encode("utf-8"))
        if size > limits.max_content_bytes:
            self.add(path, f"is {size} bytes, more than the limit of {limits.max_content_bytes}")

    def metadata(self, path: str, value: JsonObject, limits: Limits) -> None:
        if RESERVED_METADATA_KEY in value:
            self.add(f"{path}.{RESERVED_METADATA_KEY}", "is reserved for the server")
        depth = _nesting_depth(value)
        if depth > MAX_METADATA_DEPTH:
            self.add(
                path,
                f"is nested {depth} levels deep, more than the limit of {MAX_METADATA_DEPTH}",
            )
            return
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except ValueError:
            self.add(path, "holds NaN or Infinity: numbers must be finite, as in JSON")
            return
        size = len(text.encode("utf-8"))
        if size > limits.max_metadata_bytes:
            self.add(
                path, f"is {size} bytes as JSON, more than the limit of {limits.max_metadata_bytes}"
            )

    def page_size(self, path: str, value: int, limits: Limits) -> int:
        """Returns the effective page size (0 means the default)."""
        if value < 0 or value > limits.max_page_size:
            self.add(path, f"must be between 0 and {limits.max_page_size}, got {value}")
        return value or limits.default_page_size

    def update_mask(self, path: str, paths: list[str], allowed: set[str]) -> set[str]:
        if not paths:
            self.add(path, "must name at least one field: " + ", ".join(sorted(allowed)))
        unknown = [p for p in paths if p not in allowed]
        if unknown:
            self.add(
                path,
                f"unsupported field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}",
            )
        return set(paths) & allowed


def _nesting_depth(value: JsonObject) -> int:
    """How many objects and arrays deep ``value`` goes (``{}`` is 1), without recursion."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def check_identifier(path: str, value: str) -> None:
    """Raises INVALID_ARGUMENT unless ``value`` is a well-formed session or user id."""
    check = Violations()
    check.identifier(path, value)
    check.raise_if_any()


def check_session_id(session_id: str) -> None:
    check_identifier("session_id", session_id)
