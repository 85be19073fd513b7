"""SearchMemory in process, for the storage contract: a store, the engine and the
indexer together, with messages added and indexed in one call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from server.domain.models import JsonObject, RoleType
from server.domain.ports.store import Store
from server.domain.search.engine import SearchAnswer, SearchEngine
from server.domain.search.indexer import SearchIndexer
from server.domain.search.inputs import SearchInput
from server.domain.tenancy import DEFAULT_TENANT
from server.domain.tenant_store import TenantStore
from tests.support.embedders import FakeEmbedder
from tests.support.records import NOW, new_message

__all__ = ["Search", "contents", "new_search"]


@dataclass
class Search:
    store: Store
    engine: SearchEngine
    indexer: SearchIndexer

    async def add(
        self,
        session_id: str,
        contents: Sequence[str],
        *,
        tenant: str = DEFAULT_TENANT,
        role_type: RoleType = RoleType.USER,
        metadata: JsonObject | None = None,
        seconds: float = 0,
        index: bool = True,
    ) -> None:
        view = TenantStore(self.store, tenant)
        messages = [
            replace(
                new_message(text, role_type=role_type, metadata=metadata),
                created_at=NOW + timedelta(seconds=seconds),
            )
            for text in contents
        ]
        await view.append_messages(session_id, messages, NOW)
        if index:
            await self.indexer.index_now(view.key(session_id))

    async def __call__(
        self, query: str, tenant: str = DEFAULT_TENANT, **given: object
    ) -> SearchAnswer:
        if "user_id" not in given:
            given.setdefault("session_id", "s1")
        return await self.engine.search(tenant, SearchInput(query=query, **given))  # type: ignore[arg-type]


def new_search(store: Store) -> Search:
    """The engine and the indexer on ``store``, with the fake embedder."""
    embedder = FakeEmbedder()
    return Search(store, SearchEngine(store, embedder), SearchIndexer(store, embedder))


def contents(answer: SearchAnswer) -> list[str]:
    """Each hit's text; a summary's marked ``summary:``."""
    return [
        hit.message.content
        if hit.message
        else f"summary:{hit.summary.content if hit.summary else ''}"
        for hit in answer.hits
    ]
