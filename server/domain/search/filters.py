"""The filters of SearchMemory: checked (every violation named) and evaluated.

The metadata filter is deliberately small: an AND of conditions, each on one
dotted path (``customer.tier``) with one comparison: equality with a scalar,
membership in a list of scalars, presence, a numeric range, or a time range
over an RFC 3339 string. The domain evaluates it on each candidate, so it means
exactly the same on every store.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.domain.models import ROLE_TYPES, JsonObject, Message, RoleType, Summary
from server.domain.search.inputs import ConditionInput, NumberBounds, TimeRangeInput
from server.domain.validation import Violations

__all__ = [
    "MAX_ANY_OF",
    "MAX_CONDITIONS",
    "MAX_PATH_KEYS",
    "SearchFilter",
    "TimeRange",
    "check_filter",
]

MAX_CONDITIONS = 20
MAX_ANY_OF = 100
MAX_PATH_KEYS = 8
MAX_STRING_VALUE = 1024
_PATH = re.compile(r"[A-Za-z0-9_-]{1,64}(?:\.[A-Za-z0-9_-]{1,64})*")
_ABSENT = object()


@dataclass(frozen=True, slots=True)
class TimeRange:
    """``start`` inclusive, ``end`` exclusive; None is open-ended."""

    start: datetime | None = None
    end: datetime | None = None

    def __contains__(self, moment: datetime) -> bool:
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )


@dataclass(frozen=True, slots=True)
class _Condition:
    path: tuple[str, ...]
    holds: Callable[[Any], bool]  # given the value at path, or _ABSENT

    def __call__(self, metadata: JsonObject) -> bool:
        value: Any = metadata
        for key in self.path:
            if not isinstance(value, dict) or key not in value:
                return self.holds(_ABSENT)
            value = value[key]
        return self.holds(value)


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """What a result must satisfy besides matching the query."""

    role_types: frozenset[RoleType] = frozenset()
    conditions: tuple[_Condition, ...] = ()
    has_metadata_filter: bool = False
    created_at: TimeRange | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.role_types or self.has_metadata_filter or self.created_at)

    def accepts_message(self, message: Message) -> bool:
        if self.role_types and message.role_type not in self.role_types:
            return False
        if self.created_at is not None and message.created_at not in self.created_at:
            return False
        return all(condition(message.metadata) for condition in self.conditions)

    def accepts_summary(self, summary: Summary) -> bool:
        """Summaries have no metadata (a metadata filter excludes them) and no role."""
        if self.has_metadata_filter:
            return False
        return self.created_at is None or summary.created_at in self.created_at


def check_filter(
    check: Violations,
    role_types: Sequence[str],
    metadata: Sequence[ConditionInput] | None,
    created_at: TimeRangeInput | None,
) -> SearchFilter:
    """The filter of a request, adding a violation for each malformed part."""
    roles: set[RoleType] = set()
    for index, name in enumerate(role_types):
        role = ROLE_TYPES.get(name)
        if role is None:
            check.role_type(f"role_types[{index}]", name)
        else:
            roles.add(role)
    conditions: list[_Condition] = []
    if metadata is not None:
        if not 1 <= len(metadata) <= MAX_CONDITIONS:
            check.add(
                "metadata.all_of",
                f"must hold 1 to {MAX_CONDITIONS} conditions, got {len(metadata)}",
            )
        for index, item in enumerate(metadata[:MAX_CONDITIONS]):
            condition = _check_condition(check, f"metadata.all_of[{index}]", item)
            if condition is not None:
                conditions.append(condition)
    return SearchFilter(
        role_types=frozenset(roles),
        conditions=tuple(conditions),
        has_metadata_filter=metadata is not None,
        created_at=None
        if created_at is None
        else check_time_range(check, "created_at", created_at),
    )


def check_time_range(check: Violations, path: str, given: TimeRangeInput) -> TimeRange | None:
    start = None if given.start is None else check.timestamp(f"{path}.start", given.start)
    end = None if given.end is None else check.timestamp(f"{path}.end", given.end)
    if start is not None and end is not None and start >= end:
        check.add(path, "start must be before end")
        return None
    return TimeRange(start, end)


def _check_condition(check: Violations, path: str, given: ConditionInput) -> _Condition | None:
    keys = _check_path(check, f"{path}.path", given.path)
    holds = _check_comparison(check, path, given)
    if keys is None or holds is None:
        return None
    return _Condition(keys, holds)


def _check_path(check: Violations, path: str, value: str) -> tuple[str, ...] | None:
    if not _PATH.fullmatch(value) or value.count(".") >= MAX_PATH_KEYS:
        check.add(
            path,
            f"must be 1 to {MAX_PATH_KEYS} keys of 1 to 64 characters of [A-Za-z0-9_-]"
            f" separated by dots, got {value!r}",
        )
        return None
    return tuple(value.split("."))


def _check_comparison(
    check: Violations, path: str, given: ConditionInput
) -> Callable[[Any], bool] | None:
    match given.kind:
        case "equals":
            expected = _check_scalar(check, f"{path}.equals", given.value)
            return None if expected is _ABSENT else (lambda value: _same(value, expected))
        case "any_of":
            return _check_any_of(check, f"{path}.any_of.values", given.values)
        case "exists":
            wanted = given.exists
            return lambda value: (value is not _ABSENT) == wanted
        case "number":
            return _check_number(check, f"{path}.number", given.number or NumberBounds())
        case "time":
            window = check_time_range(check, f"{path}.time", given.time or TimeRangeInput())
            if window is not None and window.start is None and window.end is None:
                check.add(f"{path}.time", "must set start, end or both")
                return None
            return None if window is None else (lambda value: _in_time(value, window))
        case _:
            check.add(path, "must set one comparison: equals, any_of, exists, number or time")
            return None


def _check_any_of(
    check: Violations, path: str, values: Sequence[Any]
) -> Callable[[Any], bool] | None:
    if not 1 <= len(values) <= MAX_ANY_OF:
        check.add(path, f"must hold 1 to {MAX_ANY_OF} values, got {len(values)}")
        return None
    expected = [_check_scalar(check, f"{path}[{index}]", item) for index, item in enumerate(values)]
    if any(item is _ABSENT for item in expected):
        return None
    return lambda value: any(_same(value, item) for item in expected)


def _check_number(
    check: Violations, path: str, bounds: NumberBounds
) -> Callable[[Any], bool] | None:
    given = {"gt": bounds.gt, "gte": bounds.gte, "lt": bounds.lt, "lte": bounds.lte}
    set_bounds = {name: bound for name, bound in given.items() if bound is not None}
    if not set_bounds:
        check.add(path, "must set at least one of gt, gte, lt, lte")
        return None
    for name, bound in set_bounds.items():
        if not math.isfinite(bound):
            check.add(f"{path}.{name}", "must be a finite number")
            return None

    def holds(value: Any) -> bool:
        if not _is_number(value):
            return False
        return (
            (bounds.gt is None or value > bounds.gt)
            and (bounds.gte is None or value >= bounds.gte)
            and (bounds.lt is None or value < bounds.lt)
            and (bounds.lte is None or value <= bounds.lte)
        )

    return holds


def _check_scalar(check: Violations, path: str, value: Any) -> Any:
    """The value when it is a string, a finite number or a boolean; else ``_ABSENT``."""
    if isinstance(value, bool):
        return value
    if _is_number(value):
        if math.isfinite(value):
            return value
        check.add(path, "must be a finite number")
        return _ABSENT
    if isinstance(value, str):
        if len(value) <= MAX_STRING_VALUE:
            return value
        check.add(path, f"must be at most {MAX_STRING_VALUE} characters")
        return _ABSENT
    check.add(path, "must be a string, a number or a boolean (not null, a list or an object)")
    return _ABSENT


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(value: Any, expected: Any) -> bool:
    """Equality as JSON means it: 2 == 2.0, but never True == 1 nor "1" == 1."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value == expected
    if _is_number(expected):
        return _is_number(value) and value == expected
    return isinstance(value, str) and value == expected


def _in_time(value: Any, window: TimeRange) -> bool:
    if not isinstance(value, str):
        return False
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return moment.tzinfo is not None and moment in window
