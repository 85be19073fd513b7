"""The MongoDB adapter's per-session locks."""

from __future__ import annotations

import asyncio

from server.storage.mongo.locks import SessionLocks


async def test_locks_are_released_after_use() -> None:
    """The locks do not accumulate with the number of sessions."""
    locks = SessionLocks()

    async def write(session_id: str) -> None:
        async with locks.hold(session_id):
            await asyncio.sleep(0)

    await asyncio.gather(*(write(f"s{n}") for n in range(50)))
    assert len(locks) == 0


async def test_one_session_is_written_by_one_holder_at_a_time() -> None:
    locks = SessionLocks()
    inside: list[str] = []
    overlaps = 0

    async def write(session_id: str) -> None:
        nonlocal overlaps
        async with locks.hold(session_id):
            overlaps += session_id in inside
            inside.append(session_id)
            await asyncio.sleep(0.001)
            inside.remove(session_id)

    await asyncio.gather(*(write("s1") for _ in range(10)), *(write("s2") for _ in range(10)))
    assert overlaps == 0
