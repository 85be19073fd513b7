"""Tenants: every session, message, summary and user belongs to one.

The stores keep one key space for all tenants: a record of tenant ``acme``
is stored under ``acme/<id>``, one of the default tenant (the data of a
store from before tenants, and the tenant of ``MEMORIA_AUTH=none``) under the
bare ``<id>``. ``/`` is a character that neither a tenant name nor a session
or user id may contain, so two tenants' keys never meet, and every look-up by
key (a session, its messages, summary and lease, a user) stays within its
tenant without the store knowing; listings filter on the tenant the store
records beside each session and user. Only ``TenantStore`` builds keys.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_TENANT",
    "TENANT_PATTERN",
    "is_tenant_name",
    "scoped_key",
    "split_key",
    "tenant_of",
]

DEFAULT_TENANT = "default"
TENANT_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_SEPARATOR = "/"


def is_tenant_name(name: str) -> bool:
    return TENANT_PATTERN.fullmatch(name) is not None


def scoped_key(tenant: str, identifier: str) -> str:
    """The key under which the store holds ``identifier`` of ``tenant``."""
    if tenant == DEFAULT_TENANT:
        return identifier
    return f"{tenant}{_SEPARATOR}{identifier}"


def split_key(key: str) -> tuple[str, str]:
    """(tenant, identifier) of a store key."""
    tenant, separator, identifier = key.partition(_SEPARATOR)
    return (tenant, identifier) if separator else (DEFAULT_TENANT, key)


def tenant_of(key: str) -> str:
    return split_key(key)[0]
