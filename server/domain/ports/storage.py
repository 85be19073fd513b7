"""What each storage adapter implements: the data and the keys."""

from __future__ import annotations

from typing import Protocol

from server.domain.ports.keys import KeyStore
from server.domain.ports.store import Store

__all__ = ["Storage"]


class Storage(Store, KeyStore, Protocol):
    """Sessions, messages, summaries and users (``Store``), tenants and API keys
    (``KeyStore``) in one database: what ``open_store`` opens."""
