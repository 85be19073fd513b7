"""The SQLite writer's group commit: many writes, one transaction, each on its own."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from server.domain.errors import Aborted
from server.storage.sqlite.connection import SqliteWorker, WriterLock


def _create(connection: sqlite3.Connection) -> None:
    connection.execute("CREATE TABLE t (v INTEGER UNIQUE)")


def _values(connection: sqlite3.Connection) -> list[int]:
    return [v for (v,) in connection.execute("SELECT v FROM t ORDER BY v")]


def _insert(value: int) -> Callable[[sqlite3.Connection], int]:
    def operation(connection: sqlite3.Connection) -> int:
        connection.execute("INSERT INTO t (v) VALUES (?)", (value,))
        return value

    return operation


async def test_a_failing_write_is_rolled_back_alone(tmp_path: Path) -> None:
    worker = SqliteWorker(tmp_path / "t.db", "test", group_commit=True)
    await worker.run_alone(_create)
    await worker.run(_insert(0))
    results = await asyncio.gather(
        *(worker.run(_insert(v)) for v in (1, 2, 0, 3)),
        return_exceptions=True,
    )
    assert results[:2] == [1, 2] and results[3] == 3
    assert isinstance(results[2], Aborted)  # the duplicate, translated
    stored = await worker.run(_values)
    assert stored == [0, 1, 2, 3]
    await worker.close()


async def test_a_failing_write_in_a_group_is_undone_with_all_it_wrote(tmp_path: Path) -> None:
    """A write that fails after writing, in a group with others, is undone with every
    statement it ran; the others in the group are kept."""
    worker = SqliteWorker(tmp_path / "t.db", "test", group_commit=True)
    await worker.run_alone(_create)
    gate = threading.Event()
    held = asyncio.ensure_future(worker.run(lambda connection: gate.wait(10)))
    await asyncio.sleep(0.1)  # the writer thread is busy with it: the next writes group

    def insert_then_fail(connection: sqlite3.Connection) -> None:
        _insert(10)(connection)
        raise ValueError("failed after writing")

    group = [asyncio.ensure_future(worker.run(op)) for op in (_insert(1), insert_then_fail)]
    group.append(asyncio.ensure_future(worker.run(_insert(2))))
    await asyncio.sleep(0.1)
    gate.set()
    results = await asyncio.gather(held, *group, return_exceptions=True)
    assert results[0] is True and results[1] == 1 and results[3] == 2
    assert isinstance(results[2], ValueError)
    assert await worker.run(_values) == [1, 2]
    await worker.close()


async def test_a_write_is_answered_only_once_committed(tmp_path: Path) -> None:
    """Another connection sees the row as soon as the write returns."""
    path = tmp_path / "t.db"
    worker = SqliteWorker(path, "test", group_commit=True)
    await worker.run_alone(_create)
    await asyncio.gather(*(worker.run(_insert(v)) for v in range(20)))
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (20,)
    await worker.close()


@pytest.mark.parametrize("group_commit", [False, True])
async def test_results_come_back_in_order(tmp_path: Path, group_commit: bool) -> None:
    worker = SqliteWorker(tmp_path / "t.db", "test", group_commit=group_commit)
    await worker.run_alone(_create)
    results = await asyncio.gather(*(worker.run(_insert(v)) for v in range(50)))
    assert results == list(range(50))
    await worker.close()


def _thread_of_insert(value: int) -> Callable[[sqlite3.Connection], int]:
    def operation(connection: sqlite3.Connection) -> int:
        _insert(value)(connection)
        return threading.get_ident()

    return operation


async def test_only_a_small_write_of_a_call_that_is_alone_runs_on_the_event_loop(
    tmp_path: Path,
) -> None:
    busy = False
    worker = SqliteWorker(tmp_path / "t.db", "test", group_commit=True, alone=lambda: not busy)
    await worker.run_alone(_create)
    loop_thread = threading.get_ident()
    assert await worker.run(_thread_of_insert(1), small=True) == loop_thread
    assert await worker.run(_thread_of_insert(2)) != loop_thread  # not small
    busy = True  # other calls in progress: their writes are grouped on the writer thread
    assert await worker.run(_thread_of_insert(3), small=True) != loop_thread
    assert await worker.run(_values) == [1, 2, 3]
    await worker.close()


async def test_a_lone_write_runs_on_the_event_loop_and_a_locked_one_waits_its_turn(
    tmp_path: Path,
) -> None:
    """A write with no other waiting runs on the calling thread; while another
    connection (another process) holds the write lock, it is queued for the writer
    thread, which waits for the lock, and nothing is lost."""
    path = tmp_path / "t.db"
    worker = SqliteWorker(path, "test", group_commit=True)
    await worker.run_alone(_create)
    loop_thread = threading.get_ident()
    assert await worker.run(_thread_of_insert(1), small=True) == loop_thread
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (v) VALUES (2)")
    write = asyncio.ensure_future(worker.run(_thread_of_insert(3), small=True))
    await asyncio.sleep(0.2)
    assert not write.done()  # waiting for the lock, on the writer thread
    other.execute("COMMIT")
    assert await asyncio.wait_for(write, 10) != loop_thread
    assert await worker.run(_values) == [1, 2, 3]
    other.close()
    await worker.close()


async def test_lone_writes_are_checkpointed_by_the_writer_thread(tmp_path: Path) -> None:
    """Lone writes never checkpoint on the event loop, but the WAL does not grow for
    ever: every so many commits the writer thread copies it back."""
    path = tmp_path / "t.db"
    worker = SqliteWorker(path, "test", group_commit=True)
    await worker.run_alone(_create)
    for value in range(2500):
        await worker.run(_insert(value), small=True)
    with sqlite3.connect(path) as other:
        _, wal_frames, _ = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    # Without the checkpoints all 2,500 commits would be in the WAL (two frames each):
    # once it has been copied back, SQLite writes the WAL over from its start.
    assert wal_frames < 2500
    assert await worker.run(_values) == list(range(2500))
    await worker.close()


async def test_a_write_waits_for_another_process_holding_the_writer_lock(tmp_path: Path) -> None:
    """Writers of several processes take turns through a file lock beside the
    database: while another holds it, a lone write is queued for the writer
    thread, which takes the lock as soon as it is free."""
    path = tmp_path / "t.db"
    worker = SqliteWorker(path, "test", group_commit=True)
    await worker.run_alone(_create)
    other_process = WriterLock(path)  # its own open file, as another process has
    loop_thread = threading.get_ident()
    with other_process.held():
        write = asyncio.ensure_future(worker.run(_thread_of_insert(1), small=True))
        await asyncio.sleep(0.2)
        assert not write.done()
    assert await asyncio.wait_for(write, 10) != loop_thread
    assert await worker.run(_thread_of_insert(2), small=True) == loop_thread  # free again
    assert await worker.run(_values) == [1, 2]
    other_process.close()
    await worker.close()
