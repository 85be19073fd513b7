"""Every driver error leaves an adapter as a domain error with a deliberate status."""

from __future__ import annotations

import sqlite3

import grpc
import pytest
from bson.errors import InvalidBSON
from pymongo.errors import AutoReconnect, DuplicateKeyError, OperationFailure

from server.api.status import status_of
from server.domain.errors import Aborted, DataLoss, MemoriaError, StoreFailure, Unavailable
from server.storage.mongo.errors import translate_errors
from server.storage.sqlite.connection import translated


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlite3.OperationalError("database is locked"), Unavailable),
        (sqlite3.IntegrityError("UNIQUE constraint failed: messages.uuid"), Aborted),
        (sqlite3.DatabaseError("database disk image is malformed"), DataLoss),
        (sqlite3.ProgrammingError("Cannot operate on a closed database."), StoreFailure),
        (sqlite3.InterfaceError("bad parameter"), StoreFailure),
    ],
)
def test_sqlite_errors(error: sqlite3.Error, expected: type[MemoriaError]) -> None:
    assert type(translated(error)) is expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (AutoReconnect("connection closed"), Unavailable),
        (DuplicateKeyError("E11000 duplicate key error", 11000), Aborted),
        (OperationFailure("WriteConflict", 112), Aborted),
        (InvalidBSON("bad document"), DataLoss),
        (OperationFailure("secret host mongo-7.internal failed", 2), StoreFailure),
    ],
)
def test_mongo_errors(error: Exception, expected: type[MemoriaError]) -> None:
    with pytest.raises(expected) as raised, translate_errors():
        raise error
    assert raised.value.__cause__ is error


def test_an_unexpected_mongo_error_says_its_class_not_the_driver_message() -> None:
    with pytest.raises(StoreFailure) as raised, translate_errors():
        raise OperationFailure("secret host mongo-7.internal failed", 2)
    assert "mongo-7" not in str(raised.value)
    assert "OperationFailure, code 2" in str(raised.value)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (Aborted("retry"), grpc.StatusCode.ABORTED),
        (Unavailable("down"), grpc.StatusCode.UNAVAILABLE),
        (DataLoss("corrupt"), grpc.StatusCode.DATA_LOSS),
        (StoreFailure("odd"), grpc.StatusCode.INTERNAL),
    ],
)
def test_each_store_error_has_its_status(error: MemoriaError, code: grpc.StatusCode) -> None:
    status = status_of(error)
    assert status.code == code
    assert status.details == str(error)
