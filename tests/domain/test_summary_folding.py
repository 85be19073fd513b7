"""Perpetual memory's folding, in process: the folder and the background worker."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from server.domain.inputs import MessageInput
from server.domain.memory import MemoryManager
from server.domain.models import Message
from server.domain.ports.store import Store
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
    summary = await fold.fold_chunk("s1", plan)
    assert summary is not None
    assert summary.content == "m1 m2 m3 m4 m5 m6 m7"
    assert (summary.version, summary.last_message_sequence) == (1, 7)
    assert await fold.plan("s1") is None  # 3 left, within the window


async def test_chunks_are_bounded_by_tokens(store: Store, memory: MemoryManager) -> None:
    await memory.add(TENANT, "s1", [said(f"word{n} word") for n in range(1, 21)])
    fold = folder(store, Concatenator(), chunk_tokens=6)
    plan = await fold.plan("s1")
    assert plan is not None
    summary = await fold.fold_chunk("s1", plan)
    assert summary is not None and summary.last_message_sequence == 3  # 3 x 2 tokens


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
    for _ in range(200):
        if (summary := await store.get_summary("s1")) is not None:
            break
        await asyncio.sleep(0.01)
    await worker.close()
    assert summary is not None and summary.last_message_sequence == 7
    assert summarizer.calls == 3
    assert reports == [False, True]
    perpetual = await memory.get(TENANT, "s1", "perpetual", 0)
    assert [m.sequence for m in perpetual.messages] == [8, 9, 10]
