"""Where each storage adapter under test keeps its data.

Every test that takes a store or a server runs once per kind listed here.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import uuid
from pathlib import Path

from bench.harness.ferretdb import database_url
from server.storage.sqlite.migrations import MIGRATIONS

__all__ = ["STORE_KINDS", "StoreUrls", "old_sqlite_store"]

# MEMORIA_TEST_STORES=sqlite (make check) leaves MongoDB out: nothing to build or start.
STORE_KINDS = os.environ.get("MEMORIA_TEST_STORES", "sqlite,mongodb").split(",")


class StoreUrls:
    """Hands out store URLs that no other test uses: a new SQLite file, or a new
    database on the MongoDB server at ``mongodb_uri``."""

    def __init__(self, root: Path, mongodb_uri: str | None = None) -> None:
        self._root = root
        self._mongodb_uri = mongodb_uri
        self._numbers = itertools.count()
        # Names stay unique across runs against one long-lived MongoDB server.
        self._run = uuid.uuid4().hex[:8]
        self.mongodb_databases: list[str] = []

    def fresh(self, kind: str) -> str:
        number = next(self._numbers)
        if kind == "sqlite":
            return f"sqlite:///{self._root / f'store-{number}' / 'memoria.db'}"
        if kind == "mongodb":
            if self._mongodb_uri is None:
                raise ValueError("no MongoDB server for this run of the tests")
            database = f"memoria_test_{self._run}_{number}"
            self.mongodb_databases.append(database)
            return database_url(self._mongodb_uri, database)
        raise ValueError(f"unknown store kind {kind!r}")


def old_sqlite_store(path: Path, version: int) -> sqlite3.Connection:
    """A SQLite file at ``path`` with the schema of migration ``version`` and no
    later, to fill as an older server left it (close the connection, or use it as
    a context manager, before opening the store)."""
    connection = sqlite3.connect(path)
    for script in MIGRATIONS[:version]:
        connection.executescript(script)
    connection.execute(f"PRAGMA user_version = {version}")
    return connection
