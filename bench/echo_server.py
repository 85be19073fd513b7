"""The ceiling: a bare grpc.aio server answering MemoryService's AddMemory and
GetMemory with fixed bytes, without parsing the request or storing anything.

``python -m bench.echo_server`` prints ``listening on 127.0.0.1:PORT`` and serves
until SIGTERM; ``bench.ceiling`` drives it beside Memoria with the same client.
``--loop uvloop`` runs it on the event loop Memoria runs on by default, and
``--threads batch`` puts its other threads under SCHED_BATCH as Memoria does
(``server/thread_scheduling.py``); asyncio's loop and the normal policy are the
defaults here, the ceiling as first measured. ``--listen HOST:PORT`` joins a port
another echo serves (SO_REUSEPORT), for ``bench.ceiling --echo-processes``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

import grpc
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2

from server.thread_scheduling import keep_other_threads_deferred

# Answers of the size Memoria gives: one stored message, a window of 12.
_STORED = message_pb2.Message(uuid="5b0e6a8e-3c1f-4a8e-9d6b-1f2a3b4c5d01", sequence=1)
_ADD_ANSWER = pb.AddMemoryResponse(messages=[_STORED]).SerializeToString()
_WINDOW = [
    message_pb2.Message(
        uuid="5b0e6a8e-3c1f-4a8e-9d6b-1f2a3b4c5d01",
        role="Jane",
        role_type=message_pb2.ROLE_TYPE_USER,
        content="x" * 200,
        token_count=40,
        sequence=n,
    )
    for n in range(1, 13)
]
_GET_ANSWER = pb.GetMemoryResponse(messages=_WINDOW, token_count=480).SerializeToString()


def _fixed(answer: bytes) -> grpc.RpcMethodHandler:  # type: ignore[type-arg]
    async def handle(request: bytes, context: Any) -> bytes:
        return answer

    return grpc.unary_unary_rpc_method_handler(handle)


async def serve(listen: str, batch_threads: bool) -> None:
    # SO_REUSEPORT: several echo processes may serve one port, as Memoria's workers do.
    server = grpc.aio.server(options=[("grpc.so_reuseport", 1)])
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "memoria.v1.MemoryService",
                {"AddMemory": _fixed(_ADD_ANSWER), "GetMemory": _fixed(_GET_ANSWER)},
            )
        ]
    )
    port = server.add_insecure_port(listen)
    await server.start()
    print(f"listening on {listen.rsplit(':', 1)[0]}:{port}", flush=True)
    deferring = asyncio.create_task(keep_other_threads_deferred()) if batch_threads else None
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if deferring:
        deferring.cancel()
    await server.stop(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--threads", choices=["normal", "batch"], default="normal")
    parser.add_argument("--listen", default="127.0.0.1:0", help="host:port; port 0: any free one")
    args = parser.parse_args()
    main = serve(args.listen, args.threads == "batch")
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)
