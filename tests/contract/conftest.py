from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.domain.ports.store import Store
from server.storage.open import open_store
from tests.support.stores import StoreUrls


@pytest.fixture
async def store(store_kind: str, store_urls: StoreUrls) -> AsyncIterator[Store]:
    """A fresh, empty store of each kind, set up and closed around the test."""
    async with open_store(store_urls.fresh(store_kind)) as opened:
        yield opened
