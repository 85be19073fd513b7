"""The offline default: WordLlama's static token embeddings, from the installed wheel.

The ``wordllama`` wheel ships the 256-dimension ``l2_supercat`` weights and their
tokenizer. ``WordLlama.load()`` looks for the tokenizer in ``wordllama/tokenizer/``
while the wheel has it in ``wordllama/tokenizers/``, and then downloads it; given
the package folder as its cache folder (whose ``weights/`` and ``tokenizers/``
are where it looks there) and downloads disabled, it loads both files from the
wheel and never touches the network.

The model loads at the first ``embed`` (or ``load``), in a thread: importing and
loading take about half a second, which server start and test servers need not
wait for. A text's vector is the mean of its tokens' vectors; embedding runs in a
thread too.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from server.domain.errors import ConfigurationError
from server.domain.ports.embedder import EmbedderError, Vectors
from server.embedders.vectors import normalised_rows

if TYPE_CHECKING:
    from wordllama import WordLlamaInference

__all__ = ["WordLlamaEmbedder", "wordllama_folder"]

CONFIG = "l2_supercat"
DIMENSIONS = 256
# A batch is padded to its longest text and costs about 2 KiB per token slot
# (gathered vectors, then masked): texts are cut to 512 tokens (contents go up to
# MiBs) and embedded 16 at a time, so working memory stays under ~20 MB however
# many texts a call brings; 64 at a time is no faster.
MAX_TOKENS = 512
BATCH_SIZE = 16


def wordllama_folder() -> Path:
    """The installed ``wordllama`` package's folder, found without importing it.

    Raises ``ConfigurationError`` when the package or its shipped files are missing.
    """
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("the wordllama embedder needs the wordllama package installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    for shipped in (
        folder / "weights" / f"{CONFIG}_{DIMENSIONS}.safetensors",
        folder / "tokenizers" / f"{CONFIG}_tokenizer_config.json",
    ):
        if not shipped.is_file():
            raise ConfigurationError(f"the wordllama package lacks {shipped}")
    return folder


class WordLlamaEmbedder:
    """256-dimension static embeddings; offline, CPU only."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._model: WordLlamaInference | None = None
        self._loading = threading.Lock()

    @property
    def name(self) -> str:
        return "wordllama"

    @property
    def dimensions(self) -> int:
        return DIMENSIONS

    async def load(self) -> None:
        """Loads the model now rather than at the first ``embed``."""
        await asyncio.to_thread(self._loaded)

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return await asyncio.to_thread(self._embed, list(texts))

    def _embed(self, texts: list[str]) -> Vectors:
        model = self._loaded()
        # Texts of similar lengths share a batch, so that padding costs little.
        order = np.argsort([len(text) for text in texts], kind="stable")
        pooled = model.embed([texts[i] for i in order], batch_size=BATCH_SIZE)
        rows = np.empty_like(pooled)
        rows[order] = pooled
        return normalised_rows(rows)

    def _loaded(self) -> WordLlamaInference:
        with self._loading:
            if self._model is None:
                self._model = _load(self._folder)
            return self._model


def _load(folder: Path) -> WordLlamaInference:
    root = logging.getLogger()
    handlers = list(root.handlers)
    # Importing wordllama calls logging.basicConfig(level=INFO): undo that, the
    # server configures its own logging.
    level = root.level
    # The tokenizer would spread each batch over every core: in a server that takes
    # the cores from the calls being served, and costs ~40 % more CPU per text here.
    # Indexing runs in the background, one thread is enough.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from wordllama import WordLlama

    root.handlers[:] = handlers
    root.setLevel(level)
    try:
        model = WordLlama.load(CONFIG, cache_dir=folder, dim=DIMENSIONS, disable_download=True)
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"cannot load the wordllama model from {folder}: {exc}") from exc
    model.tokenizer.enable_truncation(max_length=MAX_TOKENS)
    return model
