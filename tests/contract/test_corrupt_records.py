"""A stored record that cannot be decoded is reported as DataLoss, never as a crash."""

from __future__ import annotations

import sqlite3

import pytest
from pymongo import AsyncMongoClient

from server.domain.errors import DataLoss
from server.domain.ports.store import Store
from tests.support.records import NOW, new_message


async def _corrupt_role_type(store_url: str, session_id: str) -> None:
    """Writes a role type no version of Memoria stores, behind the adapter's back."""
    if store_url.startswith("sqlite:///"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as connection:
            connection.execute(
                "UPDATE messages SET role_type = 'bogus' WHERE session_id = ?", (session_id,)
            )
        return
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(store_url)
    try:
        await client.get_default_database().messages.update_many(
            {"session_id": session_id}, {"$set": {"role_type": "bogus"}}
        )
    finally:
        await client.close()


async def test_a_corrupt_message_is_data_loss(store: Store, store_url: str) -> None:
    """Reads of a corrupt message raise DataLoss; the other sessions stay readable."""
    await store.append_messages("damaged", [new_message("one")], NOW)
    await store.append_messages("intact", [new_message("two")], NOW)
    await _corrupt_role_type(store_url, "damaged")

    with pytest.raises(DataLoss, match="corrupt"):
        await store.recent_messages("damaged", 10)
    with pytest.raises(DataLoss):
        await store.list_messages("damaged", after_sequence=0, limit=10)
    intact = await store.recent_messages("intact", 10)
    assert intact is not None and [m.content for m in intact] == ["two"]
