"""ImportMessages: bulk ingest of a long history into one session, idempotent by uuid."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable
from dataclasses import dataclass
from datetime import datetime

from server.domain.append_listeners import AppendListener
from server.domain.clock import Clock
from server.domain.errors import InvalidArgument, MemoriaError
from server.domain.inputs import ImportBatch
from server.domain.message_acceptance import AcceptedMessage, accept_message, stamp_messages
from server.domain.models import NewMessage
from server.domain.ports.store import Store
from server.domain.ports.token_counter import TokenCounter
from server.domain.validation import Limits, Violations

__all__ = [
    "IMPORT_INCOMPLETE",
    "IMPORT_WRITE_BATCH",
    "IMPORT_WRITE_BYTES",
    "ImportReport",
    "import_messages",
]

# Messages per store append of an import, unless their contents reach
# IMPORT_WRITE_BYTES first. Large appends make a long import faster: at 1,000,000
# messages of ~200 bytes into SQLite, 19-22k msg/s with appends of 1,000, 25-27k
# with 5,000 and 10,000 (each append is a transaction, whose commit writes every
# page it dirtied, most of them random leaves of the uuid index). The bytes bound
# keeps an append of large messages (up to 1 MiB each) to a few MiB of memory.
IMPORT_WRITE_BATCH = 10_000
IMPORT_WRITE_BYTES = 8 * 1024 * 1024

# ErrorInfo reason of an import that ended early; its facts say what was committed.
IMPORT_INCOMPLETE = "IMPORT_INCOMPLETE"


@dataclass(frozen=True, slots=True)
class ImportReport:
    received: int
    stored: int
    duplicates: int
    last_sequence: int


async def import_messages(
    batches: AsyncIterable[ImportBatch],
    *,
    store: Store,
    tokens: TokenCounter,
    limits: Limits,
    clock: Clock,
    listener: AppendListener,
    write_batch: int,
    write_bytes: int,
) -> ImportReport:
    """Appends the messages of the stream in order, ``write_batch`` per store append,
    or fewer once their contents reach ``write_bytes``.

    One append is in flight at a time while the next batch is validated and its
    tokens counted. A malformed message (or a session id that changes) first lets
    every message before it be written, then raises ``InvalidArgument`` naming its
    position in the stream; any error raised here carries the ``IMPORT_INCOMPLETE``
    reason with the count of committed messages (the first ``committed`` of the
    stream are stored or were already), so a client can resume from there.
    """
    run = _Import(store, tokens, limits, clock, listener, write_batch, write_bytes)
    try:
        await run.consume(batches)
    except MemoriaError as error:
        raise run.annotated(error) from None
    finally:
        run.abandon()
    return ImportReport(run.received, run.stored, run.duplicates, run.last_sequence)


class _Import:
    def __init__(
        self,
        store: Store,
        tokens: TokenCounter,
        limits: Limits,
        clock: Clock,
        listener: AppendListener,
        write_batch: int,
        write_bytes: int,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._limits = limits
        self._clock = clock
        self._listener = listener
        self._write_batch = write_batch
        self._write_bytes = write_bytes
        self.session_id = ""
        self.received = 0  # messages of the stream accepted so far (valid ones)
        self.committed = 0  # the first `committed` messages are written
        self.stored = 0
        self.duplicates = 0
        self.last_sequence = 0
        self._pending: list[AcceptedMessage] = []
        self._pending_uuids: set[str] = set()
        self._pending_duplicates = 0
        self._pending_bytes = 0
        self._write: asyncio.Task[None] | None = None

    async def consume(self, batches: AsyncIterable[ImportBatch]) -> None:
        try:
            await self._consume(batches)
        except InvalidArgument:
            # Also a request the transport could not decode: what came before it stays.
            await self._settle()
            raise

    async def _consume(self, batches: AsyncIterable[ImportBatch]) -> None:
        number = 0
        async for batch in batches:
            await self._check_batch(number, batch)
            number += 1
            check = Violations()
            for message in batch.messages:
                accepted = accept_message(
                    check, f"messages[{self.received}]", message, self._limits
                )
                if accepted is None:
                    await self._settle()
                    check.raise_if_any()
                    continue  # unreachable: a rejected message always has a violation
                if accepted.uuid in self._pending_uuids:
                    self._pending_duplicates += 1  # repeats a message earlier in the stream
                else:
                    self._pending_uuids.add(accepted.uuid)
                    self._pending.append(accepted)
                    self._pending_bytes += _utf8_size(message.content)
                self.received += 1
                if (
                    len(self._pending) >= self._write_batch
                    or self._pending_bytes >= self._write_bytes
                ):
                    await self._flush()
        if number == 0:
            await self._check_batch(0, ImportBatch("", []))
        await self._settle()

    async def _check_batch(self, number: int, batch: ImportBatch) -> None:
        check = Violations()
        if number == 0:
            check.identifier("session_id", batch.session_id)
            self.session_id = batch.session_id
        elif batch.session_id and batch.session_id != self.session_id:
            check.add(
                "session_id",
                f"request {number} of the stream names another session than the first one",
            )
        if len(batch.messages) > self._limits.max_messages_per_request:
            check.add(
                "messages",
                f"request {number} has {len(batch.messages)} messages, more than the limit"
                f" of {self._limits.max_messages_per_request} per request",
            )
        if check.found:
            await self._settle()
            check.raise_if_any()

    async def _flush(self) -> None:
        """Counts the tokens of the pending messages, then starts their append once the
        previous one is done."""
        pending, duplicates, end = self._pending, self._pending_duplicates, self.received
        self._pending, self._pending_uuids, self._pending_duplicates = [], set(), 0
        self._pending_bytes = 0
        now = self._clock()
        messages = await stamp_messages(pending, self._tokens, now)
        await self._wait()
        self._write = asyncio.create_task(self._append(messages, duplicates, end, now))

    async def _append(
        self, messages: list[NewMessage], duplicates: int, end: int, now: datetime
    ) -> None:
        if messages:
            result = await self._store.append_messages(self.session_id, messages, now)
            self.stored += result.added
            duplicates += result.duplicates
            self.last_sequence = max(self.last_sequence, *(m.sequence for m in result.messages))
            if result.added:
                self._listener.appended(self.session_id, self.last_sequence, imported=True)
        self.duplicates += duplicates
        self.committed = end

    async def _wait(self) -> None:
        if self._write is not None:
            write, self._write = self._write, None
            await write

    async def _settle(self) -> None:
        """Writes everything accepted so far and waits for it."""
        await self._flush()
        await self._wait()

    def annotated(self, error: MemoriaError) -> MemoriaError:
        error.reason = IMPORT_INCOMPLETE
        error.facts = {
            "committed": str(self.committed),
            "stored": str(self.stored),
            "duplicates": str(self.duplicates),
        }
        error.add_note(
            f"the first {self.committed} messages of the stream are committed (stored now or"
            f" before); resend from messages[{self.committed}]"
        )
        return error

    def abandon(self) -> None:
        """On cancellation (the client went away), an append already handed to the
        store still completes there; only our wait for it ends."""
        if self._write is not None:
            self._write.cancel()


def _utf8_size(text: str) -> int:
    # Chat text is mostly ASCII, whose size needs no encoding (``isascii`` is O(1)).
    return len(text) if text.isascii() else len(text.encode())
