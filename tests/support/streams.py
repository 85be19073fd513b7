"""Building import streams and reading message streams in the integration tests."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import grpc
from google.protobuf import timestamp_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2

__all__ = ["Follower", "history", "import_requests", "stream_all"]

# 2026-01-01T00:00:00Z: the original times of imported histories start here.
EPOCH_2026 = 1_767_225_600


def history(
    count: int, *, start: int = 0, content_bytes: int = 0, uuids: bool = True
) -> list[pb.ImportedMessage]:
    """``count`` imported messages numbered from ``start``: alternating user and
    assistant, each with its own uuid and an original time one minute apart."""
    padding = "x" * content_bytes
    return [
        pb.ImportedMessage(
            uuid=str(uuid.UUID(int=n + 1)) if uuids else "",
            role="Jane" if n % 2 == 0 else "HistoryBot",
            role_type=message_pb2.ROLE_TYPE_USER if n % 2 == 0 else message_pb2.ROLE_TYPE_ASSISTANT,
            content=f"message {n} {padding}",
            created_at=timestamp_pb2.Timestamp(seconds=EPOCH_2026 + 60 * n, nanos=n * 1000),
        )
        for n in range(start, start + count)
    ]


def import_requests(
    session_id: str, messages: Sequence[pb.ImportedMessage], per_request: int = 1000
) -> Iterator[pb.ImportMessagesRequest]:
    """The session in the first request, then the messages ``per_request`` at a time."""
    yield pb.ImportMessagesRequest(session_id=session_id)
    for start in range(0, len(messages), per_request):
        yield pb.ImportMessagesRequest(messages=messages[start : start + per_request])


def stream_all(
    responses: Iterable[pb.StreamMessagesResponse],
) -> tuple[list[message_pb2.Message], list[pb.StreamMessagesResponse]]:
    """Every message of a finished stream, and the responses (without their messages)."""
    messages: list[message_pb2.Message] = []
    frames: list[pb.StreamMessagesResponse] = []
    for response in responses:
        messages.extend(response.messages)
        frames.append(
            pb.StreamMessagesResponse(
                last_sequence=response.last_sequence, caught_up=response.caught_up
            )
        )
    return messages, frames


@dataclass
class Follower:
    """Reads a follow stream on a thread; the test takes what arrived from ``received``."""

    call: grpc.CallIterator[pb.StreamMessagesResponse]
    received: queue.Queue[pb.StreamMessagesResponse] = field(default_factory=queue.Queue)
    error: list[grpc.RpcError] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self.received.put(response)
        except grpc.RpcError as error:
            self.error.append(error)
        finally:
            self.received.put(pb.StreamMessagesResponse(last_sequence=-1))  # end marker

    def next(self, timeout: float = 5.0) -> pb.StreamMessagesResponse:
        return self.received.get(timeout=timeout)

    def messages(self, count: int, timeout: float = 5.0) -> list[message_pb2.Message]:
        """The next ``count`` messages, waiting at most ``timeout`` seconds for each response."""
        messages: list[message_pb2.Message] = []
        while len(messages) < count:
            response = self.next(timeout)
            assert response.last_sequence != -1, f"stream ended: {self.error}"
            messages.extend(response.messages)
        return messages

    def cancel(self) -> None:
        self.call.cancel()  # type: ignore[no-untyped-call]
