"""Who is calling: the tenant (and API key) the current RPC acts for.

Set per call by the authentication interceptor; without authentication
(``MEMORIA_AUTH=none``) every call acts for the default tenant.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from server.domain.tenancy import DEFAULT_TENANT

__all__ = ["Caller", "current_caller", "set_caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    tenant: str
    key_id: str | None = None


_ANONYMOUS = Caller(DEFAULT_TENANT)
_caller: ContextVar[Caller] = ContextVar("memoria_caller", default=_ANONYMOUS)


def current_caller() -> Caller:
    return _caller.get()


def set_caller(caller: Caller) -> None:
    _caller.set(caller)
