"""Server reflection that serves the contract with its comments.

grpcio-reflection answers from a descriptor pool, and protobuf's pool (upb)
keeps no comments (``source_code_info``) of the files it holds, so ``grpcurl
describe`` would show the API without its documentation. ``make generate`` also
writes ``memoria.binpb``, the descriptors of ``protos/`` with their comments;
``DocumentedPool`` hands those out in place of the pool's comment-less copies.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FileDescriptor

__all__ = ["DocumentedPool"]

DESCRIPTOR_SET = "memoria.binpb"


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
        return _DocumentedFile(self._pool.FindFileContainingSymbol(symbol), self._documented)

    def __getattr__(self, name: str) -> Any:
        # Extension look-ups, which need nothing but the pool's own descriptors.
        return getattr(self._pool, name)
