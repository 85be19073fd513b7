"""Every call but health and reflection carries an API key, checked before its handler runs."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from server.api.caller import set_caller
from server.api.decoding import Behavior, Context
from server.api.reflection import REFLECTION_V1, REFLECTION_V1ALPHA
from server.domain.caller import Caller

__all__ = ["OPEN_SERVICES", "Authenticate", "authenticated"]

# Load balancers and tools probe these without credentials.
OPEN_SERVICES = frozenset({"grpc.health.v1.Health", REFLECTION_V1, REFLECTION_V1ALPHA})

Authenticate = Callable[[str | None], Awaitable[Caller]]


def authenticated(behavior: Behavior, authenticate: Authenticate) -> Behavior:
    """``behavior`` run only once ``authenticate`` has turned the call's
    ``authorization`` metadata into the caller, which becomes the RPC's
    ``current_caller()``. A refusal (a ``MemoriaError``: ``Unauthenticated``, or
    ``Unavailable`` when the keys cannot be read) is raised before ``behavior``
    reads the request, for the call boundary to turn into a status."""
    if inspect.isasyncgenfunction(behavior):

        async def generator(request: Any, context: Context) -> AsyncIterator[Any]:
            set_caller(await authenticate(_authorization(context)))
            async for response in behavior(request, context):
                yield response

        return generator

    async def call(request: Any, context: Context) -> Any:
        set_caller(await authenticate(_authorization(context)))
        return await behavior(request, context)

    return call


def _authorization(context: Context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return value if isinstance(value, str) else None
    return None
