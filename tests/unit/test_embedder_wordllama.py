"""The offline default embedder: shapes, normalisation, meaning, and loading with no network."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from server.embedders.open import open_embedder
from server.embedders.wordllama_static import DIMENSIONS, WordLlamaEmbedder

PARAPHRASES = [
    ("I'm trying to eat less meat these days", "My diet is mostly vegetarian now"),
    ("Our flight to Lisbon leaves on Friday morning", "We fly to Portugal at the end of the week"),
    ("The dog keeps barking at the mailman", "My puppy is noisy whenever the postman comes"),
    (
        "The deploy failed because the database migration timed out",
        "The release broke since the schema change took too long",
    ),
    ("Can you recommend a good book about history?", "Suggest a nice history novel to read"),
]


@pytest.fixture(scope="module")
def embedder() -> WordLlamaEmbedder:
    opened = open_embedder("wordllama")
    assert isinstance(opened, WordLlamaEmbedder)
    return opened


async def test_rows_are_unit_float32_in_input_order(embedder: WordLlamaEmbedder) -> None:
    texts = ["a short one", "a somewhat longer text about trains and stations", "x" * 5000]
    rows = await embedder.embed(texts)
    assert rows.shape == (3, DIMENSIONS) == (3, embedder.dimensions) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    # Batching sorts texts by length: each row must still be its own text's.
    for text, row in zip(texts, rows, strict=True):
        [alone] = await embedder.embed([text])
        assert np.allclose(alone, row, atol=1e-6)


async def test_empty_text_is_a_zero_row(embedder: WordLlamaEmbedder) -> None:
    rows = await embedder.embed(["", "something said"])
    assert not np.isnan(rows).any()
    assert np.count_nonzero(rows[0]) == 0 and np.isclose(np.linalg.norm(rows[1]), 1.0)
    assert (await embedder.embed([])).shape == (0, DIMENSIONS)


async def test_paraphrases_score_above_unrelated_texts(embedder: WordLlamaEmbedder) -> None:
    rows = await embedder.embed([text for pair in PARAPHRASES for text in pair])
    cosines = rows[0::2] @ rows[1::2].T  # [i, j]: first of pair i against second of pair j
    for i in range(len(PARAPHRASES)):
        unrelated = np.delete(cosines[i], i)
        assert cosines[i, i] > 0.3 > unrelated.max() + 0.15, PARAPHRASES[i]


# Loads and embeds in a fresh interpreter whose sockets refuse to connect, with an
# empty home folder (no cached downloads); prints the vectors' shape.
OFFLINE_LOAD = textwrap.dedent(
    """
    import asyncio, logging, socket

    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    from server.embedders.open import open_embedder

    rows = asyncio.run(open_embedder("wordllama").embed(["offline, as it should be"]))
    assert logging.getLogger().handlers == [], "importing wordllama configured logging"
    print(rows.shape)
    """
)


def test_loads_with_no_network(tmp_path: Path) -> None:
    """The default embedder needs no network: sockets are blocked, and the network
    namespace is removed too wherever ``unshare`` can."""
    command = [sys.executable, "-c", OFFLINE_LOAD]
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], check=False).returncode == 0:
        command = [unshare, "-rn", *command]
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"(1, {DIMENSIONS})"
    assert list(home.iterdir()) == []
