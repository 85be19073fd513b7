"""Loads ``corpus.json``: a synthetic conversation corpus and queries with known answers.

Written for this benchmark, not downloaded: three users (Maya, Tomás, Lena) and
their sessions with an assistant (trips, a diet, pets, a bug hunt, a work
project, a thesis, a move, a garden), one message per line. Messages that some
query must find carry a ``label``; each query names its scope (a user or a
session), its kind and the labels of its relevant messages:

- ``paraphrase``: says what a message says in other words (where semantic search
  should win);
- ``exact``: a name, code or rare term the relevant messages contain (where
  keyword search should win).

``load_corpus`` checks that every label exists once, lies in its query's scope,
and, for exact queries, contains the query's text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

__all__ = ["CORPUS_PATH", "Corpus", "EvalMessage", "EvalQuery", "EvalSession", "load_corpus"]

CORPUS_PATH = Path(__file__).with_name("corpus.json")


@dataclass(frozen=True)
class EvalMessage:
    uuid: str
    role: str
    role_type: Literal["user", "assistant"]
    content: str
    created_at: datetime
    label: str | None


@dataclass(frozen=True)
class EvalSession:
    session_id: str
    user_id: str
    messages: list[EvalMessage]


@dataclass(frozen=True)
class EvalQuery:
    query: str
    kind: Literal["paraphrase", "exact"]
    user_id: str | None
    session_id: str | None
    relevant: frozenset[str]  # message uuids


@dataclass(frozen=True)
class Corpus:
    users: list[dict[str, str]]
    sessions: list[EvalSession]
    queries: list[EvalQuery]

    @property
    def message_count(self) -> int:
        return sum(len(session.messages) for session in self.sessions)


def load_corpus(path: Path = CORPUS_PATH) -> Corpus:
    """The evaluation set; ``ValueError`` when it is inconsistent."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    sessions = [_session(session) for session in raw["sessions"]]
    labelled: dict[str, tuple[EvalSession, EvalMessage]] = {}
    for session in sessions:
        for message in session.messages:
            if message.label is None:
                continue
            if message.label in labelled:
                raise ValueError(f"label {message.label!r} is used twice")
            labelled[message.label] = (session, message)
    queries = [_query(query, labelled) for query in raw["queries"]]
    return Corpus(users=raw["users"], sessions=sessions, queries=queries)


def _session(raw: dict[str, Any]) -> EvalSession:
    return EvalSession(
        session_id=raw["session_id"],
        user_id=raw["user_id"],
        messages=[
            EvalMessage(
                uuid=message["uuid"],
                role=message["role"],
                role_type=message["role_type"],
                content=message["content"],
                created_at=datetime.fromisoformat(message["created_at"]),
                label=message.get("label"),
            )
            for message in raw["messages"]
        ],
    )


def _query(raw: dict[str, Any], labelled: dict[str, tuple[EvalSession, EvalMessage]]) -> EvalQuery:
    query = EvalQuery(
        query=raw["query"],
        kind=raw["kind"],
        user_id=raw.get("user_id"),
        session_id=raw.get("session_id"),
        relevant=frozenset(labelled[label][1].uuid for label in raw["relevant"]),
    )
    if (query.user_id is None) == (query.session_id is None) or not raw["relevant"]:
        raise ValueError(f"{query.query!r} needs one scope and at least one relevant label")
    for label in raw["relevant"]:
        session, message = labelled[label]
        if query.session_id not in (None, session.session_id) or query.user_id not in (
            None,
            session.user_id,
        ):
            raise ValueError(f"{query.query!r}: {label!r} is outside its scope")
        if query.kind == "exact" and query.query.lower() not in message.content.lower():
            raise ValueError(f"{query.query!r}: {label!r} does not contain it")
    return query
