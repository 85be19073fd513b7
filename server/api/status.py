"""The one place where domain errors become gRPC statuses, with google.rpc details."""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from server.domain.errors import (
    Aborted,
    AlreadyExists,
    DataLoss,
    FailedPrecondition,
    InvalidArgument,
    MemoriaError,
    NotFound,
    StoreFailure,
    Unauthenticated,
    Unavailable,
)

__all__ = ["ERROR_DOMAIN", "INTERNAL_ERROR", "status_of"]

# google.rpc.ErrorInfo.domain of Memoria's errors.
ERROR_DOMAIN = "memoria.v1"

_CODES: list[tuple[type[MemoriaError], int]] = [
    (InvalidArgument, code_pb2.INVALID_ARGUMENT),
    (Unauthenticated, code_pb2.UNAUTHENTICATED),
    (NotFound, code_pb2.NOT_FOUND),
    (AlreadyExists, code_pb2.ALREADY_EXISTS),
    (FailedPrecondition, code_pb2.FAILED_PRECONDITION),
    (Aborted, code_pb2.ABORTED),
    (Unavailable, code_pb2.UNAVAILABLE),
    (DataLoss, code_pb2.DATA_LOSS),
    (StoreFailure, code_pb2.INTERNAL),
]

# What a client sees of a bug: nothing of the stack trace or of stored data.
INTERNAL_ERROR = rpc_status.to_status(
    status_pb2.Status(code=code_pb2.INTERNAL, message="internal error; see the server log")
)


def status_of(error: MemoriaError) -> grpc.Status:
    code = next((code for kind, code in _CODES if isinstance(error, kind)), code_pb2.INTERNAL)
    details: list[any_pb2.Any] = []
    if isinstance(error, InvalidArgument) and error.violations:
        details.append(_pack(_bad_request(error)))
    elif isinstance(error, NotFound | AlreadyExists):
        details.append(
            _pack(
                error_details_pb2.ResourceInfo(
                    resource_type=error.resource_type, resource_name=error.resource_name
                )
            )
        )
    if error.reason:
        details.append(
            _pack(
                error_details_pb2.ErrorInfo(
                    reason=error.reason, domain=ERROR_DOMAIN, metadata=dict(error.facts)
                )
            )
        )
    message = "; ".join([str(error), *getattr(error, "__notes__", ())])
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=details))


def _bad_request(error: InvalidArgument) -> error_details_pb2.BadRequest:
    return error_details_pb2.BadRequest(
        field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in error.violations
        ]
    )


def _pack(
    detail: error_details_pb2.BadRequest
    | error_details_pb2.ResourceInfo
    | error_details_pb2.ErrorInfo,
) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed
