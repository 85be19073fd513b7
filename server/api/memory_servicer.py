"""memoria.v1.MemoryService."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

import grpc
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import memory_service_pb2_grpc

from server.api.caller import current_caller
from server.api.convert import (
    add_messages,
    imported_message_input_from_proto,
    memory_type_name,
    message_input_from_proto,
    message_to_proto,
    metadata_from_proto,
    search_answer_to_proto,
    search_input_from_proto,
    summary_to_proto,
)
from server.domain.inputs import ImportBatch
from server.domain.memory import MemoryManager
from server.domain.search.engine import SearchEngine
from server.domain.streams import StreamRequest

__all__ = ["MemoryServicer"]

Context = grpc.aio.ServicerContext[Any, Any]


class MemoryServicer(memory_service_pb2_grpc.MemoryServiceServicer):
    def __init__(self, memory: MemoryManager, search: SearchEngine) -> None:
        self._memory = memory
        self._search = search

    async def AddMemory(
        self, request: pb.AddMemoryRequest, context: Context
    ) -> pb.AddMemoryResponse:
        full = request.view == pb.MESSAGE_VIEW_FULL
        stored = await self._memory.add(
            current_caller().tenant,
            request.session_id,
            [message_input_from_proto(m) for m in request.messages],
            echo_content=full,
        )
        response = pb.AddMemoryResponse()
        add_messages(response.messages, stored, full=full)
        return response

    async def GetMemory(
        self, request: pb.GetMemoryRequest, context: Context
    ) -> pb.GetMemoryResponse:
        memory = await self._memory.get(
            current_caller().tenant,
            request.session_id,
            memory_type_name(request.memory_type),
            request.lastn,
        )
        response = pb.GetMemoryResponse(
            summary=summary_to_proto(memory.summary) if memory.summary else None,
            token_count=memory.token_count,
            omitted_messages=memory.omitted,
        )
        add_messages(response.messages, memory.messages)
        return response

    async def DeleteMemory(
        self, request: pb.DeleteMemoryRequest, context: Context
    ) -> pb.DeleteMemoryResponse:
        await self._memory.delete(current_caller().tenant, request.session_id)
        return pb.DeleteMemoryResponse()

    async def ListMessages(
        self, request: pb.ListMessagesRequest, context: Context
    ) -> pb.ListMessagesResponse:
        page = await self._memory.list_messages(
            current_caller().tenant, request.session_id, request.page_size, request.page_token
        )
        response = pb.ListMessagesResponse(next_page_token=page.next_page_token)
        add_messages(response.messages, page.items)
        return response

    async def GetMessage(
        self, request: pb.GetMessageRequest, context: Context
    ) -> pb.GetMessageResponse:
        message = await self._memory.get_message(
            current_caller().tenant, request.session_id, request.uuid
        )
        return pb.GetMessageResponse(message=message_to_proto(message))

    async def UpdateMessage(
        self, request: pb.UpdateMessageRequest, context: Context
    ) -> pb.UpdateMessageResponse:
        message = await self._memory.update_message(
            current_caller().tenant,
            request.session_id,
            request.uuid,
            list(request.update_mask.paths),
            metadata_from_proto(request.metadata),
        )
        return pb.UpdateMessageResponse(message=message_to_proto(message))

    async def StreamMessages(
        self, request: pb.StreamMessagesRequest, context: Context
    ) -> AsyncIterator[pb.StreamMessagesResponse]:
        # An async generator: grpc.aio asks for the next response only once the
        # previous one is written, i.e. accepted by HTTP/2 flow control, so a slow
        # reader slows the store reads down instead of queueing responses here.
        batches = self._memory.stream_messages(
            current_caller().tenant,
            StreamRequest(
                session_id=request.session_id,
                after_sequence=request.after_sequence,
                after_uuid=request.after_uuid,
                batch_size=request.batch_size,
                follow=request.follow,
                resume_token=request.resume_token,
            ),
        )
        async for batch in batches:
            response = pb.StreamMessagesResponse(
                last_sequence=batch.last_sequence,
                caught_up=batch.caught_up,
                resume_token=batch.resume_token,
            )
            add_messages(response.messages, batch.messages)
            yield response

    async def ImportMessages(
        self, request_iterator: AsyncIterable[pb.ImportMessagesRequest], context: Context
    ) -> pb.ImportMessagesResponse:
        report = await self._memory.import_messages(
            current_caller().tenant, _import_batches(request_iterator)
        )
        return pb.ImportMessagesResponse(
            received=report.received,
            stored=report.stored,
            duplicates=report.duplicates,
            last_sequence=report.last_sequence,
        )

    async def SearchMemory(
        self, request: pb.SearchMemoryRequest, context: Context
    ) -> pb.SearchMemoryResponse:
        answer = await self._search.search(
            current_caller().tenant, search_input_from_proto(request)
        )
        return search_answer_to_proto(answer)


async def _import_batches(
    requests: AsyncIterable[pb.ImportMessagesRequest],
) -> AsyncIterator[ImportBatch]:
    async for request in requests:
        yield ImportBatch(
            request.session_id,
            [imported_message_input_from_proto(m) for m in request.messages],
        )
