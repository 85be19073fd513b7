"""Throughput of ImportMessages and StreamMessages, and GetMemory on a long history.

For each run, starts ``python -m server`` on a fresh store (embedded SQLite
unless --store-url says otherwise), imports --messages chat-like messages
(~200 bytes each, varied text, client uuids and original times, tokens counted
by the server) into one session through ImportMessages, exports them again
through StreamMessages, and times GetMemory on that session against a
100-message one. The server's memory is sampled from /proc/<pid>/status
(VmRSS every 10 ms, and VmHWM) during each phase. Prints each run and the
median of the runs, next to the targets. The requests are serialized before
the clock starts, so the figures are the server's, not the client's.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2

from bench.harness.server_process import ServerProcess

IMPORT = "/memoria.v1.MemoryService/ImportMessages"
STREAM = "/memoria.v1.MemoryService/StreamMessages"
GET = "/memoria.v1.MemoryService/GetMemory"
TARGETS = {
    "import msg/s": ">= 25000",
    "export msg/s": ">= 100000",
    "import peak RSS growth MB": "<= 150",
    "export peak RSS growth MB": "<= 150",
    "GetMemory long/short": "<= 1.2",
}

# Words of the chat-like texts: questions and answers about books, prompts, dates.
_VOCABULARY = (
    "the a of and to in is was for on that with as by at from his her they have said after"
    " before story writer novel science fiction Octavia Butler Kindred Parable Sower Talents"
    " memory session assistant user question answer summary prompt context window token"
    " could would should please thanks explain why how what when where which because maybe"
    " 1947 2006 42 Pasadena California Hugo Nebula award MacArthur fellowship Dawn Xenogenesis"
)
_WORDS = _VOCABULARY.split()


def chat_texts(count: int, seed: int = 7) -> list[str]:
    """Distinct chat-like sentences of 150 to 250 characters."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        target = rng.randint(150, 250)
        words: list[str] = []
        length = 0
        while length < target:
            word = rng.choice(_WORDS)
            words.append(word)
            length += len(word) + 1
        text = " ".join(words)[:target].rstrip()
        texts.append(text[0].upper() + text[1:] + rng.choice(".?!"))
    return texts


def import_batches(messages: int, per_request: int) -> list[bytes]:
    """Serialized ImportMessagesRequests without a session id (the first request names it)."""
    texts = chat_texts(20_011)
    started = 1_700_000_000
    batches = []
    for start in range(0, messages, per_request):
        batch = pb.ImportMessagesRequest()
        for n in range(start, min(messages, start + per_request)):
            user = n % 2 == 0
            batch.messages.append(
                pb.ImportedMessage(
                    uuid=str(uuid.uuid4()),
                    role="Jane" if user else "HistoryBot",
                    role_type=message_pb2.ROLE_TYPE_USER
                    if user
                    else message_pb2.ROLE_TYPE_ASSISTANT,
                    content=f"{texts[n % len(texts)]} ({n})",
                    created_at=timestamp_pb2.Timestamp(seconds=started + n * 7, nanos=n % 1000),
                )
            )
        batches.append(batch.SerializeToString())
    return batches


class MemorySampler:
    """Samples a process's VmRSS (and reads VmHWM) from /proc until stopped."""

    def __init__(self, server: ServerProcess) -> None:
        self._read = server.memory
        self.baseline = self._read("VmRSS")
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._read("VmRSS"))

    def stop(self) -> tuple[float, float]:
        """Peak VmRSS growth and VmHWM growth over the baseline, in MB."""
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._read("VmRSS"))
        hwm = self._read("VmHWM")
        return (self.peak - self.baseline) / 1e6, (hwm - self.baseline) / 1e6


@dataclass
class RunResult:
    import_rate: float
    export_rate: float
    import_rss: float
    export_rss: float
    get_ratio: float
    get_long_ms: float
    get_short_ms: float


def _import(
    channel: grpc.Channel, session_id: str, batches: list[bytes]
) -> pb.ImportMessagesResponse:
    # The requests are serialized already.
    call = channel.stream_unary(
        IMPORT, request_serializer=None, response_deserializer=pb.ImportMessagesResponse.FromString
    )

    def requests() -> Iterator[bytes]:
        yield pb.ImportMessagesRequest(session_id=session_id).SerializeToString()
        yield from batches

    response: pb.ImportMessagesResponse = call(requests(), timeout=3600)
    return response


def _export(channel: grpc.Channel, session_id: str) -> int:
    call = channel.unary_stream(
        STREAM,
        request_serializer=pb.StreamMessagesRequest.SerializeToString,
        response_deserializer=pb.StreamMessagesResponse.FromString,
    )
    count, last = 0, 0
    for response in call(pb.StreamMessagesRequest(session_id=session_id, batch_size=1000)):
        if response.messages[0].sequence != last + 1:
            raise AssertionError(f"gap or repeat after sequence {last}")
        count += len(response.messages)
        last = response.last_sequence
    return count


def _get_memory_ms(
    channel: grpc.Channel, long_id: str, short_id: str, calls: int
) -> tuple[float, float]:
    call = channel.unary_unary(
        GET,
        request_serializer=pb.GetMemoryRequest.SerializeToString,
        response_deserializer=pb.GetMemoryResponse.FromString,
    )
    timings: dict[str, list[float]] = {long_id: [], short_id: []}
    for _ in range(50):  # warm-up
        call(pb.GetMemoryRequest(session_id=long_id))
        call(pb.GetMemoryRequest(session_id=short_id))
    for _ in range(calls):  # interleaved, so drifts hit both alike
        for session_id in (long_id, short_id):
            started = time.perf_counter()
            call(pb.GetMemoryRequest(session_id=session_id))
            timings[session_id].append(time.perf_counter() - started)
    return statistics.median(timings[long_id]) * 1000, statistics.median(timings[short_id]) * 1000


def run_once(
    store_url: str, work_dir: Path, batches: list[bytes], short: list[bytes], messages: int
) -> RunResult:
    server = ServerProcess(store_url, work_dir, {"MEMORIA_ACCESS_LOG": "false"}).start()
    try:
        channel = grpc.insecure_channel(server.address)
        grpc.channel_ready_future(channel).result(timeout=10)
        _import(channel, "warm-up", short)  # first use of every code path
        _export(channel, "warm-up")

        session_id = f"bench-{uuid.uuid4().hex}"
        sampler = MemorySampler(server)
        started = time.perf_counter()
        response = _import(channel, session_id, batches)
        import_seconds = time.perf_counter() - started
        import_rss, import_hwm = sampler.stop()
        if (response.received, response.stored) != (messages, messages):
            raise AssertionError(f"import stored {response.stored} of {messages}")

        sampler = MemorySampler(server)
        started = time.perf_counter()
        exported = _export(channel, session_id)
        export_seconds = time.perf_counter() - started
        export_rss, export_hwm = sampler.stop()
        if exported != messages:
            raise AssertionError(f"exported {exported} of {messages}")

        short_id = f"bench-short-{uuid.uuid4().hex}"
        _import(channel, short_id, short)
        long_ms, short_ms = _get_memory_ms(channel, session_id, short_id, 500)
        channel.close()
    finally:
        server.stop()
    result = RunResult(
        import_rate=messages / import_seconds,
        export_rate=messages / export_seconds,
        import_rss=import_rss,
        export_rss=export_rss,
        get_ratio=long_ms / short_ms,
        get_long_ms=long_ms,
        get_short_ms=short_ms,
    )
    print(
        f"  import {result.import_rate:,.0f} msg/s ({import_seconds:.1f} s),"
        f" RSS +{import_rss:.0f} MB (VmHWM +{import_hwm:.0f} MB)\n"
        f"  export {result.export_rate:,.0f} msg/s ({export_seconds:.1f} s),"
        f" RSS +{export_rss:.0f} MB (VmHWM +{export_hwm:.0f} MB)\n"
        f"  GetMemory median {long_ms:.3f} ms on {messages:,} messages,"
        f" {short_ms:.3f} ms on 100: ratio {result.get_ratio:.2f}",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--per-request", type=int, default=1000, help="messages per import request")
    parser.add_argument("--store-url", default="", help="default: a fresh SQLite file per run")
    args = parser.parse_args()

    started = time.perf_counter()
    batches = import_batches(args.messages, args.per_request)
    short = import_batches(100, 100)
    size = sum(map(len, batches)) / args.messages
    print(
        f"{args.messages:,} messages of ~{size:.0f} bytes serialized in"
        f" {time.perf_counter() - started:.1f} s; {args.runs} runs",
        flush=True,
    )
    results = []
    for run in range(1, args.runs + 1):
        print(f"run {run}:", flush=True)
        with tempfile.TemporaryDirectory() as work_dir:
            store_url = args.store_url or f"sqlite:///{work_dir}/bench.db"
            results.append(run_once(store_url, Path(work_dir), batches, short, args.messages))
    medians = {
        "import msg/s": statistics.median(r.import_rate for r in results),
        "export msg/s": statistics.median(r.export_rate for r in results),
        "import peak RSS growth MB": statistics.median(r.import_rss for r in results),
        "export peak RSS growth MB": statistics.median(r.export_rss for r in results),
        "GetMemory long/short": statistics.median(r.get_ratio for r in results),
    }
    print(f"medians of {args.runs} runs:")
    for name, value in medians.items():
        print(f"  {name:<28} {value:>12,.2f}   target {TARGETS[name]}")


if __name__ == "__main__":
    main()
