"""Use cases on the memory of a session: its messages and prompt-ready views."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence

from server.domain.append_listeners import AppendListener, AppendListeners, TenantListener
from server.domain.bulk_import import (
    IMPORT_WRITE_BATCH,
    IMPORT_WRITE_BYTES,
    ImportReport,
    import_messages,
)
from server.domain.clock import Clock, utc_now
from server.domain.errors import NotFound, Unavailable
from server.domain.follower_wakeups import AppendSignals
from server.domain.incarnations import SessionIncarnation
from server.domain.inputs import ImportBatch, MessageInput
from server.domain.message_acceptance import AcceptedMessage, accept_message, stamp_messages
from server.domain.metadata import keep_reserved
from server.domain.models import (
    JsonObject,
    Memory,
    MemoryType,
    Message,
    NewMessage,
    Page,
    Summary,
)
from server.domain.ports.store import Store
from server.domain.ports.token_counter import TokenCounter
from server.domain.response_budget import (
    RESPONSE_OVERHEAD,
    fit_newest,
    fit_oldest,
    message_bytes,
    summary_bytes,
)
from server.domain.streams import MessageBatch, StreamRequest, stream_messages
from server.domain.tenant_store import TenantStore
from server.domain.validation import Limits, Violations, check_session_id

__all__ = ["MAX_LASTN", "MemoryManager"]

MAX_LASTN = 1000
UPDATABLE_MESSAGE_FIELDS = {"metadata"}
# The most messages PERPETUAL memory returns after its summary: as many as lastn
# may ask for. More only while folding lags far behind (a huge import, a failing
# summarizer); no gapless answer of a prompt's size exists then.
MAX_UNSUMMARIZED = MAX_LASTN
SUMMARY_BEHIND = "SUMMARY_BEHIND"


class MemoryManager:
    def __init__(
        self,
        store: Store,
        tokens: TokenCounter,
        limits: Limits,
        window: int,
        clock: Clock = utc_now,
        listener: AppendListener | None = None,
        *,
        follow_poll_interval: float = 0.2,
        import_write_batch: int = IMPORT_WRITE_BATCH,
        import_write_bytes: int = IMPORT_WRITE_BYTES,
    ) -> None:
        self._store = store
        self._tokens = tokens
        self._limits = limits
        self._window = window
        self._clock = clock
        self._follow_poll_interval = follow_poll_interval
        self._import_write_batch = import_write_batch
        self._import_write_bytes = import_write_bytes
        self._signals = AppendSignals()
        # Followers first: waking them costs nothing, folding may schedule work.
        self._listener: AppendListener = (
            AppendListeners(self._signals, listener) if listener else self._signals
        )

    async def add(
        self,
        tenant: str,
        session_id: str,
        inputs: Sequence[MessageInput],
        *,
        echo_content: bool = False,
    ) -> list[Message]:
        """Appends messages (creating the session if needed); see ``Store.append_messages``.

        ``echo_content``: the caller will return the messages with their content and
        metadata, so the request is refused before anything is stored when that
        would exceed the response budget."""
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("session_id", session_id)
        if not inputs:
            check.add("messages", "must contain at least one message")
        elif len(inputs) > self._limits.max_messages_per_request:
            check.add(
                "messages",
                f"has {len(inputs)} messages, more than the limit of "
                f"{self._limits.max_messages_per_request} per request",
            )
        accepted: list[AcceptedMessage] = []
        first_index_of_uuid: dict[str, int] = {}
        for index, message in enumerate(inputs):
            path = f"messages[{index}]"
            item = accept_message(check, path, message, self._limits)
            if item is None:
                continue
            first = first_index_of_uuid.setdefault(item.uuid, index)
            if first != index:
                check.add(f"{path}.uuid", f"repeats the uuid of messages[{first}]")
            accepted.append(item)
        check.raise_if_any()

        now = self._clock()
        new_messages = await stamp_messages(accepted, self._tokens, now)
        if echo_content:
            self._check_echo_fits(new_messages)
        result = await store.append_messages(session_id, new_messages, now)
        if result.added:
            last = max(m.sequence for m in result.messages)
            TenantListener(self._listener, tenant).appended(session_id, last)
        return result.messages

    def _check_echo_fits(self, messages: Sequence[NewMessage]) -> None:
        size = RESPONSE_OVERHEAD + sum(message_bytes(m.stored_at(0)) for m in messages)
        if size > self._limits.max_response_bytes:
            check = Violations()
            check.add(
                "view",
                f"MESSAGE_VIEW_FULL would return about {size} bytes, more than the response"
                f" limit of {self._limits.max_response_bytes}; use MESSAGE_VIEW_BASIC",
            )
            check.raise_if_any()

    def stream_messages(self, tenant: str, request: StreamRequest) -> AsyncIterator[MessageBatch]:
        """The session's messages after a cursor, in batches; see ``stream_messages``."""
        store = TenantStore(self._store, tenant)
        return stream_messages(
            store,
            self._signals,
            self._follow_poll_interval,
            request,
            budget=self._limits.max_response_bytes,
            wakeup_key=store.key(request.session_id),
        )

    async def import_messages(
        self, tenant: str, batches: AsyncIterable[ImportBatch]
    ) -> ImportReport:
        """Bulk import into one session; see ``import_messages``."""
        store = TenantStore(self._store, tenant)
        return await import_messages(
            batches,
            store=store,
            tokens=self._tokens,
            limits=self._limits,
            clock=self._clock,
            listener=TenantListener(self._listener, tenant),
            write_batch=self._import_write_batch,
            write_bytes=self._import_write_bytes,
        )

    def stop_following(self) -> None:
        """Ends every follow stream with UNAVAILABLE (and its resume cursor): shutdown."""
        self._signals.close()

    async def get(self, tenant: str, session_id: str, memory_type: str, lastn: int) -> Memory:
        """The last ``lastn`` messages (0: the configured window), oldest first.

        PERPETUAL memory is the latest summary and every message after the last one
        it covers (every message while no summary exists), so that no message is left
        out; ``lastn`` does not apply to it. It never waits for a fold in progress.
        """
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("session_id", session_id)
        kind = check.memory_type("memory_type", memory_type)
        if lastn < 0 or lastn > MAX_LASTN:
            check.add("lastn", f"must be between 0 and {MAX_LASTN}, got {lastn}")
        check.raise_if_any()
        if kind is MemoryType.PERPETUAL:
            return await self._perpetual(store, session_id, await store.get_summary(session_id))
        messages = await store.recent_messages(session_id, lastn or self._window)
        if messages is None:
            raise NotFound("session", session_id)
        return self._memory(messages, summary=None)

    async def _perpetual(
        self, store: TenantStore, session_id: str, summary: Summary | None
    ) -> Memory:
        """The summary (if any) and all the messages after it. Once folding has caught
        up these are at most a window; while it lags (or before a first summary could
        be made) they are all returned anyway, never truncated, so never a gap: up to
        ``MAX_UNSUMMARIZED`` of them. Beyond that the call fails with ``Unavailable``
        (reason ``SUMMARY_BEHIND``) rather than answer with a response of unbounded
        size."""
        covered = 0 if summary is None else summary.last_message_sequence
        messages = await store.list_messages(
            session_id, after_sequence=covered, limit=MAX_UNSUMMARIZED + 1
        )
        if messages is None:
            raise NotFound("session", session_id)
        if len(messages) > MAX_UNSUMMARIZED:
            raise _summary_behind(session_id, covered)
        return self._memory(messages, summary)

    def _memory(self, messages: list[Message], summary: Summary | None) -> Memory:
        """The newest of ``messages`` that fit the response budget beside the summary;
        how many were left out is said, never silent."""
        budget = self._limits.max_response_bytes
        if summary is not None:
            budget -= summary_bytes(summary)
        fitted = fit_newest(messages, message_bytes, budget)
        token_count = sum(m.token_count for m in fitted.items)
        if summary is not None:
            token_count += summary.token_count
        return Memory(fitted.items, summary, token_count, omitted=fitted.omitted)

    async def delete(self, tenant: str, session_id: str) -> None:
        store = TenantStore(self._store, tenant)
        check_session_id(session_id)
        if not await store.delete_messages(session_id, self._clock()):
            raise NotFound("session", session_id)

    async def list_messages(
        self, tenant: str, session_id: str, page_size: int, page_token: str
    ) -> Page[Message]:
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("session_id", session_id)
        limit = check.page_size("page_size", page_size, self._limits)
        check.raise_if_any()
        session = await store.get_session(session_id)
        if session is None:
            raise NotFound("session", session_id)
        # A token belongs to this incarnation of the session: after a delete it is refused.
        incarnation = SessionIncarnation.of(session)
        after = incarnation.position_of(page_token, field="page_token") if page_token else 0
        messages = await store.list_messages(session_id, after_sequence=after, limit=limit + 1)
        if messages is None:
            raise NotFound("session", session_id)
        page = fit_oldest(messages[:limit], message_bytes, self._limits.max_response_bytes)
        next_token = ""
        if len(messages) > limit or page.omitted:
            next_token = incarnation.token_at(page.items[-1].sequence)
        return Page(page.items, next_token)

    async def get_message(self, tenant: str, session_id: str, message_uuid: str) -> Message:
        store = TenantStore(self._store, tenant)
        canonical_uuid = self._check_message_ref(session_id, message_uuid)
        message = await store.get_message(session_id, canonical_uuid)
        if message is None:
            raise NotFound("message", message_uuid)
        return message

    async def update_message(
        self,
        tenant: str,
        session_id: str,
        message_uuid: str,
        fields: list[str],
        metadata: JsonObject,
    ) -> Message:
        store = TenantStore(self._store, tenant)
        check = Violations()
        check.identifier("session_id", session_id)
        canonical_uuid = check.uuid("uuid", message_uuid)
        check.update_mask("update_mask", fields, UPDATABLE_MESSAGE_FIELDS)
        check.metadata("metadata", metadata, self._limits)
        check.raise_if_any()
        current = await self.get_message(tenant, session_id, canonical_uuid)
        updated = await store.replace_message_metadata(
            session_id, canonical_uuid, keep_reserved(current.metadata, metadata)
        )
        if updated is None:
            raise NotFound("message", message_uuid)
        return updated

    @staticmethod
    def _check_message_ref(session_id: str, message_uuid: str) -> str:
        check = Violations()
        check.identifier("session_id", session_id)
        canonical_uuid = check.uuid("uuid", message_uuid)
        check.raise_if_any()
        return canonical_uuid


def _summary_behind(session_id: str, covered: int) -> Unavailable:
    coverage = (
        f"the summary covers sequences 1 to {covered}" if covered else "no summary exists yet"
    )
    error = Unavailable(
        f"more than {MAX_UNSUMMARIZED} messages of session {session_id!r} await"
        f" summarization ({coverage}); retry later, or read MESSAGE_WINDOW"
        " memory or StreamMessages meanwhile"
    )
    error.reason = SUMMARY_BEHIND
    error.facts = {
        "session_id": session_id,
        "summarized_through": str(covered),
        "max_unsummarized": str(MAX_UNSUMMARIZED),
    }
    return error
