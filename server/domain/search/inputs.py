"""SearchMemory's input as the transport layer hands it over, unvalidated."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server.domain.inputs import RawTimestamp

__all__ = ["ConditionInput", "NumberBounds", "SearchInput", "TimeRangeInput"]


@dataclass(frozen=True, slots=True)
class TimeRangeInput:
    """``start`` inclusive, ``end`` exclusive; None when unset."""

    start: RawTimestamp | None = None
    end: RawTimestamp | None = None


@dataclass(frozen=True, slots=True)
class NumberBounds:
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None


@dataclass(frozen=True, slots=True)
class ConditionInput:
    """One metadata condition. ``kind`` names the comparison that is set:
    ``equals``, ``any_of``, ``exists``, ``number``, ``time``, or "" for none;
    values are JSON values as the client sent them (None is JSON null)."""

    path: str
    kind: str
    value: Any = None
    values: Sequence[Any] = ()
    exists: bool = False
    number: NumberBounds | None = None
    time: TimeRangeInput | None = None


@dataclass(frozen=True, slots=True)
class SearchInput:
    """``search_type`` is ``keyword``, ``semantic``, ``hybrid`` or "" (unspecified);
    ``target`` is ``messages``, ``summaries``, ``all`` or "" (messages); role types
    by name; ``metadata`` None when no metadata filter is set."""

    query: str
    session_id: str = ""
    user_id: str = ""
    limit: int = 0
    search_type: str = ""
    target: str = ""
    role_types: Sequence[str] = ()
    metadata: Sequence[ConditionInput] | None = None
    created_at: TimeRangeInput | None = None
    mmr_lambda: float | None = None
