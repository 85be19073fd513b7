"""The LLM summarizer's prompt: a template with placeholders, configurable."""

from __future__ import annotations

from collections.abc import Sequence

from server.domain.models import Message

__all__ = ["DEFAULT_PROMPT", "render_prompt"]

DEFAULT_PROMPT = """\
You maintain the running summary of a conversation. Rewrite the current summary so \
that it also covers the new messages. Keep the facts, names, numbers, decisions and \
open questions, and say who said what, using the speakers' names. Drop small talk. \
Write at most {token_budget} tokens of plain prose, and reply with the summary only.

Current summary:
{previous_summary}

New messages:
{messages}"""

_NO_SUMMARY = "(none yet)"


def render_prompt(template: str, previous: str, messages: Sequence[Message], budget: int) -> str:
    """The template with its placeholders filled; other braces are left alone."""
    transcript = "\n".join(
        f"{m.speaker} ({m.role_type.value}): {m.content}" if m.role else f"{m.speaker}: {m.content}"
        for m in messages
    )
    return (
        template.replace("{previous_summary}", previous or _NO_SUMMARY)
        .replace("{messages}", transcript)
        .replace("{token_budget}", str(budget))
    )
