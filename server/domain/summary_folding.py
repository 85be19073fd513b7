"""Folding a session's oldest messages into its rolling summary.

``new summary = summarize(previous summary, evicted messages)``, one chunk of
messages at a time, each chunk saved with a compare-and-set on the summary's
version (``Store.save_summary``) so that concurrent folders never store two
conflicting summaries: a writer that loses discards its work and starts over
from the summary that won.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.bounded_reads import read_span
from server.domain.clock import Clock, utc_now
from server.domain.models import Message, Summary
from server.domain.ports.store import Store
from server.domain.ports.summarizer import Summarizer
from server.domain.ports.token_counter import TokenCounter

__all__ = ["Fold", "FoldPlan", "SummaryFolder"]


@dataclass(frozen=True, slots=True)
class FoldPlan:
    """What a fold of one session has to do: cover every message up to ``through``.
    ``pending`` holds the first messages after the summary, as read when planning:
    the next chunk starts with them instead of reading them again."""

    previous: Summary | None
    through: int
    pending: tuple[Message, ...] = ()

    @property
    def covered(self) -> int:
        return 0 if self.previous is None else self.previous.last_message_sequence

    def rest(self, saved: Summary, unfolded: Sequence[Message] = ()) -> FoldPlan | None:
        """What is left of this plan once ``saved`` is stored (messages are only
        appended, so ``through`` stays due); None when nothing is. ``unfolded``: the
        messages read after the saved chunk, the next chunk's first ones."""
        done = saved.last_message_sequence
        if done >= self.through:
            return None
        return FoldPlan(saved, self.through, tuple(m for m in unfolded if m.sequence > done))


@dataclass(frozen=True, slots=True)
class Fold:
    """One saved chunk: the new summary and what is left of the plan (None: nothing)."""

    summary: Summary
    rest: FoldPlan | None


class SummaryFolder:
    """Plans and performs folds; stateless, safe to share between tasks."""

    # A long backlog (an imported history) is read a page at a time, each page
    # folded over several chunks: at most this many messages, and of contents up to
    # _READ_BYTES (``read_span``).
    _READ_PAGE = 5000
    _READ_BYTES = 2 * 1024 * 1024
    _LOOK_AHEAD_MAX = 500

    def __init__(
        self,
        store: Store,
        summarizer: Summarizer,
        tokens: TokenCounter,
        *,
        window: int,
        chunk_tokens: int,
        clock: Clock = utc_now,
    ) -> None:
        self._store = store
        self._summarizer = summarizer
        self._tokens = tokens
        self._window = window
        self._keep = window // 2
        # Messages a check reads after the summary: enough for the usual backlog to be
        # planned and folded without another read. That is a window and a few more
        # for a conversation; a busy session, folded at most every ``fold_interval``,
        # gathers ~2.5 windows (32 sessions appended to 2,000 times a second).
        self._look_ahead = min(4 * window, self._LOOK_AHEAD_MAX)
        self._chunk_tokens = chunk_tokens
        self._clock = clock

    @property
    def summarizer_name(self) -> str:
        return self._summarizer.name

    async def plan(self, session_id: str) -> FoldPlan | None:
        """None when the session has at most a window of unsummarized messages
        (or no longer exists); otherwise the fold that leaves half a window."""
        _, plan = await self.check(session_id)
        return plan

    async def check(self, session_id: str) -> tuple[int, FoldPlan | None]:
        """The sequence the summary covers (0: none) and ``plan``'s answer."""
        previous = await self._store.get_summary(session_id)
        covered = 0 if previous is None else previous.last_message_sequence
        pending = await self._store.list_messages(
            session_id, after_sequence=covered, limit=self._look_ahead
        )
        if not pending:
            return covered, None
        last = pending[-1].sequence
        if len(pending) == self._look_ahead:  # more may follow
            newest = await self._store.recent_messages(session_id, 1)
            if not newest:
                return covered, None
            last = newest[0].sequence
        # Messages are only ever appended, and deleted all at once with the summary:
        # the unsummarized ones are exactly the sequences first..last.
        unsummarized = last - pending[0].sequence + 1
        if unsummarized <= self._window:
            return covered, None
        return covered, FoldPlan(previous, through=last - self._keep, pending=tuple(pending))

    async def fold_chunk(self, session_id: str, plan: FoldPlan) -> Fold | None:
        """Folds the next chunk of ``plan`` (as many messages as fit ``chunk_tokens``,
        at least one) into a new summary and saves it.

        Returns the saved summary with the rest of the plan, which keeps the messages
        read past the chunk (a long backlog is read a page at a time, not once per
        chunk); None when the save lost (another writer moved the summary, or the
        messages were deleted): re-plan and carry on.
        """
        chunk, unfolded = await self._next_chunk(session_id, plan)
        if not chunk:
            return None
        previous = plan.previous
        content = await self._summarizer.summarize(
            "" if previous is None else previous.content, chunk
        )
        [token_count] = await self._tokens.count([content])
        summary = Summary(
            uuid=str(uuid.uuid4()),
            content=content,
            token_count=token_count,
            last_message_uuid=chunk[-1].uuid,
            last_message_sequence=chunk[-1].sequence,
            created_at=self._clock(),
            version=1 if previous is None else previous.version + 1,
        )
        if await self._store.save_summary(session_id, summary):
            return Fold(summary, plan.rest(summary, unfolded))
        return None

    async def _next_chunk(
        self, session_id: str, plan: FoldPlan
    ) -> tuple[list[Message], Sequence[Message]]:
        """The chunk to fold, and the messages read after it."""
        chunk: list[Message] = []
        tokens = 0
        after = plan.covered
        page: Sequence[Message] = plan.pending
        while True:
            if not page:
                page = await self._page_after(session_id, after, plan.through)
                if not page:
                    return chunk, ()
            for index, message in enumerate(page):
                full = bool(chunk) and tokens + message.token_count > self._chunk_tokens
                if full or message.sequence > plan.through:
                    return chunk, page[index:]
                chunk.append(message)
                tokens += message.token_count
            after = page[-1].sequence
            page = ()

    async def _page_after(self, session_id: str, after: int, through: int) -> Sequence[Message]:
        page = await read_span(
            self._store,
            session_id,
            after=after,
            through=through,
            limit=self._READ_PAGE,
            max_bytes=self._READ_BYTES,
        )
        return page or ()
