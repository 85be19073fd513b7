"""SearchMemory: validate, gather candidates through ordinary store reads, rank here.

Keyword search scores BM25 over the stored terms of the messages holding a query
term. Its statistics are those of the search's scope (the session, or all of
the user's sessions) as stored now: N and the average length over every indexed
message in scope (plus the summaries when they are searched), each term's
document frequency over the candidates read. Semantic search reads the scope's
embeddings newest first, in batches of arrays, up to ``max_scan``, scores each
batch at once and keeps the exact top-k by cosine. Hybrid fuses both rankings by
their scaled scores. Filters apply to candidates before ranking; statistics do
not depend on them. Ties are broken by recency then position, so a ranking is
the same on every store.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from server.domain.clock import to_micros
from server.domain.errors import FailedPrecondition, NotFound, Unavailable
from server.domain.models import Message, Summary
from server.domain.ports.embedder import Embedder, EmbedderError, Vectors
from server.domain.ports.store import Store
from server.domain.response_budget import fit_oldest, message_bytes, summary_bytes
from server.domain.search.analyzer import analyze
from server.domain.search.bm25 import CorpusStatistics, bm25_score
from server.domain.search.filters import SearchFilter, check_filter
from server.domain.search.fusion import reciprocal_rank_fusion, relative_score_fusion
from server.domain.search.inputs import SearchInput
from server.domain.search.mmr import maximal_marginal_relevance
from server.domain.search.records import IndexState, VectorBatch
from server.domain.search.vectors import cosine_scores, dequantize, stored_cosines
from server.domain.tenancy import split_key
from server.domain.tenant_store import TenantStore
from server.domain.validation import Violations

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "MAX_QUERY_LENGTH",
    "Fusion",
    "SearchAnswer",
    "SearchEngine",
    "SearchHit",
    "SearchSettings",
    "SearchTarget",
    "SearchType",
]

log = logging.getLogger("memoria.search")

DEFAULT_LIMIT = 10
MAX_LIMIT = 100
MAX_QUERY_LENGTH = 4096
EMBEDDER_DISABLED = "EMBEDDER_DISABLED"
EMBEDDER_FAILING = "EMBEDDER_FAILING"
# Candidates each ranking keeps for fusion and for MMR to choose among.
_FUSION_DEPTH = 100
# Hybrid's weight of the semantic ranking (the keyword one gets the rest): a
# keyword list of a paraphrase holds mostly partial matches, which an even fusion
# lets crowd out what the meaning found. 0.75 is Weaviate's default for the same
# blend (its hybrid `alpha`), not a value fitted to our evaluation set.
_SEMANTIC_WEIGHT = 0.75
_SESSION_PAGE = 100
# Summary embeddings kept (256 dimensions: ~1 KiB each).
_KNOWN_SUMMARIES = 4096
E = TypeVar("E", bound=enum.StrEnum)


class SearchType(enum.StrEnum):
    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


class SearchTarget(enum.StrEnum):
    MESSAGES = "messages"
    SUMMARIES = "summaries"
    ALL = "all"


class Fusion(enum.StrEnum):
    """How hybrid search fuses the keyword and the semantic rankings (``fusion``)."""

    RELATIVE = "relative"
    RRF = "rrf"


@dataclass(frozen=True, slots=True)
class SearchSettings:
    # Most messages one query reads (candidates of keyword search, embeddings of
    # semantic search); beyond it the answer says it is truncated.
    max_scan: int = 100_000
    # Embeddings per store read: 32 vector pages (2 MiB of int8 components at 256
    # dimensions, 8 MiB once converted to score). On FerretDB v1 every read scans the
    # pages collection, so fewer, larger reads; one for a session of 8,192 messages.
    scan_batch: int = 8192
    max_response_bytes: int = 4 * 1024 * 1024
    fusion: Fusion = Fusion.RELATIVE


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message or a summary (exactly one is set) of the session ``session_id``."""

    session_id: str
    score: float
    message: Message | None = None
    summary: Summary | None = None
    matched_terms: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchAnswer:
    hits: list[SearchHit]
    search_type: SearchType
    truncated: bool
    unindexed_messages: int


@dataclass(frozen=True, slots=True)
class _Request:
    query: str
    terms: tuple[str, ...]
    limit: int
    search_type: SearchType | None  # None: the default of this server
    target: SearchTarget
    filter: SearchFilter
    mmr_lambda: float | None


@dataclass(slots=True)
class _Item:
    """A candidate of the session ``key`` (a store key): the message at ``sequence``
    (read from the store only when needed), or the session's summary (sequence 0)."""

    key: str
    sequence: int
    uuid: str = ""
    message: Message | None = None
    summary: Summary | None = None
    score: float = 0.0
    matched: tuple[str, ...] = ()
    terms: tuple[str, ...] | None = None
    vector: Vectors | None = None

    @property
    def identity(self) -> tuple[str, int]:
        return (self.key, self.sequence)

    def rough_order(self) -> tuple[float, int, str]:
        """Best first by what is known before the message is read: a total order."""
        return (-self.score, -self.sequence, self.key)

    @property
    def text(self) -> str:
        return (
            self.message.content if self.message else self.summary.content if self.summary else ""
        )

    def order(self) -> tuple[float, int, int, str]:
        """Best first: higher score, then newer (creation time, then position), then by
        session key: a total order, so equal scores rank alike on every store."""
        record = self.message or self.summary
        created = to_micros(record.created_at) if record else 0
        return (-self.score, -created, -self.sequence, self.key)


@dataclass(slots=True)
class _Ranking:
    items: list[_Item] = field(default_factory=list)
    truncated: bool = False


class SearchEngine:
    def __init__(
        self, store: Store, embedder: Embedder | None, settings: SearchSettings = SearchSettings()
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._settings = settings
        # Embeddings of recent summaries by uuid (each fold saves a new uuid):
        # otherwise a search of summaries embeds every one in scope each time.
        self._known_summaries: dict[str, Vectors] = {}

    @property
    def default_type(self) -> SearchType:
        return SearchType.KEYWORD if self._embedder is None else SearchType.HYBRID

    async def search(self, tenant: str, given: SearchInput) -> SearchAnswer:
        request = self._check(given)
        keys = await self._scope(TenantStore(self._store, tenant), given)
        search_type = request.search_type or self.default_type
        states = await self._store.index_states(keys) if keys else []
        try:
            ranking = await self._rank(request, search_type, keys)
        except EmbedderError as exc:
            if request.search_type is not None:
                raise _embedder_failing(exc) from exc
            # The default degrades to keyword search while the embedder fails.
            log.warning("embedder failed, answering with keyword search: %s", exc)
            search_type = SearchType.KEYWORD
            ranking = await self._rank(request, search_type, keys)
        return self._answer(request, search_type, ranking, states)

    def _check(self, given: SearchInput) -> _Request:
        check = Violations()
        if bool(given.session_id) == bool(given.user_id):
            check.add("session_id", "set exactly one of session_id and user_id")
        elif given.session_id:
            check.identifier("session_id", given.session_id)
        else:
            check.identifier("user_id", given.user_id)
        if not given.query.strip():
            check.add("query", "must contain text to search for")
        elif len(given.query) > MAX_QUERY_LENGTH:
            check.add("query", f"must be at most {MAX_QUERY_LENGTH} characters")
        if not 0 <= given.limit <= MAX_LIMIT:
            check.add("limit", f"must be between 0 and {MAX_LIMIT}, got {given.limit}")
        search_type = _choice(check, "search_type", given.search_type, SearchType)
        target = _choice(check, "target", given.target, SearchTarget) or SearchTarget.MESSAGES
        if given.mmr_lambda is not None and not 0 <= given.mmr_lambda <= 1:
            check.add("mmr_lambda", f"must be between 0 and 1, got {given.mmr_lambda}")
        search_filter = check_filter(check, given.role_types, given.metadata, given.created_at)
        check.raise_if_any()
        if search_type in (SearchType.SEMANTIC, SearchType.HYBRID) and self._embedder is None:
            error = FailedPrecondition(
                f"{search_type.value} search needs embeddings, and this server runs without"
                " an embedder (MEMORIA_EMBEDDER=none); use SEARCH_TYPE_KEYWORD"
            )
            error.reason = EMBEDDER_DISABLED
            raise error
        return _Request(
            query=given.query,
            terms=tuple(dict.fromkeys(analyze(given.query))),
            limit=given.limit or DEFAULT_LIMIT,
            search_type=search_type,
            target=target,
            filter=search_filter,
            mmr_lambda=given.mmr_lambda,
        )

    async def _scope(self, store: TenantStore, given: SearchInput) -> list[str]:
        """The store keys of the sessions searched, newest first."""
        if given.session_id:
            if await store.get_session(given.session_id) is None:
                raise NotFound("session", given.session_id)
            return [store.key(given.session_id)]
        if await store.get_user(given.user_id) is None:
            raise NotFound("user", given.user_id)
        keys: list[str] = []
        after = None
        while True:
            page = await self._store.list_sessions(
                tenant=store.tenant,
                user_id=store.key(given.user_id),
                after=after,
                limit=_SESSION_PAGE,
            )
            keys.extend(session.session_id for session in page)
            if len(page) < _SESSION_PAGE:
                return keys
            after = (page[-1].created_at, page[-1].session_id)

    async def _rank(
        self, request: _Request, search_type: SearchType, keys: Sequence[str]
    ) -> _Ranking:
        summaries = await self._summaries(request, keys)
        if search_type is SearchType.KEYWORD:
            return await self._keyword(request, keys, summaries)
        if search_type is SearchType.SEMANTIC:
            return await self._semantic(request, keys, summaries)
        keyword, semantic = await asyncio.gather(
            self._keyword(request, keys, summaries), self._semantic(request, keys, summaries)
        )
        by_identity = {item.identity: item for item in semantic.items[:_FUSION_DEPTH]}
        by_identity.update({item.identity: item for item in keyword.items[:_FUSION_DEPTH]})
        rankings = [
            [(item.identity, item.score) for item in keyword.items[:_FUSION_DEPTH]],
            [(item.identity, item.score) for item in semantic.items[:_FUSION_DEPTH]],
        ]
        if self._settings.fusion is Fusion.RRF:
            fused = reciprocal_rank_fusion(rankings)
        else:
            fused = relative_score_fusion(rankings, [1 - _SEMANTIC_WEIGHT, _SEMANTIC_WEIGHT])
        items = []
        for identity, score in fused:
            item = by_identity[identity]
            item.score = score
            items.append(item)
        items.sort(key=_Item.order)
        return _Ranking(items, keyword.truncated or semantic.truncated)

    async def _summaries(self, request: _Request, keys: Sequence[str]) -> list[_Item]:
        if request.target is SearchTarget.MESSAGES:
            return []
        found: list[_Item] = []
        for start in range(0, len(keys), _SESSION_PAGE):
            chunk = keys[start : start + _SESSION_PAGE]
            summaries = await asyncio.gather(*(self._store.get_summary(key) for key in chunk))
            found.extend(
                _Item(key, 0, summary=summary)
                for key, summary in zip(chunk, summaries, strict=True)
                if summary is not None
            )
        return found

    async def _keyword(
        self, request: _Request, keys: Sequence[str], summaries: list[_Item]
    ) -> _Ranking:
        ranking = _Ranking()
        candidates: list[_Item] = []
        documents = total_length = 0
        if request.target is not SearchTarget.SUMMARIES and request.terms and keys:
            cap = self._settings.max_scan
            hits = await self._store.keyword_candidates(keys, request.terms, cap + 1)
            ranking.truncated = len(hits) > cap
            candidates = [
                _Item(hit.session_id, hit.sequence, hit.uuid, terms=hit.terms) for hit in hits[:cap]
            ]
            statistics = await self._store.term_statistics(keys)
            documents, total_length = statistics.documents, statistics.total_length
        for summary in summaries:
            summary.terms = tuple(analyze(summary.text))
            documents += 1
            total_length += len(summary.terms)
        query_terms = set(request.terms)
        candidates += [s for s in summaries if query_terms.intersection(s.terms or ())]
        frequency: Counter[str] = Counter()
        for item in candidates:
            frequency.update(query_terms.intersection(item.terms or ()))
        stats = CorpusStatistics(
            documents=max(documents, len(candidates)),
            average_length=total_length / documents if documents else 1.0,
            document_frequency=dict(frequency),
        )
        for item in candidates:
            item.score, matched = bm25_score(request.terms, item.terms or (), stats)
            item.matched = tuple(matched)
        ranking.items = await self._best(request, candidates, _depth(request))
        return ranking

    async def _semantic(
        self, request: _Request, keys: Sequence[str], summaries: list[_Item]
    ) -> _Ranking:
        assert self._embedder is not None  # checked with the request
        query = (await self._embedder.embed([request.query]))[0]
        depth = _depth(request)
        ranking = _Ranking()
        kept: list[_Item] = []
        if request.target is not SearchTarget.SUMMARIES:
            kept, ranking.truncated = await self._scan_vectors(request, keys, query, depth)
        if summaries:
            vectors = await self._summary_vectors(summaries)
            for item, vector, score in zip(
                summaries, vectors, cosine_scores(query, vectors), strict=True
            ):
                item.vector, item.score = vector, float(score)
            kept += summaries
        ranking.items = await self._best(request, kept, depth)
        return ranking

    async def _summary_vectors(self, summaries: list[_Item]) -> Vectors:
        """The summaries' embeddings, made only for those not embedded lately."""
        assert self._embedder is not None
        known = self._known_summaries
        uuids = [item.summary.uuid for item in summaries if item.summary is not None]
        missing = [item for item in summaries if item.summary and item.summary.uuid not in known]
        fresh: dict[str, Vectors] = {}
        if missing:
            vectors = await self._embedder.embed([item.text for item in missing])
            fresh = {
                item.summary.uuid: vector
                for item, vector in zip(missing, vectors, strict=True)
                if item.summary is not None
            }
            if len(known) + len(fresh) > _KNOWN_SUMMARIES:
                known.clear()
            known.update(fresh)
        return np.stack([fresh[uuid] if uuid in fresh else known[uuid] for uuid in uuids])

    async def _scan_vectors(
        self, request: _Request, keys: Sequence[str], query: Vectors, depth: int
    ) -> tuple[list[_Item], bool]:
        """The best ``depth`` messages by cosine (of those the filters accept), reading
        each session newest first until ``max_scan`` embeddings were read; True when
        some were left unread."""
        budget = self._settings.max_scan
        kept: list[_Item] = []
        for key in keys:
            before = 2**62
            while True:
                if budget <= 0:
                    return kept, True
                asked = min(self._settings.scan_batch, budget)
                batch = await self._store.vectors_before(key, before_sequence=before, limit=asked)
                budget -= len(batch)
                if len(batch):
                    await self._keep_best(request, kept, batch, query, depth)
                if len(batch) < asked:
                    break
                before = int(batch.sequences[-1])
                if budget <= 0:
                    # Full batch at the cap: say truncated only if more remain.
                    more = await self._store.vectors_before(key, before_sequence=before, limit=1)
                    if len(more) or key != keys[-1]:
                        return kept, True
                    break
        return kept, False

    async def _keep_best(
        self,
        request: _Request,
        kept: list[_Item],
        batch: VectorBatch,
        query: Vectors,
        depth: int,
    ) -> None:
        """Merges into ``kept`` (best first by ``rough_order``, at most ``depth``) the
        batch's messages that rank among the best. The batch is scored at once; only
        rows that can still enter become items, and with filters their messages are
        read best first, in growing chunks, until no remaining row can enter."""
        scores = stored_cosines(query, batch.vectors, batch.norms)
        # A row scoring below the worst kept one cannot enter (an equal one may, by
        # position, in a scope of several sessions).
        floor = kept[-1].score if len(kept) >= depth else -np.inf
        candidates = np.flatnonzero(scores >= floor)
        if request.filter.is_empty and len(candidates) > depth:
            # Nor, without filters, a row below the batch's own depth-th best.
            cut = len(candidates) - depth
            kth = scores[candidates[np.argpartition(scores[candidates], cut)[cut]]]
            candidates = candidates[scores[candidates] >= kth]
        # Best first; rows are newest first, so a stable sort keeps newer first on ties.
        candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
        start, chunk = 0, len(candidates) if request.filter.is_empty else 2 * depth
        while start < len(candidates):
            chosen = candidates[start : start + chunk]
            if len(kept) >= depth and scores[chosen[0]] < kept[-1].score:
                break
            vectors = dequantize(batch.vectors[chosen], batch.scales[chosen])
            items = [
                _Item(
                    batch.session_id,
                    int(batch.sequences[row]),
                    batch.uuid(row),
                    score=float(scores[row]),
                    vector=vector,
                )
                for row, vector in zip(chosen, vectors, strict=True)
            ]
            if not request.filter.is_empty:  # filter on the messages as stored now
                items = [i for i in await self._loaded(items) if self._accepts(request, i)]
            kept += items
            kept.sort(key=_Item.rough_order)
            del kept[depth:]
            start, chunk = start + chunk, 2 * chunk

    async def _best(self, request: _Request, items: list[_Item], depth: int) -> list[_Item]:
        """The best ``depth`` of the scored ``items`` that pass the filters, with their
        messages, best first. Without filters only those ``depth`` messages are read."""
        if request.filter.is_empty:
            items.sort(key=_Item.rough_order)
            chosen = await self._loaded(items[:depth])
        else:
            chosen = [i for i in await self._loaded(items) if self._accepts(request, i)]
        chosen.sort(key=_Item.order)
        return chosen[:depth]

    async def _loaded(self, items: list[_Item]) -> list[_Item]:
        """``items`` with their messages read, less those whose message is gone (deleted,
        or another one at that position since); in order."""
        wanted: dict[str, list[int]] = {}
        for item in items:
            if item.message is None and item.summary is None:
                wanted.setdefault(item.key, []).append(item.sequence)
        found: dict[tuple[str, int], Message] = {}
        for key, messages in (await self._store.messages_at(wanted)).items():
            for message in messages:
                found[(key, message.sequence)] = message
        for item in items:
            if item.message is None and item.summary is None:
                stored = found.get(item.identity)
                item.message = stored if stored and stored.uuid == item.uuid else None
        return [item for item in items if item.message is not None or item.summary is not None]

    @staticmethod
    def _accepts(request: _Request, item: _Item) -> bool:
        if item.message is not None:
            return request.filter.accepts_message(item.message)
        return item.summary is not None and request.filter.accepts_summary(item.summary)

    def _answer(
        self,
        request: _Request,
        search_type: SearchType,
        ranking: _Ranking,
        states: Sequence[IndexState],
    ) -> SearchAnswer:
        items = ranking.items
        if request.mmr_lambda is not None:
            items = _diversify(items, request.mmr_lambda, request.limit)
        chosen = items[: request.limit]
        hits = [
            SearchHit(
                session_id=split_key(item.key)[1],
                score=item.score,
                message=item.message,
                summary=item.summary,
                matched_terms=item.matched if search_type is not SearchType.SEMANTIC else (),
            )
            for item in chosen
        ]
        fitted = fit_oldest(hits, _hit_bytes, self._settings.max_response_bytes)
        unindexed = 0
        if request.target is not SearchTarget.SUMMARIES:
            unindexed = sum(
                state.unindexed(
                    state.terms_through
                    if search_type is SearchType.KEYWORD
                    else min(state.terms_through, state.vectors_through)
                )
                for state in states
            )
        return SearchAnswer(
            hits=fitted.items,
            search_type=search_type,
            truncated=ranking.truncated or fitted.omitted > 0,
            unindexed_messages=unindexed,
        )


def _depth(request: _Request) -> int:
    """Candidates each ranking keeps: enough for fusion and for MMR's pool."""
    return max(_FUSION_DEPTH, _mmr_pool(request.limit))


def _mmr_pool(limit: int) -> int:
    return max(4 * limit, 40)


def _diversify(items: list[_Item], mmr_lambda: float, limit: int) -> list[_Item]:
    """MMR over the best candidates: by embedding similarity when every candidate has
    one, otherwise by the cosine of their term counts."""
    pool = items[: _mmr_pool(limit)]
    if not pool:
        return pool
    relevance = np.array([item.score for item in pool], dtype=np.float64)
    vectors = [item.vector for item in pool]
    if all(vector is not None for vector in vectors):
        matrix = np.stack([v for v in vectors if v is not None]).astype(np.float64)
    else:
        matrix = _term_vectors([item.terms or tuple(analyze(item.text)) for item in pool])
    similarity = matrix @ matrix.T
    chosen = maximal_marginal_relevance(relevance, similarity, mmr_lambda, limit)
    diversified = []
    for index, score in chosen:
        pool[index].score = score
        diversified.append(pool[index])
    return diversified


def _term_vectors(documents: Sequence[Sequence[str]]) -> np.ndarray:
    vocabulary = {term: n for n, term in enumerate({t for terms in documents for t in terms})}
    matrix = np.zeros((len(documents), max(len(vocabulary), 1)), dtype=np.float64)
    for row, terms in enumerate(documents):
        for term, count in Counter(terms).items():
            matrix[row, vocabulary[term]] = count
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: np.ndarray = matrix / np.where(norms > 0, norms, 1.0)
    return normalised


def _hit_bytes(hit: SearchHit) -> int:
    record = message_bytes(hit.message) if hit.message else 0
    return record + (summary_bytes(hit.summary) if hit.summary else 0) + 64


def _choice(check: Violations, path: str, value: str, kind: type[E]) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        check.add(path, f"unknown value {value!r}; one of {', '.join(k.value for k in kind)}")
        return None


def _embedder_failing(exc: EmbedderError) -> Unavailable:
    error = Unavailable(f"the embedder failed: {exc}; keyword search works meanwhile")
    error.reason = EMBEDDER_FAILING
    return error
