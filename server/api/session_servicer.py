"""memoria.v1.SessionService."""

from __future__ import annotations

from typing import Any

import grpc
from memoria.v1 import session_service_pb2 as pb
from memoria.v1 import session_service_pb2_grpc

from server.api.caller import current_caller
from server.api.convert import metadata_from_proto, session_to_proto
from server.domain.sessions import SessionManager

__all__ = ["SessionServicer"]

Context = grpc.aio.ServicerContext[Any, Any]


class SessionServicer(session_service_pb2_grpc.SessionServiceServicer):
    def __init__(self, sessions: SessionManager) -> None:
        self._sessions = sessions

    async def CreateSession(
        self, request: pb.CreateSessionRequest, context: Context
    ) -> pb.CreateSessionResponse:
        session = await self._sessions.create(
            current_caller().tenant,
            request.session_id,
            request.user_id,
            metadata_from_proto(request.metadata),
        )
        return pb.CreateSessionResponse(session=session_to_proto(session))

    async def GetSession(
        self, request: pb.GetSessionRequest, context: Context
    ) -> pb.GetSessionResponse:
        session = await self._sessions.get(current_caller().tenant, request.session_id)
        return pb.GetSessionResponse(session=session_to_proto(session))

    async def UpdateSession(
        self, request: pb.UpdateSessionRequest, context: Context
    ) -> pb.UpdateSessionResponse:
        session = await self._sessions.update(
            current_caller().tenant,
            request.session_id,
            list(request.update_mask.paths),
            request.user_id,
            metadata_from_proto(request.metadata),
        )
        return pb.UpdateSessionResponse(session=session_to_proto(session))

    async def DeleteSession(
        self, request: pb.DeleteSessionRequest, context: Context
    ) -> pb.DeleteSessionResponse:
        await self._sessions.delete(current_caller().tenant, request.session_id)
        return pb.DeleteSessionResponse()

    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: Context
    ) -> pb.ListSessionsResponse:
        page = await self._sessions.list_sessions(
            current_caller().tenant, request.user_id, request.page_size, request.page_token
        )
        return pb.ListSessionsResponse(
            sessions=[session_to_proto(s) for s in page.items],
            next_page_token=page.next_page_token,
        )
