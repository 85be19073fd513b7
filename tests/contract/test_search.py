"""Storage contract: search indexing and SearchMemory, identical on every store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from server.domain.call_load import PATIENCE, QUIET, CallLoad
from server.domain.models import Message, RoleType
from server.domain.ports.embedder import Vectors
from server.domain.ports.store import Store
from server.domain.search.engine import Fusion, SearchAnswer, SearchEngine, SearchSettings
from server.domain.search.indexer import SearchIndexer
from server.domain.search.inputs import ConditionInput
from server.domain.search.records import MessageTerms, MessageVector
from server.domain.search.vector_pages import PAGE_SIZE
from server.domain.search.vectors import quantize
from server.domain.tenancy import DEFAULT_TENANT
from server.domain.tenant_store import TenantStore
from tests.support.embedders import FakeEmbedder
from tests.support.records import NOW, new_message, new_session, summary_of
from tests.support.searching import Search, contents

CORPUS = [
    "The invoice for March is wrong, billing charged me twice",
    "Our deployment to staging failed again last night",
    "Billing question: can I get a refund for the double charge on my invoice?",
    "I like hiking in the mountains on weekends",
    "The billing page loads slowly",
]


async def test_keyword_ranks_by_bm25_and_names_the_matched_terms(search: Search) -> None:
    """Keyword search returns texts sharing a query stem, best BM25 first, with those stems."""
    await search.add("s1", CORPUS)
    answer = await search("billing invoices", search_type="keyword")
    assert contents(answer) == [CORPUS[0], CORPUS[2], CORPUS[4]]
    assert [hit.matched_terms for hit in answer.hits] == [
        ("bill", "invoic"),
        ("bill", "invoic"),
        ("bill",),
    ]
    assert answer.hits[0].score > answer.hits[1].score > answer.hits[2].score > 0
    assert not answer.truncated and answer.unindexed_messages == 0


async def test_rankings_are_deterministic_scores_included(search: Search) -> None:
    """The same search twice gives the same results and the same scores."""
    await search.add("s1", CORPUS)
    first, second = await search("billing refund"), await search("billing refund")
    assert [(h.message, h.score) for h in first.hits] == [(h.message, h.score) for h in second.hits]


async def test_semantic_finds_a_paraphrase_without_a_shared_word(search: Search) -> None:
    """Semantic search ranks by embedding similarity: a paraphrase comes first."""
    await search.add("s1", ["The weather is nice", "I will purchase an automobile", "Pasta recipe"])
    answer = await search("buying a car", search_type="semantic")
    assert contents(answer)[0] == "I will purchase an automobile"
    assert answer.hits[0].matched_terms == ()
    assert (await search("buying a car", search_type="keyword")).hits == []


async def test_hybrid_fuses_keyword_and_semantic_and_is_the_default(search: Search) -> None:
    """The default with an embedder: each list's scores scaled to [0, 1], semantic's weigh 3/4."""
    await search.add("s1", ["I want to buy a car", "I will purchase an automobile", "Pasta recipe"])
    answer = await search("buy car")
    assert answer.search_type.value == "hybrid"
    assert contents(answer)[:2] == ["I want to buy a car", "I will purchase an automobile"]

    def scores(answer: SearchAnswer) -> dict[str, float]:
        return {c: hit.score for c, hit in zip(contents(answer), answer.hits, strict=True)}

    def scaled(answer: SearchAnswer) -> dict[str, float]:
        scores_of = scores(answer)
        low, high = min(scores_of.values()), max(scores_of.values())
        return {c: (s - low) / (high - low) if high > low else 1.0 for c, s in scores_of.items()}

    keyword = scaled(await search("buy car", search_type="keyword"))
    semantic = scaled(await search("buy car", search_type="semantic"))
    expected = {
        content: 0.25 * keyword.get(content, 0.0) + 0.75 * semantic[content] for content in semantic
    }
    assert scores(answer) == pytest.approx(expected)


async def test_hybrid_fuses_by_reciprocal_rank_when_configured(store: Store) -> None:
    """With ``fusion=rrf`` a hybrid result scores 1 / (60 + rank) per list holding it."""
    embedder = FakeEmbedder()
    engine = SearchEngine(store, embedder, SearchSettings(fusion=Fusion.RRF))
    search = Search(store, engine, SearchIndexer(store, embedder))
    await search.add("s1", ["I want to buy a car", "I will purchase an automobile", "Pasta recipe"])
    keyword = contents(await search("buy car", search_type="keyword"))
    semantic = contents(await search("buy car", search_type="semantic"))
    expected = dict.fromkeys(semantic + keyword, 0.0)
    for ranking in (keyword, semantic):
        for rank, content in enumerate(ranking, start=1):
            expected[content] += 1 / (60 + rank)
    answer = await search("buy car")
    assert answer.search_type.value == "hybrid"
    assert {c: h.score for c, h in zip(contents(answer), answer.hits, strict=True)} == (
        pytest.approx(expected)
    )
    assert contents(answer)[0] == "I want to buy a car"


async def test_limit_bounds_the_results(search: Search) -> None:
    """No more results than the limit; 0 means 10."""
    await search.add("s1", [f"billing note {n}" for n in range(15)])
    assert len((await search("billing", limit=3)).hits) == 3
    assert len((await search("billing")).hits) == 10


async def test_summaries_are_searched_when_asked(search: Search, store: Store) -> None:
    """Target summaries searches the latest rolling summary; all ranks both together."""
    await search.add("s1", ["hello there", "billing trouble"])
    stored = await store.list_messages("s1", after_sequence=0, limit=10)
    assert stored
    await store.save_summary("s1", summary_of(stored[0], 1, content="Jane asked about billing"))
    only = await search("billing", target="summaries", search_type="keyword")
    assert contents(only) == ["summary:Jane asked about billing"]
    both = await search("billing", target="all", search_type="keyword")
    assert sorted(contents(both)) == ["billing trouble", "summary:Jane asked about billing"]
    filtered = await search(
        "billing", target="all", metadata=[ConditionInput("a", "exists", exists=True)]
    )
    assert contents(filtered) == []


async def test_a_summary_is_embedded_once_until_it_changes(store: Store) -> None:
    """Semantic search of summaries embeds a summary the first time it meets it only."""
    embedder = FakeEmbedder()
    search = Search(store, SearchEngine(store, embedder), SearchIndexer(store, embedder))
    await search.add("s1", ["hello there", "and again"])
    [first, second] = await store.list_messages("s1", after_sequence=0, limit=10) or []
    assert await store.save_summary("s1", summary_of(first, 1, "Jane asked about billing"))
    await search("billing", target="summaries", search_type="semantic")
    embedded = embedder.texts
    again = await search("billing", target="summaries", search_type="semantic")
    assert embedder.texts == embedded + 1  # the query's only
    assert contents(again) == ["summary:Jane asked about billing"]
    assert await store.save_summary("s1", summary_of(second, 2, "Jane asked about refunds"))
    changed = await search("refunds", target="summaries", search_type="semantic")
    assert embedder.texts == embedded + 3  # the query's and the new summary's
    assert contents(changed) == ["summary:Jane asked about refunds"]


async def test_a_deleted_message_is_never_returned(search: Search, store: Store) -> None:
    """After DeleteMemory or the session's deletion, no search returns its messages."""
    await search.add("s1", ["billing one", "billing two"])
    await store.delete_messages("s1", NOW)
    for search_type in ("keyword", "semantic", "hybrid"):
        assert (await search("billing", search_type=search_type)).hits == []
    await search.add("s1", ["billing three"])
    assert contents(await search("billing")) == ["billing three"]
    await store.delete_session("s1")
    await store.create_session(new_session("s1"))
    assert (await search("billing")).hits == []


async def test_a_metadata_update_is_seen_at_once(search: Search, store: Store) -> None:
    """Filters read a message's current metadata, changed without re-indexing."""
    await search.add("s1", ["billing question"])
    (message,) = await store.list_messages("s1", after_sequence=0, limit=1) or []
    topic = [ConditionInput("topic", "equals", value="billing")]
    assert (await search("billing", metadata=topic)).hits == []
    await store.replace_message_metadata("s1", message.uuid, {"topic": "billing"})
    answer = await search("billing", metadata=topic)
    assert [hit.message.metadata for hit in answer.hits if hit.message] == [{"topic": "billing"}]


async def test_unindexed_messages_are_counted_and_keyword_search_waits_for_terms(
    search: Search,
) -> None:
    """Messages not yet indexed are counted in the answer; indexing makes them findable."""
    await search.add("s1", ["billing indexed"])
    await search.add("s1", ["billing fresh", "another billing"], index=False)
    answer = await search("billing", search_type="keyword")
    assert (contents(answer), answer.unindexed_messages) == (["billing indexed"], 2)
    await search.indexer.index_now("s1")
    answer = await search("billing", search_type="keyword")
    assert (len(answer.hits), answer.unindexed_messages) == (3, 0)


async def test_a_failing_embedder_leaves_keyword_indexing_going(store: Store) -> None:
    """While the embedder fails keyword search finds new messages; embeddings catch up later."""
    embedder = FakeEmbedder()
    embedder.failing = True
    search = Search(store, SearchEngine(store, embedder), SearchIndexer(store, embedder))
    await search.add("s1", ["billing broken"], index=False)
    with pytest.raises(Exception, match="failing"):
        await search.indexer.index_now("s1")
    keyword = await search("billing", search_type="keyword")
    assert (contents(keyword), keyword.unindexed_messages) == (["billing broken"], 0)
    degraded = await search("billing")  # the default falls back to keyword search
    assert degraded.search_type.value == "keyword"
    embedder.failing = False
    await search.indexer.index_now("s1")
    semantic = await search("billing", search_type="semantic")
    assert (contents(semantic), semantic.unindexed_messages) == (["billing broken"], 0)


async def test_the_scan_cap_truncates_semantic_and_keyword_search(store: Store) -> None:
    """Beyond MEMORIA_SEARCH_MAX_SCAN messages the answer says truncated, newest kept."""
    embedder = FakeEmbedder()
    engine = SearchEngine(store, embedder, SearchSettings(max_scan=3, scan_batch=2))
    search = Search(store, engine, SearchIndexer(store, embedder))
    await search.add("s1", [f"billing {n}" for n in range(5)])
    semantic = await search("billing", search_type="semantic")
    assert semantic.truncated
    assert contents(semantic) == ["billing 4", "billing 3", "billing 2"]
    assert (await search("billing", search_type="keyword")).truncated
    small = Search(store, SearchEngine(store, embedder, SearchSettings(max_scan=5)), search.indexer)
    assert not (await small("billing", search_type="semantic")).truncated


async def test_mmr_prefers_diverse_results(search: Search) -> None:
    """With MMR, a near-duplicate of the best result gives way to a different one."""
    await search.add(
        "s1",
        [
            "billing invoice refund",
            "billing invoice refund please",
            "billing login password",
        ],
    )
    plain = await search("billing invoice refund", search_type="keyword", limit=2)
    assert contents(plain)[1] == "billing invoice refund please"
    diverse = await search("billing invoice refund", search_type="keyword", limit=2, mmr_lambda=0.3)
    assert contents(diverse) == ["billing invoice refund", "billing login password"]


async def test_terms_saved_for_a_deleted_message_are_never_returned(
    search: Search, store: Store
) -> None:
    """Terms saved by an indexer racing a delete never bring the deleted message back."""
    # Saved after the message went, or for the old message at a reused position; the
    # mark never passes the session's last sequence.
    stored = (await store.append_messages("s1", [new_message("billing")], NOW)).messages
    await store.delete_messages("s1", NOW)
    await store.save_message_terms("s1", [MessageTerms(1, stored[0].uuid, ("bill",))], 1)
    assert (await search("billing", search_type="keyword")).hits == []
    await store.save_message_terms("s1", [], 99)
    (state,) = await store.index_states(["s1"])
    assert (state.terms_through, state.last_sequence) == (1, 1)
    await store.delete_session("s1")
    await search.add("s1", ["billing again"], index=False)  # sequence 1 once more
    await store.save_message_terms("s1", [MessageTerms(1, stored[0].uuid, ("bill",))], 1)
    assert (await search("billing", search_type="keyword")).hits == []


async def test_sessions_to_index_lists_the_sessions_behind(store: Store) -> None:
    """The resume scan lists sessions whose marks lag their messages."""
    await store.append_messages("a", [new_message()], NOW)
    await store.append_messages("b", [new_message()], NOW)
    await SearchIndexer(store, None).index_now("a")
    assert await store.sessions_to_index(with_vectors=False, after=None, limit=10) == ["b"]
    assert await store.sessions_to_index(with_vectors=True, after=None, limit=10) == ["a", "b"]


async def test_two_servers_never_index_the_same_messages_twice(
    store: Store, other_store: Store
) -> None:
    """Indexers of two processes racing on one session: each message is embedded once."""
    await store.append_messages("s1", [new_message(f"billing {n}") for n in range(40)], NOW)
    embedders = [FakeEmbedder(), FakeEmbedder()]
    indexers = [
        SearchIndexer(on, embedder, batch=5)
        for on, embedder in zip([store, other_store], embedders, strict=True)
    ]
    await asyncio.gather(*(indexer.index_now("s1") for indexer in indexers))
    (state,) = await store.index_states(["s1"])
    assert (state.terms_through, state.vectors_through) == (40, 40)
    assert sum(embedder.texts for embedder in embedders) == 40


async def test_background_indexing_lets_calls_in_progress_go_first(store: Store) -> None:
    """While a call is served, indexing waits (up to a few seconds) until the calls pause."""
    load = CallLoad()
    embedder = FakeEmbedder()
    indexer = SearchIndexer(store, embedder, load=load)
    search = Search(store, SearchEngine(store, embedder), indexer)
    await search.add("s1", ["billing while busy"], index=False)
    load.calls = 1
    indexer.appended(TenantStore(store, DEFAULT_TENANT).key("s1"), 1)
    try:
        await asyncio.sleep(QUIET * 3)
        assert (await search("billing", search_type="keyword")).unindexed_messages == 1
        load.calls = 0
        for _ in range(int(PATIENCE / 0.05)):  # well before PATIENCE would force a step
            if not (await search("billing", search_type="keyword")).unindexed_messages:
                break
            await asyncio.sleep(0.05)
        assert (await search("billing", search_type="keyword")).unindexed_messages == 0
    finally:
        await indexer.close()


class _OverlapEmbedder(FakeEmbedder):
    """Takes a moment per call, and records the most calls in progress at once."""

    def __init__(self) -> None:
        super().__init__()
        self.in_progress = self.most_at_once = 0

    async def embed(self, texts: Sequence[str]) -> Vectors:
        self.in_progress += 1
        self.most_at_once = max(self.most_at_once, self.in_progress)
        try:
            await asyncio.sleep(0.02)
            return await super().embed(texts)
        finally:
            self.in_progress -= 1


async def test_background_indexing_steps_take_turns(store: Store) -> None:
    """Sessions indexed in the background at once (an import of several) take turns."""
    embedder = _OverlapEmbedder()
    indexer = SearchIndexer(store, embedder, load=CallLoad(), batch=5)
    keys = [TenantStore(store, DEFAULT_TENANT).key(f"s{n}") for n in range(4)]
    for key in keys:
        await store.append_messages(key, [new_message(f"billing {n}") for n in range(12)], NOW)
        indexer.appended(key, 12)
    try:
        for _ in range(200):
            states = await store.index_states(keys)
            if all(state.vectors_through == 12 for state in states):
                break
            await asyncio.sleep(0.05)
        assert [state.vectors_through for state in states] == [12] * 4
        assert embedder.calls == 4 * 3  # steps of 5, 5 and 2 messages
        assert embedder.most_at_once == 1
    finally:
        await indexer.close()


async def test_embeddings_spanning_several_pages_are_all_read_newest_first(store: Store) -> None:
    """Steps ending mid-page store each embedding once, read back newest first with its uuid."""
    embedder = FakeEmbedder()
    count = 2 * PAGE_SIZE + 40
    stored = (
        await store.append_messages("s1", [new_message(f"note {n}") for n in range(count)], NOW)
    ).messages
    await SearchIndexer(store, embedder, batch=70).index_now("s1")
    batch = await store.vectors_before("s1", before_sequence=2**62, limit=count + 10)
    assert batch.sequences.tolist() == list(range(count, 0, -1))
    assert [batch.uuid(row) for row in range(len(batch))] == [m.uuid for m in reversed(stored)]
    middle = await store.vectors_before("s1", before_sequence=PAGE_SIZE + 5, limit=10)
    assert middle.sequences.tolist() == list(range(PAGE_SIZE + 4, PAGE_SIZE - 6, -1))


async def test_semantic_search_ranks_across_pages(store: Store) -> None:
    """Matches in every page rank by cosine, then newest first, filtered before the top-k."""
    embedder = FakeEmbedder()
    engine = SearchEngine(store, embedder, SearchSettings(scan_batch=PAGE_SIZE // 2))
    search = Search(store, engine, SearchIndexer(store, embedder, batch=90))
    for n in range(2 * PAGE_SIZE + 40):
        if n in (3, PAGE_SIZE + 7, 2 * PAGE_SIZE + 20):
            await search.add("s1", [f"automobile purchase {n}"], index=False)
            await search.add(
                "s1", ["vehicle maintenance"], role_type=RoleType.ASSISTANT, index=False
            )
        else:
            await search.add("s1", ["weather today"], index=False)
    await search.indexer.index_now("s1")
    answer = await search("car purchase", search_type="semantic", limit=3)
    assert contents(answer) == [
        f"automobile purchase {2 * PAGE_SIZE + 20}",
        f"automobile purchase {PAGE_SIZE + 7}",
        "automobile purchase 3",
    ]
    answer = await search("weather", search_type="semantic", limit=100)
    assert len(answer.hits) == 100 and set(contents(answer)) == {"weather today"}
    newest = [hit.message.sequence for hit in answer.hits if hit.message]
    assert newest == sorted(newest, reverse=True) and newest[0] == 2 * PAGE_SIZE + 43
    filtered = await search("weather", search_type="semantic", role_types=["assistant"])
    assert contents(filtered) == ["vehicle maintenance"] * 3


async def test_the_scan_cap_counts_embeddings_across_pages(store: Store) -> None:
    """``max_scan`` counts embeddings, not pages: the newest ``max_scan`` are read."""
    embedder = FakeEmbedder()
    engine = SearchEngine(store, embedder, SearchSettings(max_scan=PAGE_SIZE + 3, scan_batch=100))
    search = Search(store, engine, SearchIndexer(store, embedder))
    await search.add("s1", ["billing old"] + ["weather"] * (2 * PAGE_SIZE))
    answer = await search("billing", search_type="semantic", limit=100)
    assert answer.truncated and len(answer.hits) == 100
    assert "billing old" not in contents(answer)
    whole = Search(store, SearchEngine(store, embedder), search.indexer)
    answer = await whole("billing", search_type="semantic", limit=1)
    assert (contents(answer), answer.truncated) == (["billing old"], False)


async def test_embeddings_saved_for_deleted_messages_are_never_returned(
    search: Search, store: Store
) -> None:
    """Embeddings saved by an indexer racing a delete never bring deleted messages back."""
    # Saved after the messages went, or for the old messages at reused positions; nor
    # do they hide the messages stored since, and a session deleted and created again
    # is indexed from the start.
    embedder = FakeEmbedder()
    old = (
        await store.append_messages("s1", [new_message(f"billing {n}") for n in range(5)], NOW)
    ).messages

    async def stale(messages: Sequence[Message]) -> list[MessageVector]:
        vectors = quantize(await embedder.embed([m.content for m in messages]))
        return [
            MessageVector(m.sequence, m.uuid, vector, scale)
            for m, (vector, scale) in zip(messages, vectors, strict=True)
        ]

    await store.delete_messages("s1", NOW)
    await store.save_message_vectors("s1", await stale(old), 5)
    assert (await search("billing", search_type="semantic")).hits == []
    await search.add("s1", ["billing after the delete"])
    assert contents(await search("billing", search_type="semantic")) == ["billing after the delete"]
    await store.delete_session("s1")
    await search.add("s1", ["billing reborn", "billing again"], index=False)
    (state,) = await store.index_states(["s1"])
    assert (state.last_sequence, state.vectors_through) == (2, 0)
    await search.indexer.index_now("s1")
    await store.save_message_vectors("s1", await stale(old), 5)  # the old indexer, late
    (state,) = await store.index_states(["s1"])
    assert state.vectors_through == 2
    answer = await search("billing", search_type="semantic")
    assert sorted(contents(answer)) == ["billing again", "billing reborn"]


class _CountingStore:
    """A store that records how many messages each indexing step read, and where
    each read of messages began."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.steps: list[int] = []
        self.reads: list[int] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def read_messages(self, session_id: str, *, after_sequence: int, batch_size: int) -> object:
        self.reads.append(after_sequence)
        return self._store.read_messages(
            session_id, after_sequence=after_sequence, batch_size=batch_size
        )

    async def save_message_terms(
        self, session_id: str, terms: Sequence[MessageTerms], through: int
    ) -> None:
        self.steps.append(len(terms))
        await self._store.save_message_terms(session_id, terms, through)


async def test_an_indexing_step_is_bounded_by_bytes_as_well_as_by_count(store: Store) -> None:
    """A step stops once its contents reach ``batch_bytes``, whatever ``batch`` allows."""
    large = "billing " * 1000  # 8,000 bytes
    await store.append_messages("s1", [new_message(large) for _ in range(30)], NOW)
    counting = _CountingStore(store)
    indexer = SearchIndexer(counting, None, batch=1000, batch_bytes=40_000)  # type: ignore[arg-type]
    await indexer.index_now("s1")
    assert counting.steps == [5] * 6
    (state,) = await store.index_states(["s1"])
    assert state.terms_through == 30


async def test_a_step_reads_its_messages_once_for_terms_and_embeddings(store: Store) -> None:
    """With both marks level, one read of a step serves its terms and its embeddings."""
    await store.append_messages("s1", [new_message(f"billing {n}") for n in range(30)], NOW)
    counting = _CountingStore(store)
    indexer = SearchIndexer(counting, FakeEmbedder(), batch=10)  # type: ignore[arg-type]
    await indexer.index_now("s1")
    assert counting.reads == [0, 10, 20]
    (state,) = await store.index_states(["s1"])
    assert (state.terms_through, state.vectors_through) == (30, 30)
    batch = await store.vectors_before("s1", before_sequence=2**62, limit=100)
    assert batch.sequences.tolist() == list(range(30, 0, -1))


async def test_messages_at_reads_positions_of_several_sessions_at_once(store: Store) -> None:
    """Each session gets its messages at the sequences asked that are still stored."""
    for session_id in ("s1", "s2", "s3"):
        contents_of = [f"{session_id} {n}" for n in range(1, 6)]
        await store.append_messages(session_id, [new_message(c) for c in contents_of], NOW)
    found = await store.messages_at({"s1": [2, 4, 9], "s2": [5], "s3": [], "gone": [1]})
    assert {key: sorted(m.content for m in found.get(key, [])) for key in found} == {
        "s1": ["s1 2", "s1 4"],
        "s2": ["s2 5"],
        "s3": [],
        "gone": [],
    }
