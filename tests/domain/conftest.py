"""The domain in-process, on a temporary SQLite store: no server, no socket.

The token counter is a test double (one token per word) so that counts are
obvious; the real one is tested in tests/unit/test_tokens.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest

from server.domain.memory import MemoryManager
from server.domain.ports.store import Store
from server.domain.sessions import SessionManager
from server.domain.tenancy import DEFAULT_TENANT
from server.domain.users import UserManager
from server.domain.validation import Limits
from server.storage.open import open_store

# The tenant of the use cases under test: the default one, whose store keys are the
# bare ids, so that tests may also look at the store directly.
TENANT = DEFAULT_TENANT
WINDOW = 6
LIMITS = Limits(max_content_bytes=1000, max_metadata_bytes=200, max_messages_per_request=50)


class WordCounter:
    """One token per word."""

    encoding_name = "words"

    async def count(self, texts: Sequence[str]) -> list[int]:
        return [len(text.split()) for text in texts]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'memoria.db'}") as opened:
        yield opened


@pytest.fixture
def memory(store: Store) -> MemoryManager:
    return MemoryManager(
        store, WordCounter(), LIMITS, WINDOW, follow_poll_interval=0.05, import_write_batch=7
    )


@pytest.fixture
def sessions(store: Store) -> SessionManager:
    return SessionManager(store, LIMITS)


@pytest.fixture
def users(store: Store, sessions: SessionManager) -> UserManager:
    return UserManager(store, sessions, LIMITS)
