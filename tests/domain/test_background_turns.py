"""Background steps beside steady calls: their waits for a pause overlap, their steps take turns."""

from __future__ import annotations

import asyncio

import pytest

from server.domain import call_load
from server.domain.call_load import CallLoad
from server.domain.ports.store import Store
from server.domain.search.indexer import SearchIndexer
from tests.support.embedders import FakeEmbedder
from tests.support.records import NOW, new_message


async def test_under_steady_calls_every_session_gets_a_step_after_one_patience(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three sessions wait for a pause at once; none waits out the others' patience too."""
    patience = 0.5  # the server's 5 s, shortened: only the proportions matter here
    monkeypatch.setattr(call_load, "PATIENCE", patience)
    load = CallLoad()
    load.calls = 1  # a call in progress all along: no pause comes
    indexer = SearchIndexer(store, FakeEmbedder(), load=load)
    keys = ["s1", "s2", "s3"]
    for key in keys:
        await store.append_messages(key, [new_message(f"billing {key}")], NOW)
        indexer.appended(key, 1)
    try:
        # One patience, and a margin far below the two more that waiting in turn takes.
        await asyncio.sleep(patience * 1.6)
        states = await store.index_states(keys)
        assert [state.vectors_through for state in states] == [1, 1, 1]
    finally:
        await indexer.close()
