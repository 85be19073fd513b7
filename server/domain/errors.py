"""The one error tree of Memoria.

Every layer below the gRPC boundary raises these; the boundary maps each class
to a gRPC status code in exactly one place (``server.api.status``)::

    MemoriaError
    ├── InvalidArgument   the request is malformed (carries field violations)
    ├── NotFound          a named resource does not exist
    ├── AlreadyExists     a resource with that identifier exists already
    ├── FailedPrecondition  the request is well-formed but not applicable now
    └── Unavailable       the store cannot be reached, or summaries are far
                          behind; safe to retry

An error can also carry ``reason`` and ``facts`` for clients that act on it by
program (sent as a ``google.rpc.ErrorInfo``), and notes (``add_note``) that
are appended to its message, e.g. how much of an import was committed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "AlreadyExists",
    "ConfigurationError",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "MemoriaError",
    "NotFound",
    "Unavailable",
]


class MemoriaError(Exception):
    """Base class of every error Memoria reports to its callers."""

    # A machine-readable cause (UPPER_SNAKE_CASE) and facts about it; empty by default.
    reason: str = ""
    facts: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid field: ``field`` is a path such as ``messages[2].role_type``."""

    field: str
    description: str


class InvalidArgument(MemoriaError):
    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))


class NotFound(MemoriaError):
    def __init__(self, resource_type: str, resource_name: str) -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        super().__init__(f"{resource_type} {resource_name!r} not found")


class AlreadyExists(MemoriaError):
    def __init__(self, resource_type: str, resource_name: str) -> None:
        self.resource_type = resource_type
        self.resource_name = resource_name
        super().__init__(f"{resource_type} {resource_name!r} already exists")


class FailedPrecondition(MemoriaError):
    pass


class Unavailable(MemoriaError):
    pass


class ConfigurationError(Exception):
    """A setting the server cannot start with (not an RPC error: it stops the start)."""
