"""Python client of Memoria, the gRPC service that gives LLM applications durable
conversation memory.

    from memoria_client import MemoriaClient, Memory, Message

    with MemoriaClient("localhost:50051") as client:
        client.memory.add_memory("chat-1", Memory(messages=[
            Message(role="Jane", role_type="user", content="Who was Octavia Butler?"),
        ]))
        print(client.memory.get_memory("chat-1").messages)

``AsyncMemoriaClient`` is the asyncio twin; every error is a ``MemoriaError``.
"""

from memoria_client._client import DEFAULT_TARGET, AsyncMemoriaClient, MemoriaClient
from memoria_client._ops import UNSET
from memoria_client._resources import (
    AsyncMemoryResource,
    AsyncMessageStream,
    AsyncSessionResource,
    AsyncUserResource,
    MemoryResource,
    MessageStream,
    SessionResource,
    UserResource,
)
from memoria_client.errors import (
    AlreadyExistsError,
    AuthenticationError,
    CancelledCallError,
    DeadlineExceededError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    MemoriaError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    SummaryBehindError,
    UnavailableError,
)
from memoria_client.models import (
    ImportResult,
    Memory,
    MemoryType,
    Message,
    MetadataCondition,
    RoleType,
    SearchResult,
    SearchResults,
    SearchTarget,
    SearchType,
    Session,
    Summary,
    User,
)

__all__ = [
    "DEFAULT_TARGET",
    "UNSET",
    "AlreadyExistsError",
    "AsyncMemoriaClient",
    "AsyncMemoryResource",
    "AsyncMessageStream",
    "AsyncSessionResource",
    "AsyncUserResource",
    "AuthenticationError",
    "CancelledCallError",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "FieldViolation",
    "ImportResult",
    "InternalError",
    "InvalidArgumentError",
    "MemoriaClient",
    "MemoriaError",
    "Memory",
    "MemoryResource",
    "MemoryType",
    "Message",
    "MessageStream",
    "MetadataCondition",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "RoleType",
    "SearchResult",
    "SearchResults",
    "SearchTarget",
    "SearchType",
    "Session",
    "SessionResource",
    "Summary",
    "SummaryBehindError",
    "UnavailableError",
    "User",
    "UserResource",
]
