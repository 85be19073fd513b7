"""Who is calling: a tenant, and the API key it authenticated with."""

from __future__ import annotations

from dataclasses import dataclass

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.tenancy import is_tenant_name

__all__ = ["Caller", "check_tenant_name"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of an RPC. ``key_id`` is None without authentication
    (``MEMORIA_AUTH=none``), where every caller is the tenant ``default``."""

    tenant: str
    key_id: str | None = None


def check_tenant_name(name: str) -> str:
    """``name`` when it is a tenant name (``tenancy.TENANT_PATTERN``); ``InvalidArgument``
    otherwise."""
    if not is_tenant_name(name):
        raise InvalidArgument(
            [FieldViolation("tenant", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'")]
        )
    return name
