"""A SQLite connection owned by one thread, driven from asyncio.

Each store operation is one plain synchronous function run on the connection's
thread: one thread hop per operation instead of one per statement, and
transactions are ordinary sequential code. SQLite releases the GIL while it works.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from server.domain.errors import Aborted, DataLoss, MemoriaError, StoreFailure, Unavailable

__all__ = ["SqliteWorker", "transaction", "translated"]

T = TypeVar("T")

log = logging.getLogger("memoria.storage.sqlite")


class SqliteWorker:
    def __init__(self, path: Path, name: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None

    async def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._call, operation)
        except sqlite3.Error as exc:
            raise translated(exc) from exc

    async def close(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _call(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            self._connection = _connect(self._path)
        return operation(self._connection)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def translated(error: sqlite3.Error) -> MemoriaError:
    """The domain's error for a ``sqlite3`` one: every SQLite error leaves the adapter
    as one of these, never as itself."""
    if isinstance(error, sqlite3.OperationalError):
        # Locked, read-only or unreadable database file: the store cannot serve now.
        return Unavailable(f"SQLite store unavailable: {error}")
    if isinstance(error, sqlite3.IntegrityError):
        # A uniqueness or foreign key the adapter did not expect to meet: a writer of
        # another process changed the same rows; the caller may retry.
        return Aborted(f"SQLite store: a concurrent write conflicts ({error}); retry")
    if type(error) is sqlite3.DatabaseError:
        # "database disk image is malformed", "file is not a database".
        return DataLoss(f"SQLite store file is damaged: {error}")
    log.error("SQLite store error: %r", error)
    return StoreFailure(f"SQLite store error ({type(error).__name__}); see the server log")


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; `transaction()` opens them.
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")  # readers do not block the writer
    connection.execute("PRAGMA synchronous = NORMAL")  # durable at each WAL checkpoint
    connection.execute("PRAGMA busy_timeout = 5000")
    # Imports of long histories insert random uuids into a large index: a bigger page
    # cache and rarer checkpoints (each copies the WAL back and syncs) roughly double
    # their rate at a million messages. Memory: up to 64 MiB of cache per connection;
    # disk: the WAL grows to ~80 MiB between checkpoints.
    connection.execute("PRAGMA cache_size = -65536")
    connection.execute("PRAGMA wal_autocheckpoint = 20000")
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection, *, write: bool) -> Iterator[None]:
    """A transaction; ``write`` takes the write lock at once (no upgrade deadlocks)."""
    connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
