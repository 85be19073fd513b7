"""Appends without transactions: collisions, crashes half-way, and racing processes.

Odd states are made by writing to the database directly; several ``MongoStore``
instances (each with its own client and its own in-process locks) stand for
several server processes.
"""

from __future__ import annotations

import asyncio

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from server.domain.models import AppendResult, Message
from server.storage.mongo import MongoStore
from server.storage.mongo.documents import Document, message_document
from tests.support.records import NOW, new_message


async def stored_messages(store: MongoStore, session_id: str) -> list[Message]:
    return await store.list_messages(session_id, after_sequence=0, limit=10_000) or []


async def test_counter_behind_the_messages_is_skipped_past(
    store: MongoStore, raw: AsyncDatabase[Document]
) -> None:
    """When the counter hands out positions in use (a lost $inc), the batch goes after them."""
    await store.append_messages("s1", [new_message(str(n)) for n in range(3)], NOW)
    await raw["sessions"].update_one({"_id": "s1"}, {"$set": {"last_sequence": 1}})
    batch = [new_message(f"b{n}") for n in range(4)]  # reserved 2..5: 2 and 3 are taken
    stored = (await store.append_messages("s1", batch, NOW)).messages
    # The positions of the failed reservation stay unused: sequences may have gaps.
    assert [m.sequence for m in stored] == [6, 7, 8, 9]
    assert [m.uuid for m in stored] == [m.uuid for m in batch]
    listed = await stored_messages(store, "s1")
    assert [(m.sequence, m.content) for m in listed] == [
        *[(1 + n, str(n)) for n in range(3)],
        *[(6 + n, f"b{n}") for n in range(4)],
    ]


async def test_position_taken_mid_batch_moves_the_whole_batch(
    store: MongoStore, raw: AsyncDatabase[Document]
) -> None:
    """A batch that collides half-way is taken back and stored whole at free positions."""
    await store.append_messages("s1", [new_message("1"), new_message("2")], NOW)
    stray = new_message("stray").stored_at(5)
    await raw["messages"].insert_one(message_document("s1", stray))
    batch = [new_message(f"b{n}") for n in range(4)]  # reserved 3..6: 5 is taken
    stored = (await store.append_messages("s1", batch, NOW)).messages
    assert [m.sequence for m in stored] == [7, 8, 9, 10]
    listed = await stored_messages(store, "s1")
    assert [(m.sequence, m.content) for m in listed] == [
        (1, "1"),
        (2, "2"),
        (5, "stray"),
        *[(7 + n, f"b{n}") for n in range(4)],
    ]


async def test_retry_after_a_crash_half_way_stores_each_message_once(
    store: MongoStore, raw: AsyncDatabase[Document]
) -> None:
    """A process died after reserving 4 positions and inserting 2 messages: the retried
    batch keeps those 2, adds the others once, and answers in the order given."""
    batch = [new_message(f"m{n}") for n in range(4)]
    await raw["sessions"].insert_one(
        {
            "_id": "s1",
            "user_id": None,
            "metadata": {},
            "created_us": 0,
            "updated_us": 0,
            "message_count": 0,
            "token_count": 0,
            "last_sequence": 4,
        }
    )
    await raw["messages"].insert_many(
        [message_document("s1", message.stored_at(n + 1)) for n, message in enumerate(batch[:2])]
    )
    result = await store.append_messages("s1", batch, NOW)
    stored = result.messages
    assert result.added == 2  # the first two were stored by the crashed append
    assert [m.uuid for m in stored] == [m.uuid for m in batch]
    assert [m.sequence for m in stored] == [1, 2, 5, 6]
    listed = await stored_messages(store, "s1")
    assert [m.uuid for m in listed] == [m.uuid for m in batch]
    assert await store.append_messages("s1", batch, NOW) == AppendResult(stored, 0)


async def test_racing_processes_keep_every_batch_whole(stores: list[MongoStore]) -> None:
    """Appends from several processes at once (on FerretDB their $inc is not atomic):
    every message is stored once, in increasing positions, each batch contiguous."""
    batches = [[new_message(f"{b}:{i}") for i in range(5)] for b in range(40)]
    results = await asyncio.gather(
        *(
            stores[number % len(stores)].append_messages("s1", batch, NOW)
            for number, batch in enumerate(batches)
        )
    )
    listed = await stored_messages(stores[0], "s1")
    assert sorted(m.content for m in listed) == sorted(m.content for b in batches for m in b)
    sequences = [m.sequence for m in listed]
    assert sequences == sorted(set(sequences))
    by_uuid = {m.uuid: m for m in listed}
    for batch, result in zip(batches, results, strict=True):
        assert result.added == 5
        assert [m.uuid for m in result.messages] == [m.uuid for m in batch]
        assert result.messages == [by_uuid[m.uuid] for m in batch]
        first = result.messages[0].sequence
        assert [m.sequence for m in result.messages] == list(range(first, first + 5))


async def test_same_batch_from_two_processes_is_stored_once(stores: list[MongoStore]) -> None:
    """A client retrying through another replica while the first call still runs."""
    for round_ in range(5):
        session_id = f"s{round_}"
        batch = [new_message(f"m{n}") for n in range(20)]
        first, second = await asyncio.gather(
            stores[0].append_messages(session_id, batch, NOW),
            stores[1].append_messages(session_id, batch, NOW),
        )
        listed = await stored_messages(stores[0], session_id)
        assert sorted(m.uuid for m in listed) == sorted(m.uuid for m in batch)
        by_uuid = {m.uuid: m for m in listed}
        assert first.messages == second.messages == [by_uuid[m.uuid] for m in batch]
        # Each message counted as added by exactly one of the two.
        assert first.added + second.added == len(batch)


async def test_append_cancelled_by_its_caller_still_completes(store: MongoStore) -> None:
    """A client's deadline does not stop a write half-way, as a crash would."""
    batch = [new_message(f"m{n}") for n in range(50)]
    call = asyncio.create_task(store.append_messages("s1", batch, NOW))
    for _ in range(3):  # into its first round trip to the database
        await asyncio.sleep(0)
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    deadline = asyncio.get_running_loop().time() + 5
    while len(await stored_messages(store, "s1")) < len(batch):
        assert asyncio.get_running_loop().time() < deadline, "the append did not finish"
        await asyncio.sleep(0.02)
    assert [m.uuid for m in await stored_messages(store, "s1")] == [m.uuid for m in batch]
    session = await store.get_session("s1")
    assert session is not None and session.message_count == len(batch)
