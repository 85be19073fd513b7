"""Client metadata and the key the server keeps for itself."""

from __future__ import annotations

from server.domain.models import JsonObject

__all__ = ["RESERVED_METADATA_KEY", "keep_reserved"]

# Top-level metadata key written by the server only; clients can neither set
# nor overwrite it.
RESERVED_METADATA_KEY = "system"


def keep_reserved(current: JsonObject, new: JsonObject) -> JsonObject:
    """New client metadata, with the server's reserved key carried over from ``current``."""
    if RESERVED_METADATA_KEY in current:
        return {**new, RESERVED_METADATA_KEY: current[RESERVED_METADATA_KEY]}
    return new
