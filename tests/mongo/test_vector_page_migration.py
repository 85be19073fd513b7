"""A MongoDB store from before vector pages: old embeddings go, and are made again."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from server.domain.search.engine import SearchEngine
from server.domain.search.indexer import SearchIndexer
from server.domain.search.inputs import SearchInput
from server.domain.tenancy import DEFAULT_TENANT
from server.domain.tenant_store import TenantStore
from server.storage.mongo import MongoStore
from server.storage.mongo.documents import Document
from tests.support.embedders import FakeEmbedder
from tests.support.records import NOW, new_message


async def test_message_vectors_are_dropped_and_sessions_embedded_again(
    mongo_url: str, raw: AsyncDatabase[Document]
) -> None:
    """The one-document-per-message ``message_vectors`` collection is dropped at
    start-up and every session's ``vectors_through`` goes back to 0."""
    store = MongoStore.from_url(mongo_url)
    try:
        await store.setup()
        key = TenantStore(store, DEFAULT_TENANT).key("old")
        await store.append_messages(key, [new_message("my car broke down")], NOW)
        terms_only = SearchIndexer(store, None)
        await terms_only.index_now(key)
        await terms_only.close()  # gives back its lease at once, not after lingering
        await raw.sessions.update_one({"_id": key}, {"$set": {"vectors_through": 1}})
        await raw.message_vectors.insert_one(
            {"_id": f"{key}/1/x", "session_id": key, "sequence": 1, "uuid": "x"}
        )
        await store.setup()
        await store.setup()  # idempotent
        assert "message_vectors" not in await raw.list_collection_names()
        (state,) = await store.index_states([key])
        assert (state.terms_through, state.vectors_through) == (1, 0)
        embedder = FakeEmbedder()
        indexer = SearchIndexer(store, embedder)
        await indexer.index_now(key)
        await indexer.close()
        answer = await SearchEngine(store, embedder).search(
            DEFAULT_TENANT, SearchInput(query="vehicle", session_id="old", search_type="semantic")
        )
        assert [hit.message.content for hit in answer.hits if hit.message] == ["my car broke down"]
    finally:
        await store.close()
