"""A SQLite store from before vector pages: old embeddings go, and are made again."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from server.domain.search.engine import SearchEngine
from server.domain.search.indexer import SearchIndexer
from server.domain.search.inputs import SearchInput
from server.domain.tenancy import DEFAULT_TENANT
from server.domain.tenant_store import TenantStore
from server.storage.open import open_store
from tests.support.embedders import FakeEmbedder
from tests.support.stores import old_sqlite_store

PAGES_MIGRATION = 7  # the first version with vector pages


async def test_a_sqlite_store_with_one_embedding_per_row_embeds_again_into_pages(
    tmp_path: Path,
) -> None:
    path = tmp_path / "memoria.db"
    with old_sqlite_store(path, PAGES_MIGRATION - 1) as old:
        old.execute(
            "INSERT INTO sessions (session_id, metadata, created_at, updated_at, message_count,"
            " token_count, last_sequence, terms_through, vectors_through)"
            " VALUES ('old', '{}', 1, 1, 1, 3, 1, 1, 1)"
        )
        old.execute(
            "INSERT INTO messages VALUES ('old', 1, '00000000-0000-4000-8000-000000000001',"
            " 'Jane', 'user', 'my car broke down', '{}', 3, 1)"
        )
        old.execute(
            "INSERT INTO message_index (session_id, sequence, uuid, scope, terms, length, vector,"
            " scale) VALUES ('old', 1, '00000000-0000-4000-8000-000000000001', 'sx',"
            " 'car broke down', 3, x'01020304', 0.5)"
        )
    async with open_store(f"sqlite:///{path}") as store:
        key = TenantStore(store, DEFAULT_TENANT).key("old")
        (state,) = await store.index_states([key])
        assert (state.terms_through, state.vectors_through) == (1, 0)
        assert await store.sessions_to_index(with_vectors=True, after=None, limit=10) == [key]
        embedder = FakeEmbedder()
        await SearchIndexer(store, embedder).index_now(key)
        answer = await SearchEngine(store, embedder).search(
            DEFAULT_TENANT, SearchInput(query="vehicle", session_id="old", search_type="semantic")
        )
        assert [hit.message.content for hit in answer.hits if hit.message] == ["my car broke down"]
        assert embedder.texts == 2  # the message, then the query
    with sqlite3.connect(path) as migrated:
        columns = {row[1] for row in migrated.execute("PRAGMA table_info(message_index)")}
        assert not {"vector", "scale"} & columns
