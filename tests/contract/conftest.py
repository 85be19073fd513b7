from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.domain.ports.store import Store
from server.storage.open import open_store
from tests.support.searching import Search, new_search
from tests.support.stores import StoreUrls


@pytest.fixture
def store_url(store_kind: str, store_urls: StoreUrls) -> str:
    """Where the test's fresh store keeps its data."""
    return store_urls.fresh(store_kind)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A fresh, empty store of each kind, set up and closed around the test."""
    async with open_store(store_url) as opened:
        yield opened


@pytest.fixture
async def other_store(store: Store, store_url: str) -> AsyncIterator[Store]:
    """A second store on the same data, as a second server process would have: on
    SQLite another writer connection to the file, on MongoDB another client."""
    async with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def search(store: Store) -> Search:
    """Search on the test's store: engine and indexer, with the fake embedder."""
    return new_search(store)
