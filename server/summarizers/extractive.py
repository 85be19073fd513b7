"""The offline summarizer: picks the most informative sentences, deterministically.

Candidates are the sentences of the previous summary and of the new messages,
each attributed to its speaker. They are scored SumBasic-style: a sentence is
worth the average frequency of its content words across all candidates (words
that recur carry the conversation's topics), a little more when it holds
numbers or names. The best sentence is taken, the frequencies of its words are
squared (so the next pick says something else), and so on while the summary
fits the token budget. The kept sentences are written back in conversation
order, one line per speaker turn (``Jane: ...``), so who said what survives the
next fold, and old sentences compete with new ones instead of piling up.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from server.domain.models import Message
from server.domain.pacing import Pace
from server.domain.ports.token_counter import TokenCounter

__all__ = ["ExtractiveSummarizer"]

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_SPEAKER_LINE = re.compile(r"^([^:\n]{1,80}): (.*)$")
_STOPWORD_TEXT = """a about above after again against all am an and any are as at be because been
    before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    yes ok okay oh well also really like get got go going know think want need one two s t ll
    re ve d m don didn doesn isn aren wasn weren won wouldn couldn shouldn"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Candidate lines whose token counts (and summary lines whose sentences) are kept
# (a few MB at most).
_KNOWN_LINES = 20_000
# Previous-summary sentences stand for a longer history than one new message.
_PREVIOUS_WEIGHT = 2


# A scorable sentence: its text, its content words, and whether it holds numbers or names.
_Sentence = tuple[str, tuple[str, ...], bool]


@dataclass(slots=True)
class _Unit:
    position: int
    speaker: str
    text: str
    words: tuple[str, ...]
    weight: int
    salient: bool
    tokens: int = 0


class ExtractiveSummarizer:
    def __init__(self, tokens: TokenCounter, budget: int) -> None:
        self._tokens = tokens
        self._budget = budget
        self._max_sentence_tokens = max(16, budget // 4)
        # Token counts of recent candidate lines: a session's summary is folded again
        # every few messages, and most of its sentences come back each time.
        self._known_tokens: dict[str, int] = {}
        # The sentences of recent summary lines, for the same reason.
        self._known_sentences: dict[str, list[_Sentence]] = {}

    @property
    def name(self) -> str:
        return "extractive"

    async def summarize(self, previous: str, messages: Sequence[Message]) -> str:
        # The scoring is pure Python, run on the event loop a slice at a time
        # (``Pace``): a fold takes about a millisecond for 30 messages, tens for a
        # 4,000-token chunk.
        pace = Pace()
        units = await self._units(previous, messages, pace)
        if not units:
            return previous
        counts = await self._line_tokens([_line(u.speaker, u.text) for u in units])
        for unit, count in zip(units, counts, strict=True):
            unit.tokens = count
        await self._shorten_long_sentences(units)
        chosen = await self._select(units, pace)
        summary = _render(chosen)
        # Lines joined by the renderer cost a little less than counted, never more,
        # except for rare merges at boundaries: check and drop the weakest if needed.
        while chosen and (await self._tokens.count([summary]))[0] > self._budget:
            chosen = chosen[:-1]
            summary = _render(sorted(chosen, key=lambda u: u.position))
        return summary

    async def _line_tokens(self, lines: list[str]) -> list[int]:
        known = self._known_tokens
        new = [line for line in dict.fromkeys(lines) if line not in known]
        if new:
            if len(known) + len(new) > _KNOWN_LINES:
                known.clear()
            known.update(zip(new, await self._tokens.count(new), strict=True))
        return [known[line] for line in lines]

    async def _units(self, previous: str, messages: Sequence[Message], pace: Pace) -> list[_Unit]:
        units: list[_Unit] = []
        seen: set[tuple[str, str]] = set()

        def add(who: str, sentences: list[_Sentence], weight: int) -> None:
            for sentence, words, salient in sentences:
                if (who, sentence) in seen:
                    continue
                seen.add((who, sentence))
                units.append(_Unit(len(units), who, sentence, words, weight, salient))

        for line in previous.splitlines():
            found = _SPEAKER_LINE.match(line)
            who, text = (found.group(1), found.group(2)) if found else ("", line)
            add(who, self._summary_sentences(text), _PREVIOUS_WEIGHT)
        for message in messages:
            add(" ".join(message.speaker.split()), _sentences(message.content), 1)
            await pace.step()
        return units

    def _summary_sentences(self, text: str) -> list[_Sentence]:
        """``_sentences`` of a line of a summary: most lines come back fold after fold."""
        known = self._known_sentences
        sentences = known.get(text)
        if sentences is None:
            if len(known) >= _KNOWN_LINES:
                known.clear()
            sentences = known[text] = _sentences(text)
        return sentences

    async def _shorten_long_sentences(self, units: list[_Unit]) -> None:
        limit = self._max_sentence_tokens
        for _ in range(3):
            long_units = [u for u in units if u.tokens > limit]
            if not long_units:
                return
            for unit in long_units:
                keep = max(1, int(len(unit.text) * limit / unit.tokens * 0.9))
                unit.text = unit.text[:keep].rstrip() + "…"
            counts = await self._line_tokens([_line(u.speaker, u.text) for u in long_units])
            for unit, count in zip(long_units, counts, strict=True):
                unit.tokens = count

    async def _select(self, units: list[_Unit], pace: Pace) -> list[_Unit]:
        """The chosen units, best first."""
        frequency: Counter[str] = Counter()
        for unit in units:
            for word in unit.words:
                frequency[word] += unit.weight
        total = sum(frequency.values())
        probability = {word: count / total for word, count in frequency.items()}
        # Lazy greedy: a pick only lowers probabilities, so a score computed earlier
        # is an upper bound of the unit's score now. The unit on top of the heap is
        # scored again; if it still beats every other bound it is the best (ties go
        # to the earlier unit, as in a full scan), else it goes back with its new
        # score. The same picks as scoring every unit at every step, in far fewer
        # scorings.
        bounds = [(-_score(unit, probability), unit.position, unit) for unit in units]
        heapq.heapify(bounds)
        chosen: list[_Unit] = []
        used = 0
        while bounds:
            await pace.step()
            _, position, best = heapq.heappop(bounds)
            if used + best.tokens > self._budget:
                continue  # it would not fit when its turn came either: ``used`` only grows
            score = _score(best, probability)
            if bounds and (score, -position) < (-bounds[0][0], -bounds[0][1]):
                heapq.heappush(bounds, (-score, position, best))
                continue
            chosen.append(best)
            used += best.tokens
            for word in set(best.words):
                probability[word] *= probability[word]
        return chosen


def _sentences(text: str) -> list[_Sentence]:
    """The sentences of ``text`` that have content words."""
    sentences: list[_Sentence] = []
    for sentence in _SENTENCE_END.split(text):
        sentence = " ".join(sentence.split())
        words = tuple(w for w in _WORD.findall(sentence.lower()) if w not in _STOPWORDS)
        if words:
            salient = any(map(str.isdigit, sentence)) or any(
                w[:1].isupper() for w in sentence.split()[1:]
            )
            sentences.append((sentence, words, salient))
    return sentences


def _score(unit: _Unit, probability: dict[str, float]) -> float:
    score = sum(map(probability.__getitem__, unit.words)) / len(unit.words)
    return score * (1.25 if unit.salient else 1.0)


def _line(who: str, text: str) -> str:
    return f"{who}: {text}" if who else text


def _render(units: list[_Unit]) -> str:
    """One line per speaker turn, in conversation order."""
    lines: list[str] = []
    current: str | None = None
    for unit in sorted(units, key=lambda u: u.position):
        if unit.speaker == current and lines:
            lines[-1] += " " + unit.text
        else:
            lines.append(_line(unit.speaker, unit.text))
            current = unit.speaker
    return "\n".join(lines)
