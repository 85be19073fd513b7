"""The one error tree of Memoria.

Every layer below the gRPC boundary raises these; the boundary maps each class
to a gRPC status code in exactly one place (``server.api.status``)::

    MemoriaError
    ├── InvalidArgument   the request is malformed (carries field violations)
    ├── Unauthenticated   the caller's API key is missing, malformed, unknown or
    │                     revoked
    ├── NotFound          a named resource does not exist
    ├── AlreadyExists     a resource with that identifier exists already
    ├── FailedPrecondition  the request is well-formed but not applicable now
    ├── Aborted           a concurrent write got in the way; safe to retry
    ├── Unavailable       the store cannot be reached, or summaries are far
    │                     behind; safe to retry
    ├── DataLoss          a stored record cannot be read back (corrupt)
    └── StoreFailure      the store refused an operation for a reason the
                          server does not expect (its detail goes to the log)

An error can also carry ``reason`` and ``facts`` for clients that act on it by
program (sent as a ``google.rpc.ErrorInfo``), and notes (``add_note``) that
are appended to its message, e.g. how much of an import was committed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

__all__ = [
    "Aborted",
    "AlreadyExists",
    "ConfigurationError",
    "DataLoss",
    "FailedPrecondition",
    "FieldViolation",
    "InvalidArgument",
    "MemoriaError",
    "NotFound",
    "StoreFailure",
    "Unauthenticated",
    "Unavailable",
    "decodes",
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
    """Field violations, or (``message`` alone) a request that is malformed as a whole."""

    def __init__(self, violations: list[FieldViolation], message: str = "") -> None:
        self.violations = violations
        super().__init__(message or "; ".join(f"{v.field}: {v.description}" for v in violations))


class Unauthenticated(MemoriaError):
    """The call carries no usable API key; ``reason`` says why (``API_KEY_MISSING``,
    ``API_KEY_MALFORMED``, ``API_KEY_UNKNOWN``, ``API_KEY_REVOKED``). The message
    never contains the key's secret."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


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


class Aborted(MemoriaError):
    pass


class Unavailable(MemoriaError):
    pass


class DataLoss(MemoriaError):
    pass


class StoreFailure(MemoriaError):
    pass


def decodes(record: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """Marks a function that turns a stored ``record`` (a row, a document) back into
    a domain record: a value it cannot decode is corruption, reported as
    ``DataLoss`` instead of a bare ``KeyError`` or ``ValueError``."""

    def decorator(decode: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(decode)
        def decoded(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return decode(*args, **kwargs)
            except (KeyError, ValueError, TypeError, AttributeError, IndexError) as exc:
                raise DataLoss(
                    f"a stored {record} cannot be read ({type(exc).__name__}): the store"
                    " holds a corrupt record"
                ) from exc

        return decoded

    return decorator


class ConfigurationError(Exception):
    """A setting the server cannot start with (not an RPC error: it stops the start)."""
