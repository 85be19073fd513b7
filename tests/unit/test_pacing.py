"""Pace: long work on the event loop lets other tasks run once a slice has passed."""

from __future__ import annotations

import asyncio
import time

from server.domain.pacing import SLICE_SECONDS, Pace


async def _other_task_turns(work_seconds: float) -> int:
    """How often a task beside a ``Pace``-stepped loop of ``work_seconds`` got to run."""
    turns = 0
    done = False

    async def other() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    beside = asyncio.create_task(other())
    await asyncio.sleep(0)  # it runs once before the work starts
    turns = 0
    pace = Pace()
    until = time.perf_counter() + work_seconds
    while time.perf_counter() < until:
        await pace.step()
    done = True
    await beside
    return turns


async def test_work_shorter_than_a_slice_keeps_the_loop() -> None:
    assert await _other_task_turns(SLICE_SECONDS / 4) == 0


async def test_long_work_yields_about_once_a_slice() -> None:
    turns = await _other_task_turns(SLICE_SECONDS * 20)
    assert 2 <= turns <= 21  # not at every step (thousands), and not never
