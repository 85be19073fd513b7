"""Storage contract: appending and reading messages."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from server.domain.models import RoleType
from server.domain.ports.store import Store
from tests.support.records import NOW, later, new_message


async def test_append_creates_session_and_numbers_messages(store: Store) -> None:
    """Appending to a new session creates it; messages get sequences 1, 2, 3 in order."""
    stored = await store.append_messages(
        "s1", [new_message("a", token_count=2), new_message("b", token_count=3)], NOW
    )
    assert [(m.sequence, m.content) for m in stored.messages] == [(1, "a"), (2, "b")]
    assert (stored.added, stored.duplicates) == (2, 0)
    more = await store.append_messages("s1", [new_message("c", token_count=4)], later(1))
    assert more.messages[0].sequence == 3
    session = await store.get_session("s1")
    assert session is not None
    assert (session.message_count, session.token_count) == (3, 9)
    assert (session.created_at, session.updated_at) == (NOW, later(1))


async def test_appended_messages_read_back_exactly(store: Store) -> None:
    """Every field of a message survives the round trip."""
    original = new_message(
        "Who was Octavia Butler?",
        role="Jane",
        role_type=RoleType.TOOL,
        metadata={"foo": "bar"},
        token_count=6,
    )
    [stored] = (await store.append_messages("s1", [original], NOW)).messages
    expected = (original.uuid, "Jane", RoleType.TOOL, original.content, {"foo": "bar"}, 6, NOW)
    for message in [stored, await store.get_message("s1", original.uuid)]:
        assert message is not None
        assert (
            message.uuid,
            message.role,
            message.role_type,
            message.content,
            message.metadata,
            message.token_count,
            message.created_at,
        ) == expected


async def test_retry_with_same_uuids_stores_nothing_twice(store: Store) -> None:
    """A retried batch returns the first stored messages, adds nothing and says so."""
    batch = [new_message("a"), new_message("b")]
    first = await store.append_messages("s1", batch, NOW)
    retried = [replace(m, content=m.content + " (retry)") for m in batch]
    second = await store.append_messages("s1", retried, later(1))
    assert second.messages == first.messages
    assert (first.added, second.added, second.duplicates) == (2, 0, 2)
    assert len(await store.recent_messages("s1", 10) or []) == 2
    session = await store.get_session("s1")
    assert session is not None and session.message_count == 2


async def test_retry_of_one_message_stores_nothing_twice(store: Store) -> None:
    """A retried single message (the usual AddMemory) returns the stored one, at its place."""
    message = new_message("a")
    first = await store.append_messages("s1", [message], NOW)
    await store.append_messages("s1", [new_message("b")], NOW)
    retried = await store.append_messages("s1", [replace(message, content="a?")], later(1))
    assert retried.messages == first.messages
    assert (retried.added, retried.duplicates) == (0, 1)
    assert [m.content for m in await store.recent_messages("s1", 10) or []] == ["a", "b"]
    session = await store.get_session("s1")
    assert session is not None and session.message_count == 2


async def test_partial_retry_appends_only_new_messages(store: Store) -> None:
    """In a batch mixing stored and new uuids, only the new ones are appended."""
    old = new_message("old")
    await store.append_messages("s1", [old], NOW)
    result = await store.append_messages("s1", [old, new_message("new")], NOW)
    assert [(m.content, m.sequence) for m in result.messages] == [("old", 1), ("new", 2)]
    assert (result.added, result.duplicates) == (1, 1)


async def test_same_uuid_in_two_sessions_is_two_messages(store: Store) -> None:
    """Uuids are unique within a session, not across sessions."""
    message = new_message()
    await store.append_messages("s1", [message], NOW)
    result = await store.append_messages("s2", [message], NOW)
    assert result.added == 1 and result.messages[0].sequence == 1
    assert await store.get_message("s2", message.uuid) is not None


async def test_concurrent_appends_from_two_stores_keep_batches_contiguous(
    store: Store, other_store: Store
) -> None:
    """Concurrent appends to one session, from two stores on the same data (two
    processes), store every message once, each batch contiguous."""
    batches = [[new_message(f"{b}:{i}") for i in range(5)] for b in range(40)]
    writers = [store, other_store]
    await asyncio.gather(
        *(writers[n % 2].append_messages("s1", batch, NOW) for n, batch in enumerate(batches))
    )
    stored = await store.list_messages("s1", after_sequence=0, limit=1000) or []
    assert [m.sequence for m in stored] == list(range(1, 201))
    assert sorted(m.content for m in stored) == sorted(m.content for b in batches for m in b)
    for start in range(0, 200, 5):
        chunk = [m.content.split(":") for m in stored[start : start + 5]]
        assert [batch for batch, _ in chunk] == [chunk[0][0]] * 5
        assert [int(index) for _, index in chunk] == list(range(5))


async def test_recent_messages_are_the_last_ones_oldest_first(store: Store) -> None:
    """recent_messages returns the last n, oldest first."""
    await store.append_messages("s1", [new_message(str(n)) for n in range(20)], NOW)
    recent = await store.recent_messages("s1", 5) or []
    assert [m.content for m in recent] == ["15", "16", "17", "18", "19"]
    assert [m.content for m in await store.recent_messages("s1", 50) or []] == [
        str(n) for n in range(20)
    ]


async def test_reads_of_missing_session_return_none(store: Store) -> None:
    """Reads of a missing session return None, not an empty list."""
    assert await store.recent_messages("nope", 5) is None
    assert await store.list_messages("nope", after_sequence=0, limit=5) is None
    assert await store.get_message("nope", "00000000-0000-0000-0000-000000000000") is None


async def test_empty_session_reads_return_empty_lists(store: Store) -> None:
    """A session without messages reads as empty lists."""
    await store.append_messages("s1", [new_message()], NOW)
    await store.delete_messages("s1", NOW)
    assert await store.recent_messages("s1", 5) == []
    assert await store.list_messages("s1", after_sequence=0, limit=5) == []


async def test_list_messages_pages_through_history(store: Store) -> None:
    """list_messages continues after a sequence, in order, without gaps or repeats."""
    await store.append_messages("s1", [new_message(str(n)) for n in range(25)], NOW)
    seen: list[str] = []
    after = 0
    while page := await store.list_messages("s1", after_sequence=after, limit=10):
        seen += [m.content for m in page]
        after = page[-1].sequence
    assert seen == [str(n) for n in range(25)]


async def test_missing_message_returns_none(store: Store) -> None:
    """A uuid that is not stored in the session returns None."""
    await store.append_messages("s1", [new_message()], NOW)
    assert await store.get_message("s1", "00000000-0000-0000-0000-000000000000") is None


async def test_replace_message_metadata(store: Store) -> None:
    """Replacing metadata changes that message only."""
    first, second = new_message(metadata={"a": 1}), new_message(metadata={"b": 2})
    await store.append_messages("s1", [first, second], NOW)
    updated = await store.replace_message_metadata("s1", first.uuid, {"c": [1, 2]})
    assert updated is not None and updated.metadata == {"c": [1, 2]}
    reread = await store.get_message("s1", first.uuid)
    assert reread is not None and reread.metadata == {"c": [1, 2]}
    untouched = await store.get_message("s1", second.uuid)
    assert untouched is not None and untouched.metadata == {"b": 2}
    assert await store.replace_message_metadata("s1", str(new_message().uuid), {}) is None


async def test_delete_messages_keeps_session_and_sequence(store: Store) -> None:
    """Deleting messages keeps the session; later messages continue the sequence."""
    await store.append_messages("s1", [new_message(), new_message()], NOW)
    assert await store.delete_messages("s1", later(1)) is True
    session = await store.get_session("s1")
    assert session is not None
    assert (session.message_count, session.token_count, session.updated_at) == (0, 0, later(1))
    [next_message] = (await store.append_messages("s1", [new_message()], later(2))).messages
    assert next_message.sequence == 3
    assert await store.delete_messages("nope", NOW) is False


async def test_metadata_round_trips_json_values(store: Store) -> None:
    """Nested objects, lists, unicode, numbers, booleans and null survive storage."""
    metadata = {
        "nested": {"deeper": {"list": [1, "two", {"three": 3.5}]}},
        "unicode": "Octavia Estelle Butler — 作家 🚀",
        "int": 42,
        "float": -0.125,
        "big": 2**53,
        "flag": True,
        "nothing": None,
        "empty": {},
    }
    message = new_message(metadata=metadata)
    await store.append_messages("s1", [message], NOW)
    stored = await store.get_message("s1", message.uuid)
    assert stored is not None and stored.metadata == metadata


async def test_large_content_round_trips(store: Store) -> None:
    """A message of 1 MiB is stored and read back whole."""
    content = "x" * (1024 * 1024 - 3) + "end"
    message = new_message(content)
    await store.append_messages("s1", [message], NOW)
    stored = await store.get_message("s1", message.uuid)
    assert stored is not None and stored.content == content


async def test_big_batch_keeps_order_and_original_times(store: Store) -> None:
    """A batch of thousands is stored in order, each message with its own created_at."""
    batch = [replace(new_message(str(n)), created_at=later(n)) for n in range(5000)]
    result = await store.append_messages("s1", batch[:2500], NOW)
    result2 = await store.append_messages("s1", batch[2000:], NOW)
    assert (result.added, result2.added, result2.duplicates) == (2500, 2500, 500)
    assert [m.sequence for m in result2.messages[500:]] == list(range(2501, 5001))
    stored = await store.list_messages("s1", after_sequence=4990, limit=100) or []
    assert [(m.content, m.created_at) for m in stored] == [
        (str(n), later(n)) for n in range(4990, 5000)
    ]
