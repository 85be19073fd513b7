"""Who is calling: a tenant, and the API key it authenticated with."""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.domain.errors import FieldViolation, InvalidArgument

__all__ = ["DEFAULT_TENANT", "Caller", "check_tenant_name"]

# The tenant of ``MEMORIA_AUTH=none`` and of data stored before tenants existed.
DEFAULT_TENANT = "default"

_TENANT_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of an RPC. ``key_id`` is None without authentication
    (``MEMORIA_AUTH=none``), where every caller is the tenant ``default``."""

    tenant: str
    key_id: str | None


def check_tenant_name(name: str) -> str:
    """``name`` when it is 1 to 64 characters of ``[A-Za-z0-9._-]``; ``InvalidArgument``
    otherwise."""
    if not _TENANT_NAME.fullmatch(name):
        raise InvalidArgument(
            [FieldViolation("tenant", "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-'")]
        )
    return name
