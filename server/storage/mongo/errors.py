"""PyMongo errors translated into the domain's at the adapter's boundary."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pymongo.errors import ConnectionFailure, PyMongoError

from server.domain.errors import Unavailable

__all__ = ["DUPLICATE_KEY", "translate_errors"]

log = logging.getLogger("memoria.storage.mongo")

DUPLICATE_KEY = 11000


@contextmanager
def translate_errors(*, detailed: bool = False) -> Iterator[None]:
    """Raises ``Unavailable`` for network errors and timeouts; other errors pass.

    The driver's message names hosts and the cluster's topology, so callers get it
    only with ``detailed`` (health probes, whose message goes to the log alone);
    RPC errors carry the error class and the detail goes to the debug log.
    """
    try:
        yield
    except PyMongoError as exc:
        if not (isinstance(exc, ConnectionFailure) or exc.timeout):
            raise
        log.debug("MongoDB unavailable: %s", exc)
        reason = str(exc) if detailed else type(exc).__name__
        raise Unavailable(f"MongoDB store unavailable: {reason}") from exc
