"""How long the offline summarizer takes to fold 1,000 messages, and how big the summary is.

Appends 1,000 varied chat messages to a fresh SQLite store, then times the fold
that the server runs in the background (``SummaryFolder``, in chunks of
``--chunk-tokens``, saved through the store) until half a window is left, and
prints the time, the number of folds, and the summary's token count.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

from server.domain.clock import utc_now
from server.domain.models import NewMessage, RoleType
from server.domain.summary_folding import SummaryFolder
from server.storage.open import open_store
from server.summarizers.extractive import ExtractiveSummarizer
from server.tokenizers.offline_encodings import load_encoding
from server.tokenizers.tiktoken_counter import TiktokenCounter

_SUBJECTS = [
    "Octavia Butler",
    "Kindred",
    "the Parable novels",
    "Earthseed",
    "Lauren Olamina",
    "the Oankali",
    "Bloodchild",
    "the Patternist series",
    "Pasadena",
    "the MacArthur grant",
]
_VERBS = [
    "explores",
    "was written around",
    "changed how readers saw",
    "is connected to",
    "was adapted from",
    "questions",
    "was praised for",
    "borrows from",
]
_OBJECTS = [
    "slavery and memory",
    "climate collapse",
    "power and consent",
    "community building",
    "the 1979 edition",
    "hyper-empathy",
    "alien symbiosis",
    "religious change",
    "a 2021 television series",
    "her notebooks at the Huntington Library",
]


def _conversation(count: int, seed: int = 7) -> list[tuple[str, RoleType, str]]:
    rng = random.Random(seed)
    messages = []
    for n in range(count):
        user = n % 2 == 0
        sentences = [
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}."
            for _ in range(rng.randint(1, 4))
        ]
        text = ("Question: " + sentences[0][:-1] + "?") if user else " ".join(sentences)
        messages.append(
            ("Jane" if user else "HistoryBot", RoleType.USER if user else RoleType.ASSISTANT, text)
        )
    return messages


async def _bench(count: int, window: int, budget: int, chunk_tokens: int) -> None:
    with tempfile.TemporaryDirectory() as work_dir:
        counter = TiktokenCounter(load_encoding("cl100k_base", Path(work_dir) / "tiktoken"))
        conversation = _conversation(count)
        token_counts = await counter.count([text for _, _, text in conversation])
        now = utc_now()
        async with open_store(f"sqlite:///{work_dir}/bench.db") as store:
            await store.append_messages(
                "bench",
                [
                    NewMessage(str(uuid.uuid4()), role, role_type, text, {}, tokens, now)
                    for (role, role_type, text), tokens in zip(
                        conversation, token_counts, strict=True
                    )
                ],
                now,
            )
            folder = SummaryFolder(
                store,
                ExtractiveSummarizer(counter, budget),
                counter,
                window=window,
                chunk_tokens=chunk_tokens,
            )
            started = time.perf_counter()
            folds = 0
            plan = await folder.plan("bench")
            while plan is not None:
                fold = await folder.fold_chunk("bench", plan)
                folds += fold is not None
                plan = await folder.plan("bench") if fold is None else fold.rest
            elapsed = time.perf_counter() - started
            summary = await store.get_summary("bench")
            assert summary is not None
    print(
        f"extractive summarizer: folded {summary.last_message_sequence} of {count} messages"
        f" ({sum(token_counts)} tokens) in {elapsed * 1000:.0f} ms, {folds} folds of"
        f" <= {chunk_tokens} tokens; summary {summary.token_count} tokens"
        f" (budget {budget}), version {summary.version}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--window", type=int, default=12)
    parser.add_argument("--budget", type=int, default=512)
    parser.add_argument("--chunk-tokens", type=int, default=4000)
    args = parser.parse_args()
    asyncio.run(_bench(args.messages, args.window, args.budget, args.chunk_tokens))


if __name__ == "__main__":
    main()
