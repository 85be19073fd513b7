"""Reading google.rpc details off a failed call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

__all__ = ["call_error", "error_info", "field_violations"]


def call_error(call: Callable[[], Any]) -> grpc.RpcError:
    """The error that ``call`` fails with; the test fails when it does not."""
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """The BadRequest field violations of an error, as {field: description}."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the error carries no google.rpc.Status"
    violations: dict[str, str] = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.update({v.field: v.description for v in bad_request.field_violations})
    return violations


def error_info(error: grpc.RpcError) -> dict[str, str]:
    """The google.rpc.ErrorInfo of an error: its reason and metadata; {} when none."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None, "the error carries no google.rpc.Status"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return {"reason": info.reason, **info.metadata}
    return {}
