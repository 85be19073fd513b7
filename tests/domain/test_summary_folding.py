"""Perpetual memory's folding, in process: the folder and the background worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from server.domain.call_load import PATIENCE, QUIET, CallLoad
from server.domain.inputs import ImportBatch, MessageInput
from server.domain.memory import MemoryManager
from server.domain.models import Message
from server.domain.ports.store import MessageReader, Store
from server.domain.ports.summarizer import SummarizerError
from server.domain.summary_folding import SummaryFolder
from server.domain.summary_worker import SummaryWorker, WorkerSettings
from tests.domain.conftest import LIMITS, TENANT, WINDOW, WordCounter


class Concatenator:
    """Summarizes by listing what was said; fails its first ``failures`` calls."""

    name = "concatenator"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0

    async def summarize(self, previous: str, messages: Sequence[Message]) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise SummarizerError("model overloaded")
        return " ".join([previous, *(m.content for m in messages)]).strip()


def folder(store: Store, summarizer: Concatenator, chunk_tokens: int = 1000) -> SummaryFolder:
    return SummaryFolder(store, summarizer, WordCounter(), window=WINDOW, chunk_tokens=chunk_tokens)


def said(content: str) -> MessageInput:
    return MessageInput(role_type="user", content=content)


async def test_a_fold_leaves_half_a_window(store: Store, memory: MemoryManager) -> None:
    await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(1, 11)])
    fold = folder(store, Concatenator())
    plan = await fold.plan("s1")
    assert plan is not None and plan.through == 10 - WINDOW // 2
    folded = await fold.fold_chunk("s1", plan)
    assert folded is not None and folded.rest is None
    summary = folded.summary
    assert summary.content == "m1 m2 m3 m4 m5 m6 m7"
    assert (summary.version, summary.last_message_sequence) == (1, 7)
    assert await fold.plan("s1") is None  # 3 left, within the window


async def test_chunks_are_bounded_by_tokens(store: Store, memory: MemoryManager) -> None:
    await memory.add(TENANT, "s1", [said(f"word{n} word") for n in range(1, 21)])
    fold = folder(store, Concatenator(), chunk_tokens=6)
    plan = await fold.plan("s1")
    assert plan is not None
    folded = await fold.fold_chunk("s1", plan)
    assert folded is not None and folded.summary.last_message_sequence == 3  # 3 x 2 tokens


async def test_a_long_backlog_is_read_a_page_at_a_time_not_once_per_chunk(
    store: Store, memory: MemoryManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    for start in range(1, 601, 50):
        await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(start, start + 50)])
    pages: list[int] = []  # where each read of a page began
    read_messages = store.read_messages

    def read(session_id: str, *, after_sequence: int, batch_size: int) -> MessageReader:
        pages.append(after_sequence)
        return read_messages(session_id, after_sequence=after_sequence, batch_size=batch_size)

    monkeypatch.setattr(store, "read_messages", read)
    fold = folder(store, Concatenator(), chunk_tokens=10)
    plan = await fold.plan("s1")
    folds = 0
    while plan is not None:
        folded = await fold.fold_chunk("s1", plan)
        assert folded is not None
        folds, plan = folds + 1, folded.rest
    summary = await store.get_summary("s1")
    assert summary is not None and summary.last_message_sequence == 600 - WINDOW // 2
    assert summary.content == " ".join(f"m{n}" for n in range(1, 598))  # each once, in order
    assert folds == 60
    # After the plan's look-ahead (4 windows), one page for the rest.
    assert pages == [4 * WINDOW]


async def test_a_stale_plan_loses_and_stores_nothing(store: Store, memory: MemoryManager) -> None:
    await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(1, 11)])
    fold = folder(store, Concatenator())
    plan = await fold.plan("s1")
    assert plan is not None
    assert await fold.fold_chunk("s1", plan) is not None
    assert await fold.fold_chunk("s1", plan) is None  # the version moved on
    summary = await store.get_summary("s1")
    assert summary is not None and summary.version == 1


async def test_the_worker_retries_a_failing_summarizer_and_reports_health(store: Store) -> None:
    summarizer = Concatenator(failures=2)
    reports: list[bool] = []

    async def report(serving: bool) -> None:
        reports.append(serving)

    worker = SummaryWorker(
        store,
        folder(store, summarizer),
        WorkerSettings(retry_initial=0.01, retry_max=0.02, duty_cycle=1.0),
        window=WINDOW,
        report_health=report,
    )
    memory = MemoryManager(store, WordCounter(), LIMITS, WINDOW, listener=worker)
    await memory.add(TENANT, "s1", [said(f"m{n}") for n in range(1, 11)])
    for _ in range(200):  # saved, and the worker carried on to report its health
        if (summary := await store.get_summary("s1")) is not None and len(reports) == 2:
            break
        await asyncio.sleep(0.01)
    await worker.close()
    assert summary is not None and summary.last_message_sequence == 7
    assert summarizer.calls == 3
    assert reports == [False, True]
    perpetual = await memory.get(TENANT, "s1", "perpetual", 0)
    assert [m.sequence for m in perpetual.messages] == [8, 9, 10]


async def _caught_up(store: Store, session_id: str, last: int) -> int:
    """The sequence the summary covers once no fold is due (at most a window left)."""
    for _ in range(300):
        summary = await store.get_summary(session_id)
        if summary is not None and last - summary.last_message_sequence <= WINDOW:
            return summary.last_message_sequence
        await asyncio.sleep(0.01)
    raise AssertionError(f"{session_id} was not folded up to within a window of {last}")


async def test_appends_one_at_a_time_keep_folding_also_after_the_session_begins_again(
    store: Store,
) -> None:
    """The worker remembers each summary's coverage to skip appends that cannot need a
    fold; a session deleted and begun again (its sequences start over) is still folded."""
    worker = SummaryWorker(
        store, folder(store, Concatenator()), WorkerSettings(duty_cycle=1.0), window=WINDOW
    )
    memory = MemoryManager(store, WordCounter(), LIMITS, WINDOW, listener=worker)
    for number in range(1, 4 * WINDOW + 1):
        await memory.add(TENANT, "s1", [said(f"first life {number}")])
        await asyncio.sleep(0)  # let the worker's task run between appends
    covered = await _caught_up(store, "s1", 4 * WINDOW)
    assert covered > 2 * WINDOW
    assert await store.delete_session("s1")  # its next message is number 1 again
    for number in range(1, WINDOW + 3):
        await memory.add(TENANT, "s1", [said(f"second life {number}")])
    covered = await _caught_up(store, "s1", WINDOW + 2)
    await worker.close()
    summary = await store.get_summary("s1")
    assert summary is not None and summary.content.startswith("second life 1 ")
    assert "first life" not in summary.content


class GatedConcatenator(Concatenator):
    """A Concatenator whose first summary waits until ``gate`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def summarize(self, previous: str, messages: Sequence[Message]) -> str:
        if self.calls == 0:
            self.waiting.set()
            await self.gate.wait()
        return await super().summarize(previous, messages)


async def test_messages_appended_while_a_fold_runs_are_folded_after_it(store: Store) -> None:
    """The worker keeps the range of appends made while it folds, and looks again only
    if they may make another fold due: here they do, and they are folded too."""
    summarizer = GatedConcatenator()
    worker = SummaryWorker(
        store, folder(store, summarizer), WorkerSettings(duty_cycle=1.0), window=WINDOW
    )
    memory = MemoryManager(store, WordCounter(), LIMITS, WINDOW, listener=worker)
    for number in range(1, WINDOW + 2):
        await memory.add(TENANT, "s1", [said(f"message {number}")])
    await summarizer.waiting.wait()  # the first fold is under way, through WINDOW // 2 + 1
    for number in range(WINDOW + 2, 3 * WINDOW + 1):
        await memory.add(TENANT, "s1", [said(f"message {number}")])
    summarizer.gate.set()
    covered = await _caught_up(store, "s1", 3 * WINDOW)
    await worker.close()
    assert covered == 3 * WINDOW - WINDOW // 2
    summary = await store.get_summary("s1")
    assert summary is not None
    assert summary.content.split() == [
        word for n in range(1, covered + 1) for word in ("message", str(n))
    ]


async def _import_beside_a_conversation(store: Store, load: CallLoad) -> SummaryWorker:
    """Imports 40 messages into "archive" and appends two windows to "chat", one at a
    time; checks that the conversation is folded at once and, after a while, that the
    archive is not (yet). Returns the worker, running."""
    worker = SummaryWorker(
        store,
        folder(store, Concatenator()),
        WorkerSettings(duty_cycle=1.0),
        window=WINDOW,
        load=load,
    )
    memory = MemoryManager(store, WordCounter(), LIMITS, WINDOW, listener=worker)
    history = [MessageInput(role_type="user", content=f"old {n}") for n in range(1, 41)]
    try:
        await memory.import_messages(TENANT, _one_batch(ImportBatch("archive", history)))
        for number in range(1, 2 * WINDOW + 1):
            await memory.add(TENANT, "chat", [said(f"new {number}")])
        assert await _caught_up(store, "chat", 2 * WINDOW) == 2 * WINDOW - WINDOW // 2
        await asyncio.sleep(QUIET * 3)
        assert await store.get_summary("archive") is None
    except BaseException:
        await worker.close()
        raise
    return worker


async def test_an_imported_history_is_folded_once_the_calls_pause(store: Store) -> None:
    """While a call is served, folding an imported history waits (up to a few seconds);
    a conversation's appends are folded at once all the same."""
    load = CallLoad()
    load.calls = 1
    worker = await _import_beside_a_conversation(store, load)
    try:
        load.calls = 0
        for _ in range(int(PATIENCE / 0.05)):  # well before PATIENCE would force a fold
            if await store.get_summary("archive") is not None:
                break
            await asyncio.sleep(0.05)
        assert await _caught_up(store, "archive", 40) == 40 - WINDOW // 2
    finally:
        await worker.close()


async def test_an_imported_history_is_folded_in_its_turn_among_background_work(
    store: Store,
) -> None:
    """Folding an imported history waits while other background work (here: a step
    of search indexing) has its turn; a conversation's folds do not."""
    load = CallLoad()
    async with load.background_turn:
        worker = await _import_beside_a_conversation(store, load)
    try:
        assert await _caught_up(store, "archive", 40) == 40 - WINDOW // 2
    finally:
        await worker.close()


async def _one_batch(batch: ImportBatch) -> AsyncIterator[ImportBatch]:
    yield batch


async def test_a_session_appended_to_in_a_burst_is_folded_in_few_chunks(store: Store) -> None:
    """Folds of one session are ``fold_interval`` apart: what a burst of appends makes
    due meanwhile is folded at once, in one larger chunk."""
    worker = SummaryWorker(
        store,
        folder(store, Concatenator()),
        WorkerSettings(duty_cycle=1.0, fold_interval=1.0),
        window=WINDOW,
    )
    memory = MemoryManager(store, WordCounter(), LIMITS, WINDOW, listener=worker)
    try:
        for number in range(1, 4 * WINDOW + 1):
            await memory.add(TENANT, "s1", [said(f"m{number}")])
            await asyncio.sleep(0)  # let the worker's task run between appends
        assert await _caught_up(store, "s1", 4 * WINDOW) == 4 * WINDOW - WINDOW // 2
    finally:
        await worker.close()
    summary = await store.get_summary("s1")
    assert summary is not None and summary.version == 2  # the first fold, then the rest
