"""The search benchmark's evaluation set is consistent (bench/search_eval/corpus.json)."""

from __future__ import annotations

from bench.search_eval.corpus import load_corpus


def test_every_query_has_relevant_messages_in_its_scope() -> None:
    """load_corpus checks labels, scopes and exact terms; this pins the set's shape."""
    corpus = load_corpus()
    kinds = [query.kind for query in corpus.queries]
    assert (kinds.count("paraphrase"), kinds.count("exact")) == (39, 23)
    assert (len(corpus.users), len(corpus.sessions), corpus.message_count) == (3, 11, 272)
    uuids = [message.uuid for session in corpus.sessions for message in session.messages]
    assert len(set(uuids)) == len(uuids)
