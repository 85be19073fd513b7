"""A session lease is written when taken, again only once a third of its time is gone,
and given back after lingering a little."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from server.domain.session_leases import SessionLease


class _Leases:
    """The store's side: who holds each session's lease, and every write made."""

    def __init__(self) -> None:
        self.holders: dict[str, tuple[str, datetime]] = {}
        self.writes = 0

    async def acquire(self, session_id: str, owner: str, now: datetime, until: datetime) -> bool:
        held = self.holders.get(session_id)
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self.writes += 1
        self.holders[session_id] = (owner, until)
        return True

    async def release(self, session_id: str, owner: str) -> None:
        if self.holders.get(session_id, ("", None))[0] == owner:
            del self.holders[session_id]


def test_a_lease_is_renewed_in_the_store_only_when_a_third_of_it_is_gone() -> None:
    async def scenario() -> None:
        leases = _Leases()
        now = datetime(2026, 1, 1, tzinfo=UTC)
        lease = SessionLease(leases.acquire, leases.release, seconds=60, clock=lambda: now)

        assert await lease.take("s")
        assert leases.writes == 1
        now += timedelta(seconds=19)
        assert await lease.take("s")  # most of its time left: not written again
        assert leases.writes == 1
        now += timedelta(seconds=2)
        assert await lease.take("s")  # 21 s of 60 gone: renewed
        assert leases.writes == 2
        assert leases.holders["s"][1] == now + timedelta(seconds=60)

        await lease.give_back("s")
        assert "s" not in leases.holders
        assert await lease.take("s")  # given back, so taken afresh
        assert leases.writes == 3

    asyncio.run(scenario())


def test_a_lease_taken_by_another_process_is_not_reported_held() -> None:
    async def scenario() -> None:
        leases = _Leases()
        now = datetime(2026, 1, 1, tzinfo=UTC)
        ours = SessionLease(leases.acquire, leases.release, seconds=60, clock=lambda: now)
        theirs = SessionLease(leases.acquire, leases.release, seconds=60, clock=lambda: now)

        assert await ours.take("s")
        assert not await theirs.take("s")
        now += timedelta(seconds=61)  # ours expired without a renewal: theirs now
        assert await theirs.take("s")
        assert not await ours.take("s")
        now += timedelta(seconds=1)
        assert not await ours.take("s")  # refused, so asked again rather than assumed

    asyncio.run(scenario())


def test_a_lease_given_back_lingers_and_is_taken_again_without_a_write() -> None:
    async def scenario() -> None:
        leases = _Leases()
        now = datetime(2026, 1, 1, tzinfo=UTC)
        ours = SessionLease(
            leases.acquire, leases.release, seconds=60, clock=lambda: now, linger=0.05
        )
        theirs = SessionLease(leases.acquire, leases.release, seconds=60, clock=lambda: now)

        assert await ours.take("s")
        await ours.give_back("s")
        assert leases.holders["s"][0] == ours.owner  # still held, for a while
        assert not await theirs.take("s")
        assert await ours.take("s")  # taken again while lingering: no write
        assert leases.writes == 1

        await ours.give_back("s")
        await asyncio.sleep(0.1)  # the linger is over: released
        assert "s" not in leases.holders
        assert await theirs.take("s")

        assert await ours.take("t")
        await ours.give_back("t")
        await ours.close()  # releases what lingers, at once
        assert "t" not in leases.holders

    asyncio.run(scenario())
