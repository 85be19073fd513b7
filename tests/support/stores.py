"""Where each storage adapter under test keeps its data.

Every test that takes a store or a server runs once per kind listed here.
"""

from __future__ import annotations

import itertools
from pathlib import Path

__all__ = ["STORE_KINDS", "StoreUrls"]

STORE_KINDS = ["sqlite"]


class StoreUrls:
    """Hands out store URLs that no other test uses."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._numbers = itertools.count()

    def fresh(self, kind: str) -> str:
        number = next(self._numbers)
        if kind == "sqlite":
            return f"sqlite:///{self._root / f'store-{number}' / 'memoria.db'}"
        raise ValueError(f"unknown store kind {kind!r}")
