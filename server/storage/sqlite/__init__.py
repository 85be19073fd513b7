"""SQLite adapter: the embedded store, one file, no server."""

from server.storage.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
