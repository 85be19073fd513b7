"""The storage port: what the domain needs from a database, and nothing more.

Every adapter implements ``Store`` and passes the one contract suite in
``tests/contract``. Records crossing the port are the dataclasses of
``server.domain.models``; adapters never return driver rows. Adapters raise
only errors of ``server.domain.errors``: ``Unavailable`` when the database
cannot be reached, ``AlreadyExists`` where stated below.

Unknown sessions and messages are reported by returning ``None`` (or ``False``),
never by raising: deciding that a missing record is an error is the domain's job.

Session and user ids given to a store are keys that carry their tenant
(``server.domain.tenancy``): a store keeps each session's and user's tenant,
``tenant_of(key)``, beside it, and its listings filter on it. The domain reaches
one tenant's data through ``TenantStore``, never with bare ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from server.domain.models import (
    AppendResult,
    JsonObject,
    Message,
    NewMessage,
    Session,
    SessionPatch,
    Summary,
    User,
    UserPatch,
)
from server.domain.search.records import (
    IndexState,
    MessageTerms,
    MessageVector,
    TermsHit,
    TermStatistics,
    VectorBatch,
)

__all__ = ["ListCursor", "MessageReader", "Store"]

# Position in a newest-first listing of sessions or users: (created_at, id) of
# the last one returned.
ListCursor = tuple[datetime, str]


class MessageReader(Protocol):
    """Reads one session's messages in order, a batch at a time (``Store.read_messages``).

    Holds at most what one ``read`` returns (plus, for a database cursor, the
    driver's current batch): a long history is never loaded whole.
    """

    async def read(self, limit: int) -> list[Message] | None:
        """Up to ``limit`` (> 0) messages following those read before, oldest first.

        Fewer than ``limit`` means the end was reached; a later ``read`` returns the
        messages stored since. None when the session does not exist (any more).
        """

    async def close(self) -> None:
        """Releases the reader's database resources; idempotent."""


class Store(Protocol):
    async def setup(self) -> None:
        """Creates or migrates the schema. Idempotent; safe to call from several processes."""

    async def close(self) -> None:
        """Releases connections. The store is unusable afterwards."""

    async def ping(self) -> None:
        """Returns when the database answers; raises ``Unavailable`` otherwise."""

    # Sessions

    async def create_session(self, session: Session) -> Session:
        """Stores a new session with no messages.

        Raises ``AlreadyExists`` when the id is taken.
        """

    async def get_session(self, session_id: str) -> Session | None:
        """Returns the session, or None when it does not exist."""

    async def update_session(
        self, session_id: str, patch: SessionPatch, now: datetime
    ) -> Session | None:
        """Applies the patch and sets ``updated_at``; None when the session does not exist."""

    async def delete_session(self, session_id: str) -> bool:
        """Deletes the session with all its messages, its summary and its summarization
        lease. False when it did not exist.

        Afterwards the id is free: a new session with it starts at sequence 1.
        """

    async def list_sessions(
        self, *, tenant: str, user_id: str | None, after: ListCursor | None, limit: int
    ) -> list[Session]:
        """The sessions of ``tenant``, newest first (``created_at`` then
        ``session_id``, both descending).

        ``user_id`` filters on the owner; ``after`` continues a listing after the
        cursor of the last session of the previous page.
        """

    # Users. A user owns the sessions whose ``user_id`` names it; deleting a user's
    # sessions is the domain's job (``delete_user`` deletes the user record only).

    async def create_user(self, user: User) -> User:
        """Stores a new user. Raises ``AlreadyExists`` when the id is taken."""

    async def get_user(self, user_id: str) -> User | None:
        """Returns the user, or None when it does not exist."""

    async def update_user(self, user_id: str, patch: UserPatch, now: datetime) -> User | None:
        """Applies the patch and sets ``updated_at``; None when the user does not exist."""

    async def delete_user(self, user_id: str) -> bool:
        """Deletes the user record. False when it did not exist."""

    async def list_users(self, *, tenant: str, after: ListCursor | None, limit: int) -> list[User]:
        """The users of ``tenant``, newest first (``created_at`` then ``user_id``,
        both descending), continuing after ``after`` when given."""

    # Messages

    async def append_messages(
        self, session_id: str, messages: Sequence[NewMessage], now: datetime
    ) -> AppendResult:
        """Appends messages to a session, creating the session when it does not exist.

        The uuids of ``messages`` are distinct (the caller ensures it). The new
        messages get consecutive sequences after the session's last one, in the
        order given, even when other appends to the same session run at the same
        time. A message whose uuid is already stored in the session is not stored
        again: the stored one is returned in its place. The result lists the
        messages in the order given and counts those this call stored
        (``AppendResult.added``; the rest are duplicates). The session's counters
        and ``updated_at`` are updated.

        Changed for ImportMessages (which reports duplicates): this returned the
        bare ``list[Message]`` before; that list is now ``AppendResult.messages``.
        """

    async def recent_messages(self, session_id: str, limit: int) -> list[Message] | None:
        """The last ``limit`` messages of the session, oldest first.

        None when the session does not exist. Its cost does not depend on the
        length of the history.
        """

    async def list_messages(
        self, session_id: str, *, after_sequence: int, limit: int
    ) -> list[Message] | None:
        """Up to ``limit`` messages with a sequence greater than ``after_sequence``,
        oldest first. None when the session does not exist."""

    def read_messages(
        self, session_id: str, *, after_sequence: int, batch_size: int
    ) -> MessageReader:
        """A reader of the messages with a sequence greater than ``after_sequence``.

        ``batch_size`` is the largest ``limit`` its reads will ask for: a database
        cursor may fetch that many messages at a time. Does no I/O until its first
        ``read``; the caller closes it.
        """

    async def get_message(self, session_id: str, uuid: str) -> Message | None:
        """The message, or None when the session or the message does not exist."""

    async def replace_message_metadata(
        self, session_id: str, uuid: str, metadata: JsonObject
    ) -> Message | None:
        """Replaces the metadata of one message; None when it does not exist."""

    async def delete_messages(self, session_id: str, now: datetime) -> bool:
        """Deletes every message and the summary of the session and zeroes its
        counters, keeping the session. Sequences keep increasing afterwards. False
        when the session does not exist."""

    # Summaries. Several server processes may fold the same session at once: the
    # lease keeps them from doing the same work twice, and the compare-and-set of
    # ``save_summary`` keeps them from ever storing two conflicting summaries.

    async def get_summary(self, session_id: str) -> Summary | None:
        """The session's latest summary; None when it has none or does not exist."""

    async def save_summary(self, session_id: str, summary: Summary) -> bool:
        """Stores ``summary`` as the session's latest summary, replacing the stored one,
        if and only if all of these hold at the moment of the write:

        - ``summary.version`` is one more than the stored summary's version, or 1
          when the session has no summary (compare-and-set on the version);
        - ``summary.last_message_sequence`` is greater than the stored summary's
          (the covered point only moves forward);
        - the session exists and still stores the message
          ``summary.last_message_uuid`` at ``summary.last_message_sequence`` (a
          summary of deleted messages is never stored).

        Otherwise stores nothing and returns False: another writer won, or the
        messages are gone; the caller discards its work. True when stored.
        """

    async def acquire_summary_lease(
        self, session_id: str, owner: str, now: datetime, expires_at: datetime
    ) -> bool:
        """Takes or renews the right to fold the session's summary, for ``owner``,
        until ``expires_at``.

        True when ``owner`` holds the lease afterwards: there was none, it had
        expired (its expiry is at or before ``now``), or ``owner`` held it already
        (renewal). False while another owner holds an unexpired lease. The session
        need not exist.
        """

    async def release_summary_lease(self, session_id: str, owner: str) -> None:
        """Ends ``owner``'s lease on the session; another owner's lease is left as is."""

    async def sessions_to_summarize(
        self, *, min_unsummarized: int, after: str | None, limit: int
    ) -> list[str]:
        """Ids of sessions that may have more than ``min_unsummarized`` messages after
        the last one their summary covers (all their messages when they have no
        summary), in ascending id order, starting after ``after``, at most ``limit``.

        Never leaves out such a session; may list a session that turns out not to
        need a fold (the caller checks). For the start-up scan that resumes work an
        earlier process left unfinished.
        """

    # Search. A session's messages are indexed in the background (domain.search.indexer):
    # first their analyzed terms, then their embeddings. Terms and embeddings belong to
    # their message (session, sequence and uuid): deleting messages deletes theirs. An
    # entry written by an indexer racing the deletion may outlive its message; hits
    # name the uuid, and the domain drops those whose message is gone. The lease that lets
    # one process index a session at a time is a summary lease under another key
    # (``domain.search.records.index_lease_key``).

    async def index_states(self, session_ids: Sequence[str]) -> list[IndexState]:
        """How far each existing session of ``session_ids`` is indexed (missing ones
        are left out), in the order given."""

    async def save_message_terms(
        self, session_id: str, terms: Sequence[MessageTerms], through: int
    ) -> None:
        """Stores the terms of each message still stored at its sequence with its
        uuid (others are skipped: deleted meanwhile), then moves the session's
        ``terms_through`` forward to ``through`` (never back) provided the session's
        last sequence has reached ``through``. Storing terms again is harmless."""

    async def save_message_vectors(
        self, session_id: str, vectors: Sequence[MessageVector], through: int
    ) -> None:
        """Like ``save_message_terms`` for embeddings (ascending by sequence, all
        after ``vectors_through``) and ``vectors_through``; embeddings stored at or
        after the first one's sequence are replaced. Only the holder of the
        session's index lease calls it."""

    async def sessions_to_index(
        self, *, with_vectors: bool, after: str | None, limit: int
    ) -> list[str]:
        """Ids of sessions with messages after ``terms_through`` (or, when
        ``with_vectors``, after ``vectors_through``), ascending, after ``after``, at
        most ``limit``: the start-up scan that resumes indexing."""

    async def keyword_candidates(
        self, session_ids: Sequence[str], terms: Sequence[str], limit: int
    ) -> list[TermsHit]:
        """Up to ``limit`` messages of those sessions whose stored terms include at
        least one of ``terms``, each with all its terms, in no particular order."""

    async def messages_at(self, positions: Mapping[str, Sequence[int]]) -> dict[str, list[Message]]:
        """For each session of ``positions``, its messages stored at the sequences given
        (those still stored), in no particular order; in one query where the store can
        (on FerretDB v1 each query scans the messages collection)."""

    async def term_statistics(self, session_ids: Sequence[str]) -> TermStatistics:
        """How many messages of those sessions have stored terms, and their total
        number of terms."""

    async def vectors_before(
        self, session_id: str, *, before_sequence: int, limit: int
    ) -> VectorBatch:
        """The stored embeddings of up to ``limit`` messages of the session with a
        sequence below ``before_sequence``, newest first, as one batch of arrays
        (fewer than ``limit`` only when no more are stored)."""
