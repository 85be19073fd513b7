"""client.memory.search_memory (and its asyncio twin) against a live server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from memoria_client import (
    AsyncMemoriaClient,
    MemoriaClient,
    Memory,
    Message,
    MetadataCondition,
    NotFoundError,
    SearchResults,
)

CONVERSATION = [
    Message(role="Jane", role_type="user", content="My invoice was charged twice this month"),
    Message(
        role="Bot",
        role_type="assistant",
        content="I refunded the duplicate payment on your bill",
        metadata={"topic": "billing", "ticket": {"priority": 2}},
    ),
    Message(role="Jane", role_type="user", content="I love hiking in the Alps on weekends"),
]


def indexed(search: object) -> SearchResults:
    """Calls ``search()`` until every message in scope is indexed (moments after a write)."""
    deadline = time.monotonic() + 60
    while True:
        answer: SearchResults = search()  # type: ignore[operator]
        if answer.unindexed_messages == 0 or time.monotonic() > deadline:
            assert answer.unindexed_messages == 0
            return answer
        time.sleep(0.05)


def test_search_memory_returns_typed_results(client: MemoriaClient, session_id: str) -> None:
    """Keyword results carry the message, session, score and matched terms; filters apply."""
    client.memory.add_memory(session_id, Memory(messages=CONVERSATION))
    answer = indexed(
        lambda: client.memory.search_memory(session_id, "charged bill", search_type="keyword")
    )
    assert answer.search_type == "keyword" and not answer.truncated
    # An equal score each (one term, as rare, in as long a text): the newer first.
    assert [(r.message.content if r.message else "", r.matched_terms) for r in answer.results] == [
        (CONVERSATION[1].content, ["bill"]),
        (CONVERSATION[0].content, ["charg"]),
    ]
    assert all(r.session_id == session_id and r.score > 0 for r in answer.results)

    filtered = client.memory.search_memory(
        session_id,
        "charged bill",
        metadata=[MetadataCondition(path="ticket.priority", gte=2)],
        role_types=["assistant"],
        created_after=datetime.now(UTC) - timedelta(hours=1),
    )
    assert [r.message.role for r in filtered.results if r.message] == ["Bot"]
    by_value = client.memory.search_memory(session_id, "bill", metadata={"topic": "billing"})
    assert [r.message.role for r in by_value.results if r.message] == ["Bot"]
    assert (
        client.memory.search_memory(session_id, "walking in the mountains").search_type == "hybrid"
    )


def test_search_memory_errors(client: MemoriaClient, session_id: str) -> None:
    """An unknown session is NotFoundError; an ambiguous condition is refused locally."""
    with pytest.raises(NotFoundError):
        client.memory.search_memory(session_id, "anything")
    with pytest.raises(ValueError, match="exactly one comparison"):
        client.memory.search_memory(
            session_id, "x", metadata=[MetadataCondition(path="a", equals=1, exists=True)]
        )


async def test_asearch_memory_over_a_users_sessions(
    aclient: AsyncMemoriaClient, session_id: str
) -> None:
    """The asyncio twin searches every session of a user."""
    user_id = f"user-{session_id}"
    await aclient.user.acreate(user_id)
    for n in range(2):
        await aclient.session.acreate(f"{session_id}-{n}", user_id=user_id)
        await aclient.memory.aadd_memory(f"{session_id}-{n}", CONVERSATION)
    answer = await aclient.memory.asearch_memory(user_id=user_id, query="hiking", limit=5)
    deadline = time.monotonic() + 60
    while answer.unindexed_messages and time.monotonic() < deadline:
        answer = await aclient.memory.asearch_memory(user_id=user_id, query="hiking", limit=5)
    hiking = [r for r in answer.results if r.message and "hiking" in r.message.content]
    assert sorted(r.session_id for r in hiking) == [f"{session_id}-0", f"{session_id}-1"]
