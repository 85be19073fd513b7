"""Composition root: settings → adapters → domain → gRPC server, and its lifecycle.

The only module that knows every layer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import grpc

from server.api.authentication import Authenticate
from server.api.grpc_server import SERVICE_NAMES, create_grpc_server
from server.api.health import EMBEDDER_SERVICE, SUMMARIZER_SERVICE, StoreHealth
from server.api.tls import server_credentials
from server.config import Settings, without_password
from server.domain.append_listeners import AppendListeners
from server.domain.authentication import Authenticator, anonymous
from server.domain.call_load import CallLoad
from server.domain.errors import ConfigurationError
from server.domain.memory import MemoryManager
from server.domain.ports.embedder import Embedder
from server.domain.ports.keys import KeyStore
from server.domain.ports.store import Store
from server.domain.ports.summarizer import Summarizer
from server.domain.ports.token_counter import TokenCounter
from server.domain.search.engine import Fusion, SearchEngine, SearchSettings
from server.domain.search.indexer import DEFAULT_SETTINGS as INDEXING
from server.domain.search.indexer import SearchIndexer
from server.domain.sessions import SessionManager
from server.domain.summary_folding import SummaryFolder
from server.domain.summary_worker import SummaryWorker, WorkerSettings
from server.domain.users import UserManager
from server.domain.validation import Limits
from server.embedders.open import close_embedder, open_embedder
from server.listen_address import check_listen_address, check_port_free
from server.storage.open import open_store
from server.summarizers.open import LlmEndpoint, open_summarizer
from server.tokenizers.offline_encodings import load_encoding
from server.tokenizers.tiktoken_counter import TiktokenCounter

__all__ = ["RunningServer", "running_server"]

log = logging.getLogger("memoria")


@dataclass(frozen=True)
class RunningServer:
    server: grpc.aio.Server
    port: int
    health: StoreHealth


@dataclass(frozen=True)
class _Domain:
    memory: MemoryManager
    sessions: SessionManager
    users: UserManager
    worker: SummaryWorker
    search: SearchEngine
    indexer: SearchIndexer


@asynccontextmanager
async def running_server(
    settings: Settings, *, share_port: bool = False
) -> AsyncIterator[RunningServer]:
    """Starts the server; on exit, shuts down gracefully and closes the store.

    Shutdown order: health turns NOT_SERVING, new calls are refused, in-flight
    calls get ``shutdown_grace`` seconds to finish, then the store closes.
    ``share_port``: one of several worker processes on a port their parent holds.
    """
    host, loopback = check_listen_address(settings.listen, api_keys=settings.auth == "api-key")
    if not share_port:
        check_port_free(settings.listen)
    if not loopback and settings.tls_cert is None:
        log.warning(
            "serving %s without TLS: API keys and data cross the network in clear unless a"
            " proxy or mesh in front terminates TLS (see MEMORIA_TLS_CERT)",
            settings.listen,
        )
    counter = TiktokenCounter(load_encoding(settings.token_encoding, settings.tiktoken_cache_dir))
    load = CallLoad()
    embedder = _embedder(settings)
    async with (
        open_summarizer(
            settings.summarizer,
            counter,
            token_budget=settings.summary_token_budget,
            llm=_llm_endpoint(settings),
        ) as summarizer,
        open_store(settings.store_url, load) as store,
    ):
        health = StoreHealth(store.ping, SERVICE_NAMES, settings.health_interval)
        domain = _build_domain(settings, store, summarizer, embedder, counter, health, load)
        server = create_grpc_server(
            memory=domain.memory,
            search=domain.search,
            sessions=domain.sessions,
            users=domain.users,
            health=health,
            authenticate=_authenticate(settings, store),
            max_request_bytes=settings.max_request_bytes,
            share_port=share_port,
            load=load,
        )
        port = _add_port(server, settings)
        await health.start()
        await health.report(SUMMARIZER_SERVICE, True)
        await health.report(EMBEDDER_SERVICE, True)
        # A local model loads now, not during the first writes; an endpoint gets 10 s.
        await domain.indexer.warm_up(within=min(settings.embeddings_timeout, 10))
        await server.start()
        domain.worker.start()
        domain.indexer.start()
        log.info(
            "listening on %s:%d (%s, auth %s, store %s, window %d, encoding %s, summarizer %s,"
            " embedder %s, event loop %s)",
            host,
            port,
            _transport(settings),
            settings.auth,
            without_password(settings.store_url),
            settings.window,
            counter.encoding_name,
            summarizer.name,
            embedder.name if embedder else "none",
            type(asyncio.get_running_loop()).__module__.partition(".")[0],
        )
        try:
            yield RunningServer(server, port, health)
        finally:
            await _shut_down(server, health, domain, settings.shutdown_grace)
            await close_embedder(embedder)


def _authenticate(settings: Settings, keys: KeyStore) -> Authenticate:
    if settings.auth == "none":
        return anonymous
    return Authenticator(keys, cache_seconds=settings.key_cache_seconds).authenticate


def _add_port(server: grpc.aio.Server, settings: Settings) -> int:
    try:
        if settings.tls_cert is None or settings.tls_key is None:
            return server.add_insecure_port(settings.listen)
        credentials = server_credentials(
            settings.tls_cert, settings.tls_key, settings.tls_client_ca
        )
        return server.add_secure_port(settings.listen, credentials)
    except RuntimeError as exc:  # grpc's "Failed to bind to address"
        raise ConfigurationError(
            f"cannot listen on {settings.listen}: the address is in use or not available"
        ) from exc


def _transport(settings: Settings) -> str:
    if settings.tls_cert is None:
        return "plaintext"
    return "mTLS" if settings.tls_client_ca is not None else "TLS"


def _build_domain(
    settings: Settings,
    store: Store,
    summarizer: Summarizer,
    embedder: Embedder | None,
    counter: TokenCounter,
    health: StoreHealth,
    load: CallLoad,
) -> _Domain:
    limits = Limits(
        max_content_bytes=settings.max_content_bytes,
        max_metadata_bytes=settings.max_metadata_bytes,
        max_messages_per_request=settings.max_messages_per_request,
        max_response_bytes=settings.max_response_bytes,
    )
    folder = SummaryFolder(
        store,
        summarizer,
        counter,
        window=settings.window,
        chunk_tokens=settings.summary_chunk_tokens,
    )
    background = WorkerSettings(
        lease_seconds=settings.summary_lease,
        retry_initial=settings.summary_retry_initial,
        retry_max=settings.summary_retry_max,
        concurrency=settings.summary_concurrency,
        duty_cycle=settings.summary_duty_cycle,
    )
    worker = SummaryWorker(
        store,
        folder,
        background,
        window=settings.window,
        report_health=lambda serving: health.report(SUMMARIZER_SERVICE, serving),
        load=load,
    )
    # Leases, retries and concurrency as for folding; indexing is cheaper and rests less.
    indexer = SearchIndexer(
        store,
        embedder,
        replace(background, duty_cycle=INDEXING.duty_cycle),
        batch=settings.search_index_batch,
        batch_bytes=settings.search_index_bytes,
        report_health=lambda serving: health.report(EMBEDDER_SERVICE, serving),
        load=load,
    )
    search = SearchEngine(
        store,
        embedder,
        SearchSettings(
            max_scan=settings.search_max_scan,
            max_response_bytes=settings.max_response_bytes,
            fusion=Fusion(settings.search_fusion),
        ),
    )
    memory = MemoryManager(
        store,
        counter,
        limits,
        settings.window,
        listener=AppendListeners(worker, indexer),
        follow_poll_interval=settings.follow_poll_interval,
        import_write_batch=settings.import_write_batch,
        import_write_bytes=settings.import_write_bytes,
    )
    sessions = SessionManager(store, limits)
    return _Domain(memory, sessions, UserManager(store, sessions, limits), worker, search, indexer)


async def _shut_down(
    server: grpc.aio.Server, health: StoreHealth, domain: _Domain, grace: float
) -> None:
    log.info("shutting down: draining in-flight calls for up to %ss", grace)
    await health.enter_graceful_shutdown()
    # Follow streams never end by themselves: end them now (UNAVAILABLE, with
    # their resume cursor) rather than make shutdown wait the whole grace period.
    domain.memory.stop_following()
    await server.stop(grace)
    await domain.worker.close()  # unfinished folds resume at the next start
    await domain.indexer.close()  # so does unfinished indexing
    log.info("stopped")


def _embedder(settings: Settings) -> Embedder | None:
    return open_embedder(
        settings.embedder,
        base_url=settings.embeddings_base_url,
        model=settings.embeddings_model,
        api_key=settings.embeddings_api_key,
        timeout=settings.embeddings_timeout,
        batch_size=settings.embeddings_batch_size,
        dimensions=settings.embeddings_dimensions,
        max_chars=settings.embeddings_max_chars,
    )


def _llm_endpoint(settings: Settings) -> LlmEndpoint:
    if settings.summarizer == "openai":
        missing = [
            name
            for name, value in [
                ("MEMORIA_LLM_BASE_URL", settings.llm_base_url),
                ("MEMORIA_LLM_MODEL", settings.llm_model),
            ]
            if not value
        ]
        if missing:
            raise ConfigurationError(f"MEMORIA_SUMMARIZER=openai needs {' and '.join(missing)}")
    return LlmEndpoint(
        base_url=settings.llm_base_url,
        model=settings.llm_model,
        api_key=settings.llm_api_key,
        timeout=settings.llm_timeout,
        prompt=settings.summary_prompt,
    )
