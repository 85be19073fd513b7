"""memoria.v1.UserService."""

from __future__ import annotations

from typing import Any

import grpc
from memoria.v1 import user_service_pb2 as pb
from memoria.v1 import user_service_pb2_grpc

from server.api.caller import current_caller
from server.api.convert import metadata_from_proto, session_to_proto, user_to_proto
from server.domain.users import UserFields, UserManager

__all__ = ["UserServicer"]

Context = grpc.aio.ServicerContext[Any, Any]


def _fields(request: pb.CreateUserRequest | pb.UpdateUserRequest) -> UserFields:
    return UserFields(
        email=request.email,
        first_name=request.first_name,
        last_name=request.last_name,
        metadata=metadata_from_proto(request.metadata),
    )


class UserServicer(user_service_pb2_grpc.UserServiceServicer):
    def __init__(self, users: UserManager) -> None:
        self._users = users

    async def CreateUser(
        self, request: pb.CreateUserRequest, context: Context
    ) -> pb.CreateUserResponse:
        user = await self._users.create(current_caller().tenant, request.user_id, _fields(request))
        return pb.CreateUserResponse(user=user_to_proto(user))

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> pb.GetUserResponse:
        user = await self._users.get(current_caller().tenant, request.user_id)
        return pb.GetUserResponse(user=user_to_proto(user))

    async def UpdateUser(
        self, request: pb.UpdateUserRequest, context: Context
    ) -> pb.UpdateUserResponse:
        user = await self._users.update(
            current_caller().tenant,
            request.user_id,
            list(request.update_mask.paths),
            _fields(request),
        )
        return pb.UpdateUserResponse(user=user_to_proto(user))

    async def DeleteUser(
        self, request: pb.DeleteUserRequest, context: Context
    ) -> pb.DeleteUserResponse:
        deleted = await self._users.delete(current_caller().tenant, request.user_id)
        return pb.DeleteUserResponse(deleted_sessions=deleted)

    async def ListUsers(
        self, request: pb.ListUsersRequest, context: Context
    ) -> pb.ListUsersResponse:
        page = await self._users.list_users(
            current_caller().tenant, request.page_size, request.page_token
        )
        return pb.ListUsersResponse(
            users=[user_to_proto(u) for u in page.items], next_page_token=page.next_page_token
        )

    async def ListUserSessions(
        self, request: pb.ListUserSessionsRequest, context: Context
    ) -> pb.ListUserSessionsResponse:
        page = await self._users.list_sessions(
            current_caller().tenant, request.user_id, request.page_size, request.page_token
        )
        return pb.ListUserSessionsResponse(
            sessions=[session_to_proto(s) for s in page.items],
            next_page_token=page.next_page_token,
        )
