"""The SQLite writer's group commit: many writes, one transaction, each on its own."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from server.domain.errors import Aborted
from server.storage.sqlite.connection import SqliteWorker


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
