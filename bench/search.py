"""SearchMemory: quality, latency, indexing throughput and import rate, on each store.

Starts ``python -m server`` on a fresh store of each kind asked for (by default
both: a SQLite file, and a MongoDB database on ``MEMORIA_TEST_MONGODB_URI`` or on
a FerretDB started for the purpose), with the embedder given by --embedder
(default: wordllama, the server's default), and everything through the real RPCs:

- Quality: loads the labelled evaluation set (``bench/search_eval/corpus.json``:
  3 users, 11 sessions, 272 messages, 62 queries) through CreateUser,
  CreateSession and ImportMessages, waits until SearchMemory reports nothing
  unindexed, runs every query with each search type (limit 10) and prints
  recall@10 and MRR per type, for all queries and for the paraphrase and the
  exact-term ones apart.
- Scale, for each of --sizes: a fresh store and a user whose sessions of up to
  10,000 messages hold that many chat-like messages, imported through
  ImportMessages while indexing runs (the import rate); the time until nothing
  is unindexed (indexing throughput: messages / seconds from the import's start);
  then up to --queries searches per type over the user's sessions, one in
  flight, for about --seconds per type (p50 and p99), with how many answers
  said they were truncated.

Figures are printed, never asserted. --quick: one size of 2,000 and 20 queries.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import timestamp_pb2
from memoria.v1 import memory_service_pb2 as pb
from memoria.v1 import message_pb2, session_service_pb2, user_service_pb2

from bench.harness.server_process import ServerProcess
from bench.harness.stores import fresh_store_url
from bench.harness.stubs import Stubs
from bench.latency import percentile
from bench.search_eval.corpus import Corpus, EvalQuery, EvalSession, load_corpus
from bench.streams import import_batches

SEARCH_TYPES: dict[str, pb.SearchType.ValueType] = {
    "keyword": pb.SEARCH_TYPE_KEYWORD,
    "semantic": pb.SEARCH_TYPE_SEMANTIC,
    "hybrid": pb.SEARCH_TYPE_HYBRID,
}
ROLE_TYPES = {"user": message_pb2.ROLE_TYPE_USER, "assistant": message_pb2.ROLE_TYPE_ASSISTANT}
SESSION_SIZE = 10_000  # messages per session of the scale runs' user
LIMIT = 10
MIN_TIMED = 10  # searches per type, whatever --seconds says
# Indexing that makes no progress for this long is reported as stalled.
STALL_SECONDS = 300.0
PROGRESS_REST_MAX = 60.0


class NotServed(Exception):
    """The server answers SearchMemory with UNIMPLEMENTED."""


class Stalled(Exception):
    """Indexing stopped making progress."""


@dataclass
class Quality:
    recall: float
    mrr: float
    queries: int


@dataclass
class Latency:
    p50: float  # ms
    p99: float
    searches: int
    truncated: int  # answers that said so
    failed: str  # how many searches failed, per status code


@dataclass
class ScaleRun:
    store: str
    messages: int
    import_rate: float | None  # None: the import failed
    indexed_rate: float | None  # None: SearchMemory not served
    catch_up_seconds: float | None
    latency_ms: dict[str, Latency]  # per search type
    failure: str = ""  # why there are no search figures


def search(
    stubs: Stubs,
    query: str,
    search_type: pb.SearchType.ValueType,
    *,
    user_id: str = "",
    session_id: str = "",
    limit: int = LIMIT,
) -> pb.SearchMemoryResponse:
    request = pb.SearchMemoryRequest(
        user_id=user_id, session_id=session_id, query=query, limit=limit, search_type=search_type
    )
    try:
        response: pb.SearchMemoryResponse = stubs.memory.SearchMemory(request, timeout=600)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:
            raise NotServed from error
        raise
    return response


def wait_until_indexed(stubs: Stubs, user_ids: Sequence[str], semantic: bool) -> float:
    """Seconds until SearchMemory finds nothing unindexed for any of ``user_ids``;
    ``Stalled`` when the count of unindexed messages stays put for STALL_SECONDS."""
    # Hybrid counts messages without terms or without a vector; keyword only the former.
    search_type = pb.SEARCH_TYPE_HYBRID if semantic else pb.SEARCH_TYPE_KEYWORD
    started = progressed = time.perf_counter()
    waiting = list(user_ids)
    fewest: int | None = None
    while waiting:
        asked = time.perf_counter()
        try:
            answer = search(stubs, "progress", search_type, user_id=waiting[0], limit=1)
        except grpc.RpcError as error:
            print(f"  (progress search failed: {error.code().name}: {error.details()})", flush=True)
        else:
            if answer.unindexed_messages == 0:
                waiting.pop(0)
                fewest, progressed = None, time.perf_counter()
                continue
            if fewest is None or answer.unindexed_messages < fewest:
                fewest, progressed = answer.unindexed_messages, time.perf_counter()
        # Judged on a fresh answer, never on the time spent resting before it.
        if time.perf_counter() - progressed > STALL_SECONDS:
            raise Stalled(f"{fewest} messages unindexed for {STALL_SECONDS:.0f} s")
        # A search costs the server CPU that indexing needs (a failed one too): ask at
        # most a tenth of the time, and at least every PROGRESS_REST_MAX seconds.
        time.sleep(min(PROGRESS_REST_MAX, max(0.1, 9 * (time.perf_counter() - asked))))
    return time.perf_counter() - started


def import_session(stubs: Stubs, session: EvalSession) -> None:
    stubs.sessions.CreateSession(
        session_service_pb2.CreateSessionRequest(
            session_id=session.session_id, user_id=session.user_id
        )
    )
    batch = pb.ImportMessagesRequest(session_id=session.session_id)
    for message in session.messages:
        created_at = timestamp_pb2.Timestamp()
        created_at.FromDatetime(message.created_at)
        batch.messages.append(
            pb.ImportedMessage(
                uuid=message.uuid,
                role=message.role,
                role_type=ROLE_TYPES[message.role_type],
                content=message.content,
                created_at=created_at,
            )
        )
    response = stubs.memory.ImportMessages(iter([batch]))
    if response.received != len(session.messages):
        raise AssertionError(f"{session.session_id}: {response.received} messages received")


def load_evaluation_set(stubs: Stubs, corpus: Corpus) -> None:
    for user in corpus.users:
        stubs.users.CreateUser(
            user_service_pb2.CreateUserRequest(
                user_id=user["user_id"],
                email=user["email"],
                first_name=user["first_name"],
                last_name=user["last_name"],
            )
        )
    for session in corpus.sessions:
        import_session(stubs, session)


def evaluate(stubs: Stubs, queries: Sequence[EvalQuery], search_type: str) -> dict[str, Quality]:
    """recall@10 and MRR of ``search_type`` over all queries and per kind of query."""
    per_kind: dict[str, list[tuple[float, float]]] = {"all": []}
    for query in queries:
        try:
            answer = search(
                stubs,
                query.query,
                SEARCH_TYPES[search_type],
                user_id=query.user_id or "",
                session_id=query.session_id or "",
            )
            found = [result.message.uuid for result in answer.results]
        except grpc.RpcError as error:  # counts as finding nothing
            print(f"  {search_type} {query.query!r} failed: {error.code().name}", flush=True)
            found = []
        recall = len(query.relevant.intersection(found)) / len(query.relevant)
        first = next((rank for rank, id_ in enumerate(found, 1) if id_ in query.relevant), None)
        scores = (recall, 1 / first if first else 0.0)
        per_kind["all"].append(scores)
        per_kind.setdefault(query.kind, []).append(scores)
    return {
        kind: Quality(
            recall=statistics.fmean(recall for recall, _ in scores),
            mrr=statistics.fmean(reciprocal for _, reciprocal in scores),
            queries=len(scores),
        )
        for kind, scores in per_kind.items()
    }


def measure_quality(
    store_url: str, work_dir: Path, env: dict[str, str], corpus: Corpus
) -> dict[str, dict[str, Quality]] | None:
    """Quality per search type (None when SearchMemory is not served)."""
    server = ServerProcess(store_url, work_dir, env).start()
    try:
        stubs = Stubs.connect(server.address)
        load_evaluation_set(stubs, corpus)
        semantic = env.get("MEMORIA_EMBEDDER") != "none"
        try:
            seconds = wait_until_indexed(
                stubs, [user["user_id"] for user in corpus.users], semantic
            )
        except NotServed:
            print("  SearchMemory is not served (UNIMPLEMENTED): no quality figures", flush=True)
            return None
        except Stalled as stalled:
            print(f"  indexing stalled ({stalled}): no quality figures", flush=True)
            return None
        print(f"  {corpus.message_count} messages indexed after {seconds:.1f} s", flush=True)
        types = SEARCH_TYPES if semantic else {"keyword": pb.SEARCH_TYPE_KEYWORD}
        results = {
            search_type: evaluate(stubs, corpus.queries, search_type) for search_type in types
        }
        stubs.close()
        return results
    finally:
        server.stop()


def scale_user_batches(messages: int) -> Iterator[tuple[str, list[bytes]]]:
    """(session id, serialized ImportMessagesRequests) of sessions of up to SESSION_SIZE."""
    for start in range(0, messages, SESSION_SIZE):
        count = min(SESSION_SIZE, messages - start)
        yield f"scale-{start // SESSION_SIZE:03d}", import_batches(count, 1000)


def import_serialized(stubs: Stubs, session_id: str, batches: list[bytes]) -> int:
    call = stubs.channel.stream_unary(
        "/memoria.v1.MemoryService/ImportMessages",
        request_serializer=None,
        response_deserializer=pb.ImportMessagesResponse.FromString,
    )

    def requests() -> Iterator[bytes]:
        yield pb.ImportMessagesRequest(session_id=session_id).SerializeToString()
        yield from batches

    response: pb.ImportMessagesResponse = call(requests(), timeout=3600)
    return response.stored


def measure_scale(
    kind: str,
    store_url: str,
    work_dir: Path,
    env: dict[str, str],
    messages: int,
    queries: Sequence[str],
    seconds: float,
) -> ScaleRun:
    sessions = list(scale_user_batches(messages))  # serialized before the clock starts
    server = ServerProcess(store_url, work_dir, env).start()
    try:
        stubs = Stubs.connect(server.address)
        user_id = "scale-user"
        stubs.users.CreateUser(user_service_pb2.CreateUserRequest(user_id=user_id))
        for session_id, _ in sessions:
            stubs.sessions.CreateSession(
                session_service_pb2.CreateSessionRequest(session_id=session_id, user_id=user_id)
            )
        started = time.perf_counter()
        try:
            stored = sum(
                import_serialized(stubs, session_id, batches) for session_id, batches in sessions
            )
        except grpc.RpcError as error:
            print(f"  import failed: {error.code().name}: {error.details()}", flush=True)
            return ScaleRun(kind, messages, None, None, None, {}, failure="import failed")
        imported = time.perf_counter()
        if stored != messages:
            raise AssertionError(f"import stored {stored} of {messages}")
        run = ScaleRun(kind, messages, messages / (imported - started), None, None, {})
        print(f"  {messages:,} messages imported at {run.import_rate:,.0f} msg/s", flush=True)
        semantic = env.get("MEMORIA_EMBEDDER") != "none"
        try:
            wait_until_indexed(stubs, [user_id], semantic)
        except NotServed:
            print("  SearchMemory is not served (UNIMPLEMENTED): no search figures", flush=True)
            return run
        except Stalled as stalled:
            print(f"  indexing stalled ({stalled}): no search figures", flush=True)
            run.failure = "stalled"
            return run
        indexed = time.perf_counter()
        run.indexed_rate = messages / (indexed - started)
        run.catch_up_seconds = indexed - imported
        print(
            f"  all indexed {run.catch_up_seconds:.1f} s after the import:"
            f" {run.indexed_rate:,.0f} msg/s from its start",
            flush=True,
        )
        types = SEARCH_TYPES if semantic else {"keyword": pb.SEARCH_TYPE_KEYWORD}
        for name, search_type in types.items():
            for query in queries[:3]:  # warm-up (the timed searches count failures)
                with contextlib.suppress(grpc.RpcError):
                    search(stubs, query, search_type, user_id=user_id)
            samples, truncated, failed = [], 0, Counter[str]()
            deadline = time.perf_counter() + seconds
            for query in queries:
                began = time.perf_counter()
                try:
                    truncated += search(stubs, query, search_type, user_id=user_id).truncated
                except grpc.RpcError as error:  # timed all the same
                    failed[error.code().name] += 1
                samples.append(time.perf_counter() - began)
                if began > deadline and len(samples) >= MIN_TIMED:
                    break
            run.latency_ms[name] = Latency(
                p50=statistics.median(samples) * 1000,
                p99=percentile(samples, 0.99) * 1000,
                searches=len(samples),
                truncated=truncated,
                failed=", ".join(f"{count} {code}" for code, count in failed.items()),
            )
        stubs.close()
        return run
    finally:
        server.stop()


def print_quality(results: dict[str, dict[str, dict[str, Quality]]]) -> None:
    print("\nquality: recall@10 / MRR (limit 10)")
    kinds = ["all", "paraphrase", "exact"]
    print(f"  {'store':8} {'type':9} " + " ".join(f"{kind:>17}" for kind in kinds))
    for store, per_type in results.items():
        for search_type, per_kind in per_type.items():
            cells = [
                f"{per_kind[kind].recall:.3f} / {per_kind[kind].mrr:.3f}".rjust(17)
                for kind in kinds
            ]
            print(f"  {store:8} {search_type:9} " + " ".join(cells))
    some = next(iter(results.values()), {})
    counts = next(iter(some.values()), {})
    if counts:
        print("  queries: " + ", ".join(f"{kind} {counts[kind].queries}" for kind in kinds))


def print_scale(runs: list[ScaleRun]) -> None:
    print("\nscale: one user's sessions of up to 10,000 messages each, one search in flight")
    print(
        f"  {'store':8} {'messages':>9} {'import/s':>9} {'indexed/s':>10} {'catch-up':>9}"
        f"  {'type':9} {'p50 ms':>8} {'p99 ms':>8} {'searches':>8} {'truncated':>9}  failed"
    )
    for run in runs:
        indexed = f"{run.indexed_rate:,.0f}" if run.indexed_rate else "-"
        imports = f"{run.import_rate:,.0f}" if run.import_rate else "-"
        catch_up = f"{run.catch_up_seconds:.1f} s" if run.catch_up_seconds is not None else "-"
        head = f"  {run.store:8} {run.messages:>9,} {imports:>9} {indexed:>10} {catch_up:>9}"
        if not run.latency_ms:
            print(f"{head}  {run.failure}")
        for name, latency in run.latency_ms.items():
            print(
                f"{head}  {name:9} {latency.p50:>8.1f} {latency.p99:>8.1f}"
                f" {latency.searches:>8} {latency.truncated:>9}  {latency.failed or '-'}"
            )
            head = " " * len(head)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", choices=["sqlite", "mongodb", "both"], default="both")
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="messages in scope of the scale runs, comma-separated; empty: no scale runs",
    )
    parser.add_argument("--queries", type=int, default=200, help="most timed searches per type")
    parser.add_argument(
        "--seconds",
        type=float,
        default=60,
        help=f"stop timing a type after this long (but not before {MIN_TIMED} searches)",
    )
    parser.add_argument("--embedder", default="wordllama", help="MEMORIA_EMBEDDER of the server")
    parser.add_argument("--no-quality", action="store_true", help="skip the evaluation set")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the server (repeatable)"
    )
    parser.add_argument("--quick", action="store_true", help="--sizes 2000 --queries 20")
    args = parser.parse_args()
    sizes = [int(size) for size in ("2000" if args.quick else args.sizes).split(",") if size]
    query_count = 20 if args.quick else args.queries

    env = {"MEMORIA_ACCESS_LOG": "false", "MEMORIA_EMBEDDER": args.embedder}
    env.update(variable.split("=", 1) for variable in args.env)
    corpus = load_corpus()
    texts = [query.query for query in corpus.queries]
    queries = [texts[n % len(texts)] for n in range(query_count)]
    kinds = ["sqlite", "mongodb"] if args.store == "both" else [args.store]
    quality: dict[str, dict[str, dict[str, Quality]]] = {}
    runs: list[ScaleRun] = []
    for kind in kinds:
        if not args.no_quality:
            print(f"{kind}: evaluation set", flush=True)
            with tempfile.TemporaryDirectory() as work, fresh_store_url(kind, Path(work)) as url:
                measured = measure_quality(url, Path(work), env, corpus)
            if measured is not None:
                quality[kind] = measured
                print_quality({kind: measured})
        for size in sizes:
            print(f"{kind}: {size:,} messages", flush=True)
            with tempfile.TemporaryDirectory() as work, fresh_store_url(kind, Path(work)) as url:
                runs.append(measure_scale(kind, url, Path(work), env, size, queries, args.seconds))
    print(f"\nSearchMemory, embedder {args.embedder}")
    if quality:
        print_quality(quality)
    if runs:
        print_scale(runs)


if __name__ == "__main__":
    main()
