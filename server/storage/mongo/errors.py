"""PyMongo errors translated into the domain's at the adapter's boundary.

Every call of the adapter into the driver runs inside ``translate_errors``
(``MongoStore`` and ``CursorReader`` hold the only uses), so no driver
exception leaves the adapter as itself.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bson.errors import BSONError
from pymongo.errors import (
    ConnectionFailure,
    DuplicateKeyError,
    OperationFailure,
    PyMongoError,
)

from server.domain.errors import Aborted, DataLoss, StoreFailure, Unavailable

__all__ = ["DUPLICATE_KEY", "translate_errors"]

log = logging.getLogger("memoria.storage.mongo")

DUPLICATE_KEY = 11000
# Server error codes of a write that lost a race with another: safe to retry.
_CONFLICT_CODES = {112, 251}  # WriteConflict, NoSuchTransaction


@contextmanager
def translate_errors(*, detailed: bool = False) -> Iterator[None]:
    """Raises the domain's error for any driver error:

    - network errors and timeouts: ``Unavailable``;
    - a duplicate key the adapter did not handle, a write conflict: ``Aborted``;
    - a document the driver cannot decode: ``DataLoss``;
    - anything else: ``StoreFailure``, its detail logged.

    The driver's message names hosts and the cluster's topology, so callers get it
    only with ``detailed`` (health probes, whose message goes to the log alone);
    RPC errors carry the error class and the detail goes to the log.
    """
    try:
        yield
    except BSONError as exc:
        log.error("MongoDB returned an undecodable document: %s", exc)
        raise DataLoss(f"a stored document cannot be decoded ({type(exc).__name__})") from exc
    except PyMongoError as exc:
        if isinstance(exc, ConnectionFailure) or exc.timeout:
            log.debug("MongoDB unavailable: %s", exc)
            reason = str(exc) if detailed else type(exc).__name__
            raise Unavailable(f"MongoDB store unavailable: {reason}") from exc
        if isinstance(exc, DuplicateKeyError) or _is_conflict(exc):
            log.info("MongoDB write conflict: %s", exc)
            raise Aborted(
                f"MongoDB store: a concurrent write conflicts ({type(exc).__name__}); retry"
            ) from exc
        log.error("MongoDB store error: %s", exc)
        code = getattr(exc, "code", None)
        raise StoreFailure(
            f"MongoDB store error ({type(exc).__name__}"
            + (f", code {code}" if code is not None else "")
            + "); see the server log"
        ) from exc


def _is_conflict(error: PyMongoError) -> bool:
    return error.has_error_label("TransientTransactionError") or (
        isinstance(error, OperationFailure) and error.code in _CONFLICT_CODES
    )
