"""Server reflection that serves the contract with its comments.

grpcio-reflection answers from a descriptor pool, and protobuf's pool (upb)
keeps no comments (``source_code_info``) of the files it holds, so ``grpcurl
describe`` would show the API without its documentation. ``make generate`` also
writes ``memoria.binpb``, the descriptors of ``protos/`` with their comments;
``DocumentedPool`` hands those out in place of the pool's comment-less copies.

Both reflection protocols are served: ``grpc.reflection.v1`` (what current tools
try first, and all that some speak) and ``grpc.reflection.v1alpha``.
grpcio-reflection implements only v1alpha; v1 is the same protocol under another
package (same messages, same field numbers), so one servicer answers both.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from typing import Any, cast

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.descriptor_pool import DescriptorPool

# The errors' details (google.rpc.BadRequest, ErrorInfo, ResourceInfo, Status) must be
# in the pool for reflection to serve them, so that grpcurl can decode them.
from google.rpc import error_details_pb2, status_pb2  # noqa: F401
from grpc_reflection.v1alpha import reflection, reflection_pb2

__all__ = ["REFLECTION_V1", "REFLECTION_V1ALPHA", "DocumentedPool", "enable_reflection"]

DESCRIPTOR_SET = "memoria.binpb"
REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"
REFLECTION_V1ALPHA = reflection.SERVICE_NAME


def enable_reflection(server: grpc.Server, service_names: Sequence[str]) -> None:
    """Serves reflection v1 and v1alpha for ``service_names`` and themselves."""
    _add_reflection_v1_file()
    # ``aio`` is public (in the module's __all__) but missing from its type stubs.
    servicer = reflection.aio.ReflectionServicer(  # type: ignore[attr-defined]
        [*service_names, REFLECTION_V1, REFLECTION_V1ALPHA],
        pool=cast(DescriptorPool, DocumentedPool()),
    )
    info = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(service, {"ServerReflectionInfo": info})
            for service in (REFLECTION_V1, REFLECTION_V1ALPHA)
        ]
    )


def _add_reflection_v1_file() -> None:
    """Puts ``grpc/reflection/v1/reflection.proto`` into the default pool.

    It is v1alpha's file under the v1 package (and without v1alpha's deprecation),
    so that clients of v1 can describe the service they are talking to.
    """
    pool = descriptor_pool.Default()
    name = "grpc/reflection/v1/reflection.proto"
    try:
        pool.FindFileByName(name)
        return
    except KeyError:
        pass
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    old, new = file.package, "grpc.reflection.v1"
    file.name, file.package = name, new
    file.options.Clear()
    file.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    file.options.java_package = "io.grpc.reflection.v1"
    file.options.java_outer_classname = "ServerReflectionProto"
    file.options.java_multiple_files = True
    for message in file.message_type:
        for field in message.field:
            if field.HasField("type_name"):
                field.type_name = field.type_name.replace(f".{old}.", f".{new}.")
    for method in file.service[0].method:
        method.input_type = method.input_type.replace(f".{old}.", f".{new}.")
        method.output_type = method.output_type.replace(f".{old}.", f".{new}.")
    pool.AddSerializedFile(file.SerializeToString())


def _documented_files() -> dict[str, descriptor_pb2.FileDescriptorProto]:
    data = resources.files("memoria.v1").joinpath(DESCRIPTOR_SET).read_bytes()
    return {file.name: file for file in descriptor_pb2.FileDescriptorSet.FromString(data).file}


class _DocumentedFile:
    """What the reflection service uses of a ``FileDescriptor``."""

    def __init__(
        self, descriptor: FileDescriptor, documented: dict[str, descriptor_pb2.FileDescriptorProto]
    ) -> None:
        self._descriptor = descriptor
        self._documented = documented

    @property
    def name(self) -> str:
        return self._descriptor.name

    @property
    def dependencies(self) -> list[_DocumentedFile]:
        return [_DocumentedFile(d, self._documented) for d in self._descriptor.dependencies]

    def CopyToProto(self, proto: descriptor_pb2.FileDescriptorProto) -> None:
        """The pool's copy, plus the comments when the file is one of ``protos/``.

        Only the comments are taken from ``memoria.binpb``: protoc's copy also has
        fields (``json_name``) that would change how grpcurl prints JSON. The
        comments' locations are paths of indexes into the file, which both copies
        number alike.
        """
        self._descriptor.CopyToProto(proto)
        documented = self._documented.get(self._descriptor.name)
        if documented is not None:
            proto.source_code_info.CopyFrom(documented.source_code_info)


class DocumentedPool:
    """The default descriptor pool, with the files of ``protos/`` documented."""

    def __init__(self) -> None:
        self._pool = descriptor_pool.Default()
        self._documented = _documented_files()

    def FindFileByName(self, name: str) -> _DocumentedFile:
        return _DocumentedFile(self._pool.FindFileByName(name), self._documented)

    def FindFileContainingSymbol(self, symbol: str) -> _DocumentedFile:
        """Also finds a method (``memoria.v1.MemoryService.GetMemory``), which the pool
        does not index: the file of its service (``grpcurl describe`` asks for it)."""
        try:
            return _DocumentedFile(self._pool.FindFileContainingSymbol(symbol), self._documented)
        except KeyError:
            service_name, _, method = symbol.rpartition(".")
            try:
                service = self._pool.FindServiceByName(service_name)
            except KeyError:
                service = None
            if service is None or method not in service.methods_by_name:
                raise
            return _DocumentedFile(service.file, self._documented)

    def __getattr__(self, name: str) -> Any:
        # Extension look-ups, which need nothing but the pool's own descriptors.
        return getattr(self._pool, name)
