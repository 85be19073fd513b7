"""How the MongoDB adapter stores metadata keys and session documents."""

from __future__ import annotations

import pytest

from server.storage.mongo.documents import (
    escape_key,
    metadata_document,
    metadata_from_document,
    session_document,
    session_from_document,
    unescape_key,
)
from tests.support.records import new_session


@pytest.mark.parametrize(
    "key", ["plain", "", "a.b", "$x", "x$", "$", "%", "%2E", "%24", "%25", "nul\x00", "é.$%."]
)
def test_keys_round_trip(key: str) -> None:
    assert unescape_key(escape_key(key)) == key


@pytest.mark.parametrize("key", ["a.b", "$x", "nul\x00", ".", "$"])
def test_escaped_keys_are_valid_field_names(key: str) -> None:
    escaped = escape_key(key)
    assert "." not in escaped and "\x00" not in escaped and not escaped.startswith("$")


def test_ordinary_keys_are_stored_as_they_are() -> None:
    """Metadata without special keys stays queryable under its own field names."""
    metadata = {"foo": "bar", "nested": {"user-id": [1, {"ok": True}]}, "x$": None}
    assert metadata_document(metadata) == metadata


def test_keys_inside_lists_are_escaped_too() -> None:
    metadata = {"list": [{"a.b": 1}, [{"$c": 2}]]}
    document = metadata_document(metadata)
    assert document == {"list": [{"a%2Eb": 1}, [{"%24c": 2}]]}
    assert metadata_from_document(document) == metadata


def test_session_without_user_field_reads_as_no_user() -> None:
    """FerretDB v1 drops null fields set by $setOnInsert; absent means None."""
    document = session_document(new_session("s1", user_id=None))
    del document["user_id"]
    assert session_from_document(document).user_id is None
