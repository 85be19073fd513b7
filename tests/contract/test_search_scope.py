"""Storage contract: SearchMemory's scope, isolation and filters, with every search type."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.domain.errors import NotFound
from server.domain.models import RoleType
from server.domain.ports.store import Store
from server.domain.search.inputs import ConditionInput, NumberBounds, TimeRangeInput
from tests.support.records import NOW, new_session, new_user
from tests.support.searching import Search, contents

SEARCH_TYPES = ["keyword", "semantic", "hybrid"]


@pytest.mark.parametrize("search_type", SEARCH_TYPES)
async def test_user_scope_spans_the_users_sessions_only(
    search: Search, store: Store, search_type: str
) -> None:
    """A user's search covers each of their sessions, and no other user's."""
    for user in ("jane", "john"):
        await store.create_user(new_user(user))
    for session_id, owner in [("s1", "jane"), ("s2", "jane"), ("s3", "john"), ("s4", None)]:
        await store.create_session(new_session(session_id, user_id=owner))
        await search.add(session_id, [f"billing issue in {session_id}"])
    answer = await search("billing", user_id="jane", search_type=search_type)
    assert sorted(hit.session_id for hit in answer.hits) == ["s1", "s2"]


@pytest.mark.parametrize("search_type", SEARCH_TYPES)
async def test_session_scope_is_that_session_only(search: Search, search_type: str) -> None:
    """A session's search never returns another session's messages."""
    await search.add("s1", ["billing in one"])
    await search.add("s2", ["billing in two"])
    answer = await search("billing", session_id="s2", search_type=search_type)
    assert (contents(answer), [hit.session_id for hit in answer.hits]) == (
        ["billing in two"],
        ["s2"],
    )


async def test_unknown_session_or_user_is_not_found(search: Search) -> None:
    """Searching an unknown session or user raises NotFound."""
    with pytest.raises(NotFound):
        await search("x", session_id="nope")
    with pytest.raises(NotFound):
        await search("x", user_id="nobody")


@pytest.mark.parametrize("search_type", SEARCH_TYPES)
async def test_tenants_never_see_each_others_results(search: Search, search_type: str) -> None:
    """The same session id in two tenants: each search sees its own tenant's messages."""
    await search.add("s1", ["billing for acme"], tenant="acme")
    await search.add("s1", ["billing for globex"], tenant="globex")
    for tenant in ("acme", "globex"):
        answer = await search("billing", tenant=tenant, search_type=search_type)
        assert contents(answer) == [f"billing for {tenant}"]
    with pytest.raises(NotFound):
        await search("billing", tenant="initech")


@pytest.mark.parametrize("search_type", SEARCH_TYPES)
async def test_role_type_filter(search: Search, search_type: str) -> None:
    """Only messages of the given role types are returned."""
    await search.add("s1", ["billing from the user"])
    await search.add("s1", ["billing from the assistant"], role_type=RoleType.ASSISTANT)
    answer = await search("billing", role_types=["assistant"], search_type=search_type)
    assert contents(answer) == ["billing from the assistant"]


@pytest.mark.parametrize("search_type", SEARCH_TYPES)
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (ConditionInput("topic", "equals", value="billing"), ["gold"]),
        (ConditionInput("customer.tier", "equals", value="gold"), ["gold"]),
        (ConditionInput("customer.tier", "any_of", values=["silver", "bronze"]), ["silver"]),
        (ConditionInput("urgent", "exists", exists=True), ["silver"]),
        (ConditionInput("urgent", "exists", exists=False), ["gold", "plain"]),
        (ConditionInput("score", "number", number=NumberBounds(gte=2, lt=5)), ["gold"]),
        (ConditionInput("score", "equals", value=1), ["silver"]),
        (
            ConditionInput("due", "time", time=TimeRangeInput(start=(1_780_000_000, 0), end=None)),
            ["silver"],
        ),
    ],
)
async def test_metadata_filter(
    search: Search, condition: ConditionInput, expected: list[str], search_type: str
) -> None:
    """Each comparison of the metadata filter selects exactly the matching messages."""
    await search.add(
        "s1",
        ["billing gold"],
        metadata={"topic": "billing", "customer": {"tier": "gold"}, "score": 3},
    )
    await search.add(
        "s1",
        ["billing silver"],
        metadata={
            "customer": {"tier": "silver"},
            "urgent": None,
            "score": 1.0,
            "due": "2026-12-01T00:00:00Z",
        },
    )
    await search.add("s1", ["billing plain"])
    answer = await search("billing", metadata=[condition], search_type=search_type)
    assert sorted(content.split()[1] for content in contents(answer)) == sorted(expected)


@pytest.mark.parametrize("search_type", SEARCH_TYPES)
async def test_created_at_range(search: Search, search_type: str) -> None:
    """Only messages created within [start, end) are returned."""
    await search.add("s1", ["billing early"], seconds=0)
    await search.add("s1", ["billing middle"], seconds=100)
    await search.add("s1", ["billing late"], seconds=200)
    start, end = NOW + timedelta(seconds=50), NOW + timedelta(seconds=200)
    window = TimeRangeInput(start=(int(start.timestamp()), 0), end=(int(end.timestamp()), 0))
    answer = await search("billing", created_at=window, search_type=search_type)
    assert contents(answer) == ["billing middle"]


@pytest.mark.parametrize("search_type", SEARCH_TYPES)
async def test_filters_combine(search: Search, store: Store, search_type: str) -> None:
    """Scope, role types, metadata and time range all apply together."""
    await store.create_user(new_user("jane"))
    for session_id in ("s1", "s2"):
        await store.create_session(new_session(session_id, user_id="jane"))
    gold = {"tier": "gold"}
    await search.add("s1", ["billing user gold"], metadata=gold, seconds=100)
    await search.add("s2", ["billing bot gold"], role_type=RoleType.ASSISTANT, metadata=gold)
    await search.add(
        "s2", ["billing bot gold late"], role_type=RoleType.ASSISTANT, metadata=gold, seconds=100
    )
    await search.add("s2", ["billing bot plain"], role_type=RoleType.ASSISTANT, seconds=100)
    start = NOW + timedelta(seconds=50)
    answer = await search(
        "billing",
        user_id="jane",
        role_types=["assistant"],
        metadata=[ConditionInput("tier", "equals", value="gold")],
        created_at=TimeRangeInput(start=(int(start.timestamp()), 0)),
        search_type=search_type,
    )
    assert contents(answer) == ["billing bot gold late"]
