"""The namespaces of a client: ``client.memory``, ``client.session``, ``client.user``.

Each asyncio method is written once, named ``a…`` (the seed's ``aget_memory``): the
sync client offers it beside its blocking twin, and the asyncio client under both names
(``await client.memory.get_memory(…)`` or ``aget_memory``)."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Unpack

from memoria_client import _ops
from memoria_client._ops import UNSET, Unset
from memoria_client._transport import AsyncTransport, SyncTransport
from memoria_client.errors import InvalidArgumentError
from memoria_client.models import (
    ImportResult,
    Memory,
    MemoryType,
    Message,
    SearchResults,
    Session,
    User,
)

__all__ = [
    "AsyncMemoryResource",
    "AsyncMessageStream",
    "AsyncSessionResource",
    "AsyncUserResource",
    "MemoryResource",
    "MessageStream",
    "SessionResource",
    "UserResource",
]

DEFAULT_PAGE_SIZE = 100
DEFAULT_IMPORT_BATCH = 500


class MessageStream(Iterator[Message]):
    """The messages of a session in order, from ``stream_messages``. A dropped
    connection (e.g. a server restart) is resumed after the last message handed out, so
    nothing is skipped or repeated. ``last_sequence`` is that position: pass it as
    ``after=`` to continue later. Close it (or use ``with``) to end a follow stream."""

    def __init__(self, transport: SyncTransport, cursor: _ops.StreamCursor) -> None:
        self._cursor = cursor
        self._messages = transport.stream(cursor)

    @property
    def last_sequence(self) -> int:
        """Sequence of the last message handed out (or of the starting point)."""
        return self._cursor.after_sequence

    @property
    def caught_up(self) -> bool:
        """Whether the messages handed out reach the end of the stored history (as of the
        server's last read)."""
        return self._cursor.caught_up

    def __next__(self) -> Message:
        return next(self._messages)

    def close(self) -> None:
        """Cancels the stream."""
        self._messages.close()

    def __enter__(self) -> MessageStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncMessageStream(AsyncIterator[Message]):
    """The asyncio twin of ``MessageStream``: ``async for message in stream``."""

    def __init__(self, transport: AsyncTransport, cursor: _ops.StreamCursor) -> None:
        self._cursor = cursor
        self._messages = transport.stream(cursor)

    @property
    def last_sequence(self) -> int:
        """Sequence of the last message handed out (or of the starting point)."""
        return self._cursor.after_sequence

    @property
    def caught_up(self) -> bool:
        """Whether the messages handed out reach the end of the stored history."""
        return self._cursor.caught_up

    async def __anext__(self) -> Message:
        return await anext(self._messages)

    async def aclose(self) -> None:
        """Cancels the stream."""
        await self._messages.aclose()

    async def __aenter__(self) -> AsyncMessageStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class _AsyncMemoryMethods:
    _aio: AsyncTransport

    async def aadd_memory(
        self, session_id: str, memory: Memory | Iterable[Message]
    ) -> list[Message]:
        """Appends messages to a session, in order, creating the session if needed.
        Returns them as stored (uuid, token_count, created_at, sequence). Messages without
        a uuid get one first (set on the objects given), so a retry stores nothing twice."""
        return await self._aio.call(_ops.add_memory(session_id, memory))

    async def aget_memory(
        self,
        session_id: str,
        memory_type: MemoryType = "message_window",
        lastn: int | None = None,
    ) -> Memory:
        """The memory of a session, ready for a prompt: ``"message_window"``, the last
        ``lastn`` messages (default: the server's window); ``"perpetual"``, the rolling
        summary plus every message after it. Raises ``NotFoundError`` for an unknown
        session, ``SummaryBehindError`` while perpetual memory lags far behind."""
        return await self._aio.call(_ops.get_memory(session_id, memory_type, lastn))

    async def asearch_memory(
        self,
        session_id: str | None = None,
        query: str = "",
        *,
        user_id: str | None = None,
        **options: Unpack[_ops.SearchOptions],
    ) -> SearchResults:
        """Searches one session, or (``user_id``) every session of a user; see
        ``search_memory``."""
        return await self._aio.call(_ops.search_memory(query, session_id, user_id, options))

    async def adelete_memory(self, session_id: str) -> None:
        """Deletes every message and summary of a session for good; the session stays."""
        await self._aio.call(_ops.delete_memory(session_id))

    def alist_messages(
        self, session_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Message]:
        """Every message of a session, oldest first, fetched ``page_size`` at a time."""
        return self._aio.pages(_ops.list_messages(session_id, page_size))

    async def aget_message(self, session_id: str, uuid: str) -> Message:
        """One message of a session, by uuid."""
        return await self._aio.call(_ops.get_message(session_id, uuid))

    async def aupdate_message(
        self, session_id: str, uuid: str, *, metadata: Mapping[str, Any]
    ) -> Message:
        """Replaces the metadata of a message (the server's ``"system"`` key is kept)."""
        return await self._aio.call(_ops.update_message(session_id, uuid, metadata))

    def astream_messages(
        self,
        session_id: str,
        *,
        after: int | str | None = None,
        follow: bool = False,
        batch_size: int = 0,
    ) -> AsyncMessageStream:
        """The messages of a session in order, as an async iterator, from the start or
        ``after`` a sequence (``int``) or a message uuid (``str``). With ``follow`` it
        then waits for new messages until closed. Resumes by itself after a dropped
        connection."""
        cursor = _ops.stream_cursor(session_id, after, follow, batch_size)
        return AsyncMessageStream(self._aio, cursor)

    async def aimport_messages(
        self,
        session_id: str,
        messages: Iterable[Message] | AsyncIterable[Message],
        *,
        batch_size: int = DEFAULT_IMPORT_BATCH,
    ) -> ImportResult:
        """Appends a long history (any iterable, or async iterable, of messages, e.g. with
        their original ``created_at``) through ImportMessages, ``batch_size`` messages a
        request. Idempotent: messages whose uuid is stored already count as duplicates,
        so an interrupted import can simply be run again."""
        batcher = _ops.ImportBatcher(session_id, batch_size)
        if isinstance(messages, AsyncIterable):
            async for message in messages:
                await self._aimport(batcher, batcher.add(message))
        else:
            for message in messages:
                await self._aimport(batcher, batcher.add(message))
        await self._aimport(batcher, batcher.flush())
        return batcher.result

    async def _aimport(
        self, batcher: _ops.ImportBatcher, call: _ops.Call[ImportResult] | None
    ) -> None:
        if call is None:
            return
        try:
            batcher.record(await self._aio.call(call))
        except InvalidArgumentError as error:
            raise batcher.rebase(error) from error.__cause__


class AsyncMemoryResource(_AsyncMemoryMethods):
    """``client.memory`` of ``AsyncMemoriaClient``: MemoryService, awaitable."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._aio = transport

    add_memory = _AsyncMemoryMethods.aadd_memory
    get_memory = _AsyncMemoryMethods.aget_memory
    delete_memory = _AsyncMemoryMethods.adelete_memory
    list_messages = _AsyncMemoryMethods.alist_messages
    get_message = _AsyncMemoryMethods.aget_message
    update_message = _AsyncMemoryMethods.aupdate_message
    stream_messages = _AsyncMemoryMethods.astream_messages
    import_messages = _AsyncMemoryMethods.aimport_messages


class MemoryResource(_AsyncMemoryMethods):
    """``client.memory`` of ``MemoriaClient``: MemoryService, blocking, with the
    awaitable ``a…`` twins."""

    def __init__(self, transport: SyncTransport, aio: AsyncTransport) -> None:
        self._sync = transport
        self._aio = aio

    def add_memory(self, session_id: str, memory: Memory | Iterable[Message]) -> list[Message]:
        """Appends messages to a session, in order, creating the session if needed.
        Returns them as stored (uuid, token_count, created_at, sequence). Messages without
        a uuid get one first (set on the objects given), so a retry stores nothing twice."""
        return self._sync.call(_ops.add_memory(session_id, memory))

    def get_memory(
        self,
        session_id: str,
        memory_type: MemoryType = "message_window",
        lastn: int | None = None,
    ) -> Memory:
        """The memory of a session, ready for a prompt: ``"message_window"``, the last
        ``lastn`` messages (default: the server's window); ``"perpetual"``, the rolling
        summary plus every message after it. Raises ``NotFoundError`` for an unknown
        session, ``SummaryBehindError`` while perpetual memory lags far behind."""
        return self._sync.call(_ops.get_memory(session_id, memory_type, lastn))

    def search_memory(
        self,
        session_id: str | None = None,
        query: str = "",
        *,
        user_id: str | None = None,
        **options: Unpack[_ops.SearchOptions],
    ) -> SearchResults:
        """The messages of a session (or, with ``user_id`` instead, of all a user's
        sessions) that best match ``query``, best first. ``search_type``: ``"keyword"``,
        ``"semantic"`` or ``"hybrid"`` (default: hybrid, or keyword on a server without
        an embedder); ``target``: ``"messages"``, ``"summaries"`` or ``"all"``; filters:
        ``role_types``, ``metadata`` (a mapping of dotted paths to the values they must
        equal, or a list of ``MetadataCondition``), ``created_after`` (inclusive) and
        ``created_before`` (exclusive); ``mmr_lambda`` (0 to 1) diversifies; ``limit``
        1 to 100 (default 10). Raises ``NotFoundError`` for an unknown session or user."""
        return self._sync.call(_ops.search_memory(query, session_id, user_id, options))

    def delete_memory(self, session_id: str) -> None:
        """Deletes every message and summary of a session for good; the session stays."""
        self._sync.call(_ops.delete_memory(session_id))

    def list_messages(
        self, session_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Message]:
        """Every message of a session, oldest first, fetched ``page_size`` at a time."""
        return self._sync.pages(_ops.list_messages(session_id, page_size))

    def get_message(self, session_id: str, uuid: str) -> Message:
        """One message of a session, by uuid."""
        return self._sync.call(_ops.get_message(session_id, uuid))

    def update_message(self, session_id: str, uuid: str, *, metadata: Mapping[str, Any]) -> Message:
        """Replaces the metadata of a message (the server's ``"system"`` key is kept)."""
        return self._sync.call(_ops.update_message(session_id, uuid, metadata))

    def stream_messages(
        self,
        session_id: str,
        *,
        after: int | str | None = None,
        follow: bool = False,
        batch_size: int = 0,
    ) -> MessageStream:
        """The messages of a session in order, as an iterator, from the start or
        ``after`` a sequence (``int``) or a message uuid (``str``). With ``follow`` it
        then waits for new messages until closed. Resumes by itself after a dropped
        connection."""
        cursor = _ops.stream_cursor(session_id, after, follow, batch_size)
        return MessageStream(self._sync, cursor)

    def import_messages(
        self,
        session_id: str,
        messages: Iterable[Message],
        *,
        batch_size: int = DEFAULT_IMPORT_BATCH,
    ) -> ImportResult:
        """Appends a long history (any iterable of messages, e.g. with their original
        ``created_at``) through ImportMessages, ``batch_size`` messages a request.
        Idempotent: messages whose uuid is stored already count as duplicates, so an
        interrupted import can simply be run again."""
        batcher = _ops.ImportBatcher(session_id, batch_size)
        for message in messages:
            self._import(batcher, batcher.add(message))
        self._import(batcher, batcher.flush())
        return batcher.result

    def _import(self, batcher: _ops.ImportBatcher, call: _ops.Call[ImportResult] | None) -> None:
        if call is None:
            return
        try:
            batcher.record(self._sync.call(call))
        except InvalidArgumentError as error:
            raise batcher.rebase(error) from error.__cause__


class _AsyncSessionMethods:
    _aio: AsyncTransport

    async def acreate(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        """Creates a session. Raises ``AlreadyExistsError`` when the id is taken."""
        return await self._aio.call(_ops.create_session(session_id, user_id, metadata))

    async def aget(self, session_id: str) -> Session:
        """One session. Raises ``NotFoundError`` for an unknown id."""
        return await self._aio.call(_ops.get_session(session_id))

    async def aupdate(
        self,
        session_id: str,
        *,
        user_id: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
    ) -> Session:
        """Changes the fields given, and only those (``user_id=None`` clears the owner).
        Returns the session after the change."""
        return await self._aio.call(_ops.update_session(session_id, user_id, metadata))

    async def adelete(self, session_id: str) -> None:
        """Deletes a session with its messages and summaries, for good."""
        await self._aio.call(_ops.delete_session(session_id))

    def alist(
        self, *, user_id: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Session]:
        """Every session (of ``user_id`` when given), newest first."""
        return self._aio.pages(_ops.list_sessions(user_id, page_size))


class AsyncSessionResource(_AsyncSessionMethods):
    """``client.session`` of ``AsyncMemoriaClient``: SessionService, awaitable."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._aio = transport

    create = _AsyncSessionMethods.acreate
    get = _AsyncSessionMethods.aget
    update = _AsyncSessionMethods.aupdate
    delete = _AsyncSessionMethods.adelete
    list = _AsyncSessionMethods.alist


class SessionResource(_AsyncSessionMethods):
    """``client.session`` of ``MemoriaClient``: SessionService, blocking, with the
    awaitable ``a…`` twins."""

    def __init__(self, transport: SyncTransport, aio: AsyncTransport) -> None:
        self._sync = transport
        self._aio = aio

    def create(
        self,
        session_id: str,
        *,
        user_id: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Session:
        """Creates a session. Raises ``AlreadyExistsError`` when the id is taken."""
        return self._sync.call(_ops.create_session(session_id, user_id, metadata))

    def get(self, session_id: str) -> Session:
        """One session. Raises ``NotFoundError`` for an unknown id."""
        return self._sync.call(_ops.get_session(session_id))

    def update(
        self,
        session_id: str,
        *,
        user_id: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
    ) -> Session:
        """Changes the fields given, and only those (``user_id=None`` clears the owner).
        Returns the session after the change."""
        return self._sync.call(_ops.update_session(session_id, user_id, metadata))

    def delete(self, session_id: str) -> None:
        """Deletes a session with its messages and summaries, for good."""
        self._sync.call(_ops.delete_session(session_id))

    def list(
        self, *, user_id: str | None = None, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Session]:
        """Every session (of ``user_id`` when given), newest first."""
        return self._sync.pages(_ops.list_sessions(user_id, page_size))


class _AsyncUserMethods:
    _aio: AsyncTransport

    async def acreate(
        self,
        user_id: str,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> User:
        """Creates a user. Raises ``AlreadyExistsError`` when the id is taken."""
        call = _ops.create_user(user_id, email, first_name, last_name, metadata)
        return await self._aio.call(call)

    async def aget(self, user_id: str) -> User:
        """One user. Raises ``NotFoundError`` for an unknown id."""
        return await self._aio.call(_ops.get_user(user_id))

    async def aupdate(
        self,
        user_id: str,
        *,
        email: str | Unset | None = UNSET,
        first_name: str | Unset | None = UNSET,
        last_name: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
    ) -> User:
        """Changes the fields given, and only those (``None`` clears one). Returns the
        user after the change."""
        call = _ops.update_user(user_id, email, first_name, last_name, metadata)
        return await self._aio.call(call)

    async def adelete(self, user_id: str) -> int:
        """Deletes a user and every session it owns, for good; returns how many sessions
        went with it."""
        return await self._aio.call(_ops.delete_user(user_id))

    def alist(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[User]:
        """Every user, newest first."""
        return self._aio.pages(_ops.list_users(page_size))

    def alist_sessions(
        self, user_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[Session]:
        """The sessions a user owns, newest first. Raises ``NotFoundError`` for an unknown
        user."""
        return self._aio.pages(_ops.list_user_sessions(user_id, page_size))


class AsyncUserResource(_AsyncUserMethods):
    """``client.user`` of ``AsyncMemoriaClient``: UserService, awaitable."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._aio = transport

    create = _AsyncUserMethods.acreate
    get = _AsyncUserMethods.aget
    update = _AsyncUserMethods.aupdate
    delete = _AsyncUserMethods.adelete
    list = _AsyncUserMethods.alist
    list_sessions = _AsyncUserMethods.alist_sessions


class UserResource(_AsyncUserMethods):
    """``client.user`` of ``MemoriaClient``: UserService, blocking, with the awaitable
    ``a…`` twins."""

    def __init__(self, transport: SyncTransport, aio: AsyncTransport) -> None:
        self._sync = transport
        self._aio = aio

    def create(
        self,
        user_id: str,
        *,
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> User:
        """Creates a user. Raises ``AlreadyExistsError`` when the id is taken."""
        return self._sync.call(_ops.create_user(user_id, email, first_name, last_name, metadata))

    def get(self, user_id: str) -> User:
        """One user. Raises ``NotFoundError`` for an unknown id."""
        return self._sync.call(_ops.get_user(user_id))

    def update(
        self,
        user_id: str,
        *,
        email: str | Unset | None = UNSET,
        first_name: str | Unset | None = UNSET,
        last_name: str | Unset | None = UNSET,
        metadata: Mapping[str, Any] | Unset | None = UNSET,
    ) -> User:
        """Changes the fields given, and only those (``None`` clears one). Returns the
        user after the change."""
        return self._sync.call(_ops.update_user(user_id, email, first_name, last_name, metadata))

    def delete(self, user_id: str) -> int:
        """Deletes a user and every session it owns, for good; returns how many sessions
        went with it."""
        return self._sync.call(_ops.delete_user(user_id))

    def list(self, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[User]:
        """Every user, newest first."""
        return self._sync.pages(_ops.list_users(page_size))

    def list_sessions(
        self, user_id: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> Iterator[Session]:
        """The sessions a user owns, newest first. Raises ``NotFoundError`` for an unknown
        user."""
        return self._sync.pages(_ops.list_user_sessions(user_id, page_size))
