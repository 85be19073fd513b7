"""One access-log line per RPC, written when the call ends, saying how it ended.

``memoria.access`` logs each call of Memoria's services at INFO, health checks
and reflection at DEBUG (so that grpcurl use does not drown the log)::

    /memoria.v1.MemoryService/GetMemory NOT_FOUND 1.42ms tenant=acme key=q3v7ma2kx4fd
        session=chat-1 peer=ipv4:127.0.0.1:51234 error="session 'chat-1' not found"

(one line in the log). ``tenant`` and ``key`` name the authenticated caller (the
key's id, never its secret), ``-`` when there is none: a refused call, health,
reflection, or ``key=-`` without authentication.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import grpc

from server.api.caller import caller_or_none

__all__ = ["CallRecord"]

access_log = logging.getLogger("memoria.access")

_QUIET_PREFIXES = ("/grpc.health.", "/grpc.reflection.")
_DEADLINE_SLACK_SECONDS = 0.05


class CallRecord:
    """What the access log says of one call: filled in as the call goes on."""

    def __init__(self, method: str, context: Any) -> None:
        self.method = method
        self.started = time.perf_counter()
        self.session_id = ""
        self.code: grpc.StatusCode | None = None
        self.message = ""
        self._context = context
        # Read now: once a call is cancelled its context must not be touched again
        # (grpcio may have freed what it points to).
        self._peer = context.peer()
        remaining = context.time_remaining()
        self._deadline = None if remaining is None else time.monotonic() + remaining

    def saw_request(self, request: Any) -> None:
        """Notes the session the call is about, from a request that names one."""
        if not self.session_id:
            self.session_id = getattr(request, "session_id", "") or ""

    def ended(self, code: grpc.StatusCode, message: str = "") -> None:
        self.code, self.message = code, message

    def ended_early(self) -> None:
        """The call stopped before its handler finished: cancelled by the client, its
        deadline passed, or its response could not be written."""
        # The client's cancellation at its deadline can arrive a moment before the
        # server's own clock says the deadline passed.
        deadline_passed = (
            self._deadline is not None
            and time.monotonic() > self._deadline - _DEADLINE_SLACK_SECONDS
        )
        self.ended(
            grpc.StatusCode.DEADLINE_EXCEEDED if deadline_passed else grpc.StatusCode.CANCELLED,
            "deadline exceeded" if deadline_passed else "cancelled, or the response not sent",
        )

    def write(self) -> None:
        code = self.code or self._final_code()
        if self.code is None and code is not grpc.StatusCode.OK:
            self.message = self._context.details() or ""
        level = logging.DEBUG if self.method.startswith(_QUIET_PREFIXES) else logging.INFO
        if not access_log.isEnabledFor(level):
            return
        elapsed = (time.perf_counter() - self.started) * 1000
        caller = caller_or_none()
        tenant, key = (caller.tenant, caller.key_id or "-") if caller else ("-", "-")
        line = f"{self.method} {code.name} {elapsed:.2f}ms tenant={tenant} key={key}"
        if self.session_id:
            line += f" session={self.session_id}"
        line += f" peer={self._peer}"
        if code is not grpc.StatusCode.OK and self.message:
            line += f' error="{self.message}"'
        access_log.log(level, line)

    def _final_code(self) -> grpc.StatusCode:
        code = self._context.code()
        if isinstance(code, grpc.StatusCode):
            return code
        if self._context.cancelled():
            return grpc.StatusCode.CANCELLED
        return grpc.StatusCode.OK
