"""The one exception tree of the client. Every failed call raises one of these, made
from the gRPC status code and its ``google.rpc`` details in :func:`error_from_rpc`; the
original ``grpc.RpcError`` is kept as ``__cause__``::

    MemoriaError                  any failed call (.code, .message, .reason, .metadata)
    ├── InvalidArgumentError      INVALID_ARGUMENT (.field_violations)
    ├── NotFoundError             NOT_FOUND (.resource_type, .resource_name)
    ├── AlreadyExistsError        ALREADY_EXISTS (.resource_type, .resource_name)
    ├── FailedPreconditionError   FAILED_PRECONDITION
    ├── AuthenticationError       UNAUTHENTICATED: missing or unknown API key
    ├── PermissionDeniedError     PERMISSION_DENIED
    ├── ResourceExhaustedError    RESOURCE_EXHAUSTED, e.g. a message over a size limit
    ├── UnavailableError          UNAVAILABLE: server unreachable or restarting (retried)
    │   └── SummaryBehindError    perpetual memory while summaries are far behind
    ├── DeadlineExceededError     DEADLINE_EXCEEDED: the call's timeout passed (retried)
    ├── CancelledCallError        CANCELLED
    └── InternalError             INTERNAL, UNKNOWN, UNIMPLEMENTED, DATA_LOSS…
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

__all__ = [
    "AlreadyExistsError",
    "AuthenticationError",
    "CancelledCallError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "InternalError",
    "InvalidArgumentError",
    "MemoriaError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "SummaryBehindError",
    "UnavailableError",
    "error_from_rpc",
]

SUMMARY_BEHIND = "SUMMARY_BEHIND"
_STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldViolation:
    """One invalid field of a request: ``field`` is a path such as
    ``messages[2].role_type``."""

    field: str
    description: str


class MemoriaError(Exception):
    """A call to Memoria failed. ``code`` is the gRPC status code, ``message`` the
    server's explanation; ``reason`` and ``metadata`` come from the status's
    ``google.rpc.ErrorInfo`` when the server sent one (``reason`` is ``""`` otherwise)."""

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode = grpc.StatusCode.UNKNOWN,
        reason: str = "",
        metadata: Mapping[str, str] = MappingProxyType({}),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata: Mapping[str, str] = MappingProxyType(dict(metadata))


class InvalidArgumentError(MemoriaError):
    """The request is malformed; ``field_violations`` says which fields and why."""

    field_violations: list[FieldViolation]


class _ResourceError(MemoriaError):
    resource_type: str
    resource_name: str


class NotFoundError(_ResourceError):
    """The named session, message or user does not exist (``resource_type`` and
    ``resource_name`` say which, when the server told)."""


class AlreadyExistsError(_ResourceError):
    """A session or user with that identifier exists already."""


class FailedPreconditionError(MemoriaError):
    """The request is well-formed but cannot be applied in the current state."""


class AuthenticationError(MemoriaError):
    """The API key is missing, unknown or revoked."""


class PermissionDeniedError(MemoriaError):
    """The API key may not make this call."""


class ResourceExhaustedError(MemoriaError):
    """A limit was hit, e.g. a message larger than the server or client accepts."""


class UnavailableError(MemoriaError):
    """The server cannot be reached or cannot serve the call now; idempotent calls are
    retried before this is raised."""


class SummaryBehindError(UnavailableError):
    """Perpetual memory is unavailable for a while: too many messages await
    summarization. Not retried by the client: read ``memory_type="message_window"``
    meanwhile, or retry later."""


class DeadlineExceededError(MemoriaError):
    """The call did not finish within its timeout; idempotent calls are retried before
    this is raised."""


class CancelledCallError(MemoriaError):
    """The call was cancelled."""


class InternalError(MemoriaError):
    """The server failed unexpectedly (details are in its log), or does not implement
    the call."""


_BY_CODE: dict[grpc.StatusCode, type[MemoriaError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: FailedPreconditionError,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.CANCELLED: CancelledCallError,
    grpc.StatusCode.INTERNAL: InternalError,
    grpc.StatusCode.UNKNOWN: InternalError,
    grpc.StatusCode.UNIMPLEMENTED: InternalError,
    grpc.StatusCode.DATA_LOSS: InternalError,
}


def error_from_rpc(error: grpc.RpcError) -> MemoriaError:
    """The client's exception for a failed call (sync or asyncio), with ``error`` as its
    cause. Raise it with ``raise error_from_rpc(exc) from exc``."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or code.name
    details = _status_details(error)
    info = _unpack(details, error_details_pb2.ErrorInfo)
    reason = info.reason if info else ""
    kind = _BY_CODE.get(code, MemoriaError)
    if kind is UnavailableError and reason == SUMMARY_BEHIND:
        kind = SummaryBehindError
    result = kind(message, code=code, reason=reason, metadata=dict(info.metadata) if info else {})
    if isinstance(result, InvalidArgumentError):
        bad_request = _unpack(details, error_details_pb2.BadRequest)
        result.field_violations = [
            FieldViolation(v.field, v.description)
            for v in (bad_request.field_violations if bad_request else [])
        ]
    elif isinstance(result, _ResourceError):
        resource = _unpack(details, error_details_pb2.ResourceInfo)
        result.resource_type = resource.resource_type if resource else ""
        result.resource_name = resource.resource_name if resource else ""
    result.__cause__ = error
    return result


def _status_details(error: grpc.RpcError) -> list[any_pb2.Any]:
    """The ``google.rpc.Status`` details of the trailing metadata (the same for sync and
    asyncio errors, which ``grpc_status.rpc_status.from_call`` tells apart)."""
    trailers: Any = error.trailing_metadata() or ()
    for key, value in trailers:
        if key == _STATUS_DETAILS_KEY:
            return list(status_pb2.Status.FromString(value).details)
    return []


_Detail = TypeVar(
    "_Detail",
    error_details_pb2.ErrorInfo,
    error_details_pb2.BadRequest,
    error_details_pb2.ResourceInfo,
)


def _unpack(details: list[any_pb2.Any], kind: type[_Detail]) -> _Detail | None:
    for detail in details:
        if detail.Is(kind.DESCRIPTOR):
            unpacked = kind()
            detail.Unpack(unpacked)
            return unpacked
    return None
