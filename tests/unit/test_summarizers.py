"""The summarizers on their own: the extractive one, and the LLM client against a local endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from server.domain.models import Message, RoleType
from server.domain.ports.summarizer import SummarizerError
from server.summarizers.extractive import ExtractiveSummarizer
from server.summarizers.openai_compatible import OpenAICompatibleSummarizer
from server.summarizers.prompt import DEFAULT_PROMPT
from server.tokenizers.offline_encodings import load_encoding
from server.tokenizers.tiktoken_counter import TiktokenCounter
from tests.support.llm_endpoint import LlmEndpoint
from tests.support.records import NOW

TOPICS = [
    "Octavia Butler wrote Kindred in 1979 about a woman pulled back to a Maryland plantation.",
    "The Parable of the Sower imagines California in 2024 after climate collapse.",
    "Lauren Olamina founds Earthseed, a religion whose god is change.",
    "Butler won the Hugo and Nebula awards and a MacArthur fellowship in 1995.",
    "Bloodchild is a short story about humans living with the alien Tlic on another planet.",
    "Dawn begins the Xenogenesis trilogy, where the Oankali rescue humanity after a war.",
]


@pytest.fixture(scope="module")
def counter(tmp_path_factory: pytest.TempPathFactory) -> TiktokenCounter:
    return TiktokenCounter(load_encoding("cl100k_base", tmp_path_factory.mktemp("tiktoken")))


def conversation(count: int, start: int = 1) -> list[Message]:
    messages = []
    for n in range(start, start + count):
        user = n % 2 == 1
        messages.append(
            Message(
                uuid=f"00000000-0000-4000-8000-{n:012d}",
                sequence=n,
                role="Jane" if user else "HistoryBot",
                role_type=RoleType.USER if user else RoleType.ASSISTANT,
                content=(f"Tell me more, please ({n})?" if user else "")
                + ("" if user else TOPICS[n % len(TOPICS)] + f" That was point {n}."),
                metadata={},
                token_count=20,
                created_at=NOW,
            )
        )
    return messages


async def test_extractive_keeps_speakers_and_budget(counter: TiktokenCounter) -> None:
    summarizer = ExtractiveSummarizer(counter, budget=120)
    summary = await summarizer.summarize("", conversation(40))
    [tokens] = await counter.count([summary])
    assert 0 < tokens <= 120
    assert all(line.split(": ", 1)[0] in {"Jane", "HistoryBot"} for line in summary.splitlines())
    assert "Butler" in summary or "Octavia" in summary


async def test_extractive_is_deterministic(counter: TiktokenCounter) -> None:
    messages = conversation(30)
    first = await ExtractiveSummarizer(counter, 100).summarize("Jane: I like Kindred.", messages)
    second = await ExtractiveSummarizer(counter, 100).summarize("Jane: I like Kindred.", messages)
    assert first == second


async def test_extractive_folds_stay_within_budget(counter: TiktokenCounter) -> None:
    """Folding again and again replaces sentences instead of growing past the budget."""
    summarizer = ExtractiveSummarizer(counter, budget=80)
    summary = ""
    for start in range(1, 200, 20):
        summary = await summarizer.summarize(summary, conversation(20, start))
        [tokens] = await counter.count([summary])
        assert tokens <= 80
    assert "HistoryBot:" in summary


async def test_extractive_cuts_a_huge_sentence(counter: TiktokenCounter) -> None:
    [message] = conversation(1, start=2)
    huge = replace(message, content="Kindred " * 5000)
    summary = await ExtractiveSummarizer(counter, budget=64).summarize("", [huge])
    [tokens] = await counter.count([summary])
    assert 0 < tokens <= 64 and summary.startswith("HistoryBot: Kindred")


@pytest.fixture
def endpoint() -> Iterator[LlmEndpoint]:
    running = LlmEndpoint().start()
    yield running
    running.stop()


@pytest.fixture
async def llm(
    endpoint: LlmEndpoint, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[OpenAICompatibleSummarizer]:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    summarizer = OpenAICompatibleSummarizer(
        base_url=endpoint.base_url,
        model="tiny-model",
        api_key="sk-test",
        timeout=0.5,
        prompt=DEFAULT_PROMPT,
        token_budget=256,
    )
    yield summarizer
    await summarizer.aclose()


async def test_llm_request_carries_prompt_model_and_key(
    llm: OpenAICompatibleSummarizer, endpoint: LlmEndpoint
) -> None:
    summary = await llm.summarize("Jane asked about Kindred.", conversation(3))
    assert summary == "Summary number 1 of the talk."
    [request] = endpoint.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body["model"] == "tiny-model" and request.body["max_tokens"] == 256
    assert "Jane asked about Kindred." in request.prompt
    assert "Jane (user): Tell me more, please (1)?" in request.prompt
    assert "HistoryBot (assistant): Lauren Olamina founds Earthseed" in request.prompt


async def test_llm_errors_become_summarizer_errors(
    llm: OpenAICompatibleSummarizer, endpoint: LlmEndpoint
) -> None:
    endpoint.failing = True
    with pytest.raises(SummarizerError, match="500"):
        await llm.summarize("", conversation(2))
    endpoint.failing = False
    endpoint.released.clear()  # hold the answer past the client's timeout
    with pytest.raises(SummarizerError, match="timed out"):
        await llm.summarize("", conversation(2))


async def test_llm_unreachable_is_a_summarizer_error(tmp_path: Path) -> None:
    summarizer = OpenAICompatibleSummarizer(
        base_url="http://127.0.0.1:9/v1",
        model="m",
        api_key="",
        timeout=2,
        prompt="{messages}",
        token_budget=64,
    )
    with pytest.raises(SummarizerError, match="unreachable"):
        await summarizer.summarize("", conversation(1))
    await summarizer.aclose()
