"""A fresh store for a benchmark: a SQLite file, or a MongoDB database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.harness.ferretdb import FerretDB, database_url, external_mongodb_uri, ferretdb_binary

__all__ = ["fresh_store_url"]


@contextmanager
def fresh_store_url(kind: str, work_dir: Path) -> Iterator[str]:
    """A fresh store of ``kind``; FerretDB runs only while it is in use."""
    if kind == "sqlite":
        yield f"sqlite:///{work_dir}/bench.db"
        return
    external = external_mongodb_uri()
    if external is not None:
        yield database_url(external, f"memoria_bench_{uuid.uuid4().hex[:8]}")
        return
    ferretdb = FerretDB(ferretdb_binary(), work_dir / "ferretdb").start()
    try:
        yield database_url(ferretdb.uri, "memoria_bench")
    finally:
        ferretdb.stop()
