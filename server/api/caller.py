"""The caller of the RPC being served, for the servicers.

The call boundary (``boundary.py``) sets it before the handler runs; each
RPC runs in its own asyncio task, so its value never leaks into another call.
"""

from __future__ import annotations

from contextvars import ContextVar

from server.domain.caller import Caller

__all__ = ["Caller", "caller_or_none", "current_caller", "set_caller"]

_caller: ContextVar[Caller | None] = ContextVar("memoria_caller", default=None)


def current_caller() -> Caller:
    """The authenticated caller of the current RPC (the tenant ``default`` without
    authentication). Raises ``LookupError`` outside an authenticated RPC, so that a
    call that skipped authentication can never act as some tenant."""
    caller = _caller.get()
    if caller is None:
        raise LookupError(
            "no authenticated caller: the call boundary did not authenticate this call"
        )
    return caller


def caller_or_none() -> Caller | None:
    """The caller when there is one (not for health and reflection calls): for logs."""
    return _caller.get()


def set_caller(caller: Caller) -> None:
    _caller.set(caller)
