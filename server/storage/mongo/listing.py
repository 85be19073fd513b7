"""Newest-first listings (sessions, users) continued after a cursor."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING

from server.domain.clock import to_micros
from server.domain.ports.store import ListCursor

__all__ = ["NEWEST_FIRST", "after_cursor"]

# Served by the newest_first indexes of schema.py.
NEWEST_FIRST = [("created_us", DESCENDING), ("_id", DESCENDING)]


def after_cursor(after: ListCursor) -> dict[str, Any]:
    """The filter of the documents listed after ``after`` in ``NEWEST_FIRST`` order."""
    created_us, identifier = to_micros(after[0]), after[1]
    return {
        "$or": [
            {"created_us": {"$lt": created_us}},
            {"created_us": created_us, "_id": {"$lt": identifier}},
        ]
    }
