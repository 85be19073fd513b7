"""SQLite connections driven from asyncio.

Each store operation is one plain synchronous function: run on a connection's
own thread (one thread hop per operation instead of one per statement, and
transactions are ordinary sequential code; SQLite releases the GIL while it
works), or, when it is short and nothing else waits, on the event loop's thread.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

from server.domain.errors import Aborted, DataLoss, MemoriaError, StoreFailure, Unavailable

__all__ = ["LoopReader", "SqliteWorker", "transaction", "translated"]

T = TypeVar("T")
# A queued write: the operation, its caller's future, and the caller's event loop.
_Pending = tuple[
    Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop
]

log = logging.getLogger("memoria.storage.sqlite")


class SqliteWorker:
    def __init__(
        self,
        path: Path,
        name: str,
        *,
        group_commit: bool = False,
        alone: Callable[[], bool] = lambda: True,
    ) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._connection: sqlite3.Connection | None = None
        self._group_commit = group_commit
        self._pending: list[_Pending] = []
        self._thread_lock = WriterLock(path)  # the writer thread's
        self._loop_lock = WriterLock(path)  # the event loop's, for lone writes
        self._lock = threading.Lock()
        # Writes of this process waiting for the writer thread.
        self._in_flight = 0
        self._loop_connection: sqlite3.Connection | None = None
        self._alone = alone
        self._lone_commits = 0
        self._checkpoint_due = False

    async def run(self, operation: Callable[[sqlite3.Connection], T], *, small: bool = False) -> T:
        """Runs ``operation`` on the connection's thread.

        With group commit, the writes waiting when the thread gets to them run in one
        transaction, each in a savepoint of its own (a failing one is rolled back
        alone); each is answered after the COMMIT, so nothing is acknowledged before
        it is durable. One commit for many calls is what lets concurrent writers
        through a single SQLite writer; the whole group is answered with one wake-up
        of the event loop.

        A ``small`` write of a call that is alone (``alone()``: no other call in
        progress or just ended, no other write waiting) runs at once on the event loop's thread
        instead (``_run_lone``): that is faster for one call, while among many the
        loop's time is better spent on the calls and the writes are grouped.
        """
        if not self._group_commit:
            return await self.run_alone(operation)
        if small and self._in_flight == 0 and not self._checkpoint_due and self._alone():
            with suppress(_Locked):
                return self._run_lone(operation)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._pending.append((operation, done, loop))
            first = len(self._pending) == 1
        if first:
            self._executor.submit(self._run_group)
        self._in_flight += 1
        try:
            return await done
        except sqlite3.Error as exc:
            raise translated(exc) from exc
        finally:
            self._in_flight -= 1

    def _run_lone(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Runs a lone write in a transaction of its own on the calling (the event
        loop's) thread: a small write takes less time than the two thread hand-offs
        it would otherwise wait for. Raises ``_Locked`` when another writer (the
        writer thread, another process) holds the database: the caller queues it
        then. They do not checkpoint the WAL: every so many, the next write goes to
        the writer thread, which checkpoints first (``_run_group``)."""
        if self._loop_connection is None:
            self._loop_connection = _connect(self._path)
            self._loop_connection.execute("PRAGMA busy_timeout = 0")  # never wait here
            self._loop_connection.execute("PRAGMA wal_autocheckpoint = 0")
        connection = self._loop_connection
        if not self._loop_lock.take_now():
            raise _Locked
        try:
            try:
                connection.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # a writer that does not take our lock
                raise _Locked from exc
            try:
                result = operation(connection)
                connection.execute("COMMIT")
            except BaseException as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise translated(exc) from exc
                raise
        finally:
            self._loop_lock.release()
        self._lone_commits += 1
        if self._lone_commits % _LONE_COMMITS_PER_CHECKPOINT == 0:
            self._checkpoint_due = True
        return result

    async def run_alone(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Runs ``operation`` on the connection's thread by itself, outside any group
        (it may manage its own transactions, as migrations do)."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._call, operation)
        except sqlite3.Error as exc:
            raise translated(exc) from exc

    def _run_group(self) -> None:
        with self._lock:
            group, self._pending = self._pending, []
        if not group:
            return
        if self._connection is None:
            self._connection = _connect(self._path)
        connection = self._connection
        if self._checkpoint_due:
            # While no lone write can add to the WAL, so that the transaction below
            # finds it wholly copied back and starts it over instead of growing it.
            self._checkpoint_due = False
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the writes go on; a later checkpoint catches up
                log.warning("SQLite checkpoint failed: %s", exc)
        with self._thread_lock.held():  # the checkpoint above needs no lock of ours
            outcomes = _commit_group(connection, group)
        for loop in {loop for _, _, loop in group}:
            answers = [outcome for outcome in outcomes if outcome[0].get_loop() is loop]
            with suppress(RuntimeError):  # that loop is closed: nobody waits any more
                loop.call_soon_threadsafe(_answer, answers)

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
        if self._loop_connection is not None:
            self._loop_connection.close()
            self._loop_connection = None
        self._thread_lock.close()
        self._loop_lock.close()


class _Locked(Exception):
    """Another connection holds the database's write lock."""


# Lone writes commit without checkpointing: after this many, the writer thread copies
# the WAL back into the database (as SQLite's automatic checkpoint would have).
_LONE_COMMITS_PER_CHECKPOINT = 1000


class WriterLock:
    """An exclusive ``flock`` on a file beside the database, held around each write
    transaction.

    SQLite makes a writer that finds the database locked sleep and try again (1,
    2, 5, 10 ms ...), so the writers of several processes (``MEMORIA_WORKERS``)
    stall each other; a process waiting for this lock is woken by the kernel the
    moment its holder lets go. Each instance is its own open file: the event
    loop's and the writer thread's locks exclude each other too.
    """

    def __init__(self, database: Path) -> None:
        self._path = database.with_name(database.name + "-lock")
        self._fd: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        fcntl.flock(self._file(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._file(), fcntl.LOCK_UN)

    def take_now(self) -> bool:
        """Takes the lock if it is free; False when another writer holds it."""
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        fcntl.flock(self._file(), fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd


class LoopReader:
    """A read connection used on the event loop's own thread, for short reads.

    A read of a few indexed rows takes tens of microseconds, less than handing it
    to a thread and waking the loop for the answer. In WAL mode a reader never
    waits for the writer, so the loop is not held up by writes; reads of unbounded
    size stay on the reader thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        if self._connection is None:
            self._connection = _connect(self._path)
        try:
            return operation(self._connection)
        except sqlite3.Error as exc:
            raise translated(exc) from exc

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _commit_group(connection: sqlite3.Connection, group: list[_Pending]) -> list[_Outcome]:
    """Runs the group's writes in one transaction, each in a savepoint of its own."""
    outcomes: list[_Outcome] = []
    try:
        connection.execute("BEGIN IMMEDIATE")
        for operation, done, _ in group:
            if done.cancelled():
                continue  # its caller gave up before it started, as with an executor
            connection.execute("SAVEPOINT operation")
            try:
                result = operation(connection)
            except BaseException as exc:
                connection.execute("ROLLBACK TO operation")
                connection.execute("RELEASE operation")
                outcomes.append((done, None, exc))
            else:
                connection.execute("RELEASE operation")
                outcomes.append((done, result, None))
        connection.execute("COMMIT")
    except BaseException as exc:  # BEGIN or COMMIT failed: none of the group is stored
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        outcomes = [(done, None, exc) for _, done, _ in group]
    return outcomes


# A write's caller, and its result or its error.
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


def _answer(outcomes: list[_Outcome]) -> None:
    """On the event loop: answers a group's callers that still wait."""
    for done, result, error in outcomes:
        if done.done():
            continue
        if error is None:
            done.set_result(result)
        else:
            done.set_exception(error)


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
    """A transaction; ``write`` takes the write lock at once (no upgrade deadlocks).
    Inside a group commit's transaction, the operation's own savepoint serves."""
    if connection.in_transaction:
        yield
        return
    connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
