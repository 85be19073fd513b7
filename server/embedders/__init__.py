"""Embedder adapters: ``wordllama`` (offline default), any OpenAI-compatible
``/embeddings`` endpoint, or none; ``open.py`` picks one by name."""
