"""Configuration: ``MEMORIA_*`` environment variables, each with a command-line flag.

A flag wins over its variable; ``python -m server --help`` lists them all.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, CliApp, SettingsConfigDict

__all__ = ["InvalidSettings", "Settings", "load_settings", "without_password"]


class InvalidSettings(ValueError):
    """Settings that fail validation: one line naming each bad variable."""


class Settings(BaseSettings):
    """Serves Memoria until SIGINT or SIGTERM. API keys: python -m server keys --help."""

    model_config = SettingsConfigDict(
        env_prefix="MEMORIA_",
        cli_kebab_case=True,
        cli_prog_name="python -m server",
        cli_implicit_flags=True,
    )

    listen: str = Field(
        "127.0.0.1:50051",
        description="host:port to serve on; port 0 picks a free port",
    )
    store_url: str = Field(
        "sqlite:///./var/memoria.db",
        description="sqlite:///path/to/file.db (embedded) or mongodb://host:port/database",
    )
    window: int = Field(
        12, ge=1, le=1000, description="messages returned by GetMemory when lastn is 0"
    )
    token_encoding: str = Field(
        "cl100k_base", description="tiktoken encoding: cl100k_base or o200k_base"
    )
    max_content_bytes: int = Field(1024 * 1024, ge=1, description="limit on a message's content")
    max_metadata_bytes: int = Field(
        64 * 1024, ge=2, description="limit on a metadata object, as compact JSON"
    )
    max_messages_per_request: int = Field(
        1000, ge=1, description="limit on the messages of one AddMemory call"
    )
    max_request_bytes: int = Field(
        64 * 1024 * 1024, ge=1024, description="limit on one gRPC request message"
    )
    max_response_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        description="limit on one response (list page, memory, stream batch): 4 MiB is what"
        " gRPC clients accept by default",
    )
    tiktoken_cache_dir: Path = Field(
        Path(tempfile.gettempdir()) / "memoria-tiktoken",
        description="where the bundled tiktoken files are unpacked",
    )
    shutdown_grace: float = Field(
        10.0, ge=0, description="seconds in-flight calls get to finish at shutdown"
    )
    health_interval: float = Field(
        5.0, gt=0, description="seconds between two health probes of the store"
    )
    event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop",
        description="uvloop (faster; where it is installed, not on Windows) or asyncio (the"
        " standard library's)",
    )
    summarizer: Literal["extractive", "openai"] = Field(
        "extractive",
        description="extractive (offline, default) or openai (an OpenAI-compatible LLM API)",
    )
    summary_token_budget: int = Field(
        512, ge=16, description="most tokens a rolling summary may have"
    )
    summary_chunk_tokens: int = Field(
        4000, ge=1, description="most message tokens folded into the summary in one step"
    )
    summary_lease: float = Field(
        60.0,
        gt=0,
        description="seconds a server may fold a session before another may take over",
    )
    summary_retry_initial: float = Field(
        1.0, gt=0, description="first delay before retrying a failed summarization"
    )
    summary_retry_max: float = Field(
        60.0, gt=0, description="longest delay between two retries (the delay doubles)"
    )
    summary_concurrency: int = Field(4, ge=1, description="sessions summarized at once")
    summary_duty_cycle: float = Field(
        0.25,
        gt=0,
        le=1,
        description="largest fraction of the time folding one session may be busy: it rests"
        " between chunks so that a large backlog does not slow the RPCs (1: no rest)",
    )
    summary_prompt: str = Field(
        "",
        description="LLM prompt template; {previous_summary}, {messages} and {token_budget}"
        " are filled in (empty: the built-in prompt)",
    )
    llm_base_url: str = Field(
        "", description="OpenAI-compatible API root, e.g. http://127.0.0.1:8000/v1"
    )
    llm_model: str = Field("", description="model name sent to the LLM API")
    llm_api_key: str = Field("", description="sent as Authorization: Bearer <key> when set")
    llm_timeout: float = Field(30.0, gt=0, description="seconds one LLM call may take")
    embedder: Literal["wordllama", "openai", "none"] = Field(
        "wordllama",
        description="turns texts into vectors for semantic search: wordllama (offline, default),"
        " openai (an OpenAI-compatible /embeddings API) or none (keyword search only)",
    )
    embeddings_base_url: str = Field(
        "", description="OpenAI-compatible API root for openai, e.g. http://127.0.0.1:8000/v1"
    )
    embeddings_model: str = Field("", description="model name sent to the embeddings API")
    embeddings_api_key: str = Field(
        "", description="sent to the embeddings API as Authorization: Bearer <key> when set"
    )
    embeddings_timeout: float = Field(
        30.0, gt=0, description="seconds one embeddings request may take"
    )
    embeddings_batch_size: int = Field(
        64, ge=1, le=2048, description="texts per embeddings request (OpenAI takes up to 2048)"
    )
    embeddings_dimensions: int = Field(
        0,
        ge=0,
        description="length of the API's vectors, sent as 'dimensions' (for models that can"
        " shorten theirs, e.g. text-embedding-3-*); 0: learned from the first answer",
    )
    embeddings_max_chars: int = Field(
        8000,
        ge=1,
        description="longer texts are cut to this many characters before they are sent (APIs"
        " refuse inputs over their token limit, 8192 tokens at OpenAI)",
    )
    follow_poll_interval: float = Field(
        0.2,
        gt=0,
        le=60,
        description="seconds between two store reads of a StreamMessages call that follows"
        " a session (messages stored through the same server wake it at once)",
    )
    import_write_batch: int = Field(
        10_000,
        ge=1,
        le=100_000,
        description="most messages per store write of ImportMessages",
    )
    import_write_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="a store write of ImportMessages holds messages until their contents"
        " reach this many bytes",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="server processes sharing the listen port (one per core), each with its"
        " own summary worker; one store",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    search_max_scan: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description="most messages one SearchMemory call reads (keyword candidates, embeddings"
        " newest first); beyond it the answer says truncated",
    )
    search_fusion: Literal["relative", "rrf"] = Field(
        "relative",
        description="how hybrid search fuses the keyword and semantic rankings: relative"
        " (scores scaled to [0, 1], 1:3 keyword to semantic) or rrf (reciprocal rank fusion)",
    )
    search_index_batch: int = Field(
        5000, ge=1, le=100_000, description="most messages analyzed or embedded per indexing step"
    )
    search_index_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        le=1024 * 1024 * 1024,
        description="an indexing step stops once its messages' contents reach this many bytes",
    )

    @model_validator(mode="after")
    def _one_message_fits_a_response(self) -> Settings:
        # A message at the content and metadata limits must fit one response: its
        # metadata may take up to six times its JSON size once encoded.
        largest = self.max_content_bytes + 6 * self.max_metadata_bytes + 4096
        if largest > self.max_response_bytes:
            raise ValueError(
                f"max_response_bytes ({self.max_response_bytes}) must hold a message at the"
                f" content and metadata limits: at least {largest}"
            )
        return self

    @model_validator(mode="after")
    def _embeddings_endpoint_named(self) -> Settings:
        if self.embedder == "openai":
            missing = [
                name
                for name, value in [
                    ("MEMORIA_EMBEDDINGS_BASE_URL", self.embeddings_base_url),
                    ("MEMORIA_EMBEDDINGS_MODEL", self.embeddings_model),
                ]
                if not value
            ]
            if missing:
                raise ValueError(f"MEMORIA_EMBEDDER=openai needs {' and '.join(missing)}")
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    access_log: bool = Field(
        True, description="log one line per RPC (method, code, tenant, key id, duration)"
    )
    auth: Literal["none", "api-key"] = Field(
        "none",
        description="none (loopback only: every caller is the tenant 'default') or api-key"
        " (every call but health and reflection needs 'authorization: Bearer <key>')",
    )
    key_cache_seconds: float = Field(
        5.0,
        ge=0,
        le=300,
        description="seconds a checked API key is trusted without reading the store again:"
        " a revoked key stops working on every server within this time",
    )
    tls_cert: Path | None = Field(None, description="PEM certificate chain: serve TLS")
    tls_key: Path | None = Field(None, description="PEM private key of MEMORIA_TLS_CERT")
    tls_client_ca: Path | None = Field(
        None, description="PEM CA certificates: require client certificates they signed (mTLS)"
    )

    @model_validator(mode="after")
    def _tls_files_together(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("MEMORIA_TLS_CERT and MEMORIA_TLS_KEY go together: set both or none")
        if self.tls_client_ca is not None and self.tls_cert is None:
            raise ValueError("MEMORIA_TLS_CLIENT_CA needs MEMORIA_TLS_CERT and MEMORIA_TLS_KEY")
        return self


def load_settings(argv: Sequence[str] | None = None) -> Settings:
    """Settings from the environment, overridden by command-line flags.

    Raises ``InvalidSettings`` naming each bad variable.
    """
    try:
        return CliApp.run(Settings, cli_args=list(argv) if argv is not None else None)
    except ValidationError as exc:
        raise InvalidSettings("; ".join(map(_described, exc.errors()))) from None


def _described(error: ErrorDetails) -> str:
    if not error["loc"]:  # a rule across settings: its message names them
        return error["msg"].removeprefix("Value error, ")
    variable = f"MEMORIA_{'_'.join(map(str, error['loc'])).upper()}"
    return f"{variable}: {error['msg']} (got {error.get('input')!r})"


def without_password(url: str) -> str:
    """``url`` with the password it may hold (a MongoDB URI's ``user:password@``) shown
    as ``***``, for logs."""
    scheme, separator, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not at or ":" not in credentials or "/" in credentials:
        return url
    return f"{scheme}{separator}{credentials.partition(':')[0]}:***@{location}"
