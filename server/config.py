"""Configuration: ``MEMORIA_*`` environment variables, each with a command-line flag.

A flag wins over its variable; ``python -m server --help`` lists them all.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, CliApp, SettingsConfigDict

__all__ = ["ConfigurationError", "Settings", "load_settings"]


class ConfigurationError(Exception):
    """A setting the server cannot start with."""


class Settings(BaseSettings):
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
    follow_poll_interval: float = Field(
        0.2,
        gt=0,
        le=60,
        description="seconds between two store reads of a StreamMessages call that follows"
        " a session (messages stored through the same server wake it at once)",
    )
    import_write_batch: int = Field(
        1000, ge=1, le=10000, description="messages per store write of ImportMessages"
    )
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    access_log: bool = Field(True, description="log one line per RPC (method, code, duration)")


def load_settings(argv: Sequence[str] | None = None) -> Settings:
    """Settings from the environment, overridden by command-line flags."""
    return CliApp.run(Settings, cli_args=list(argv) if argv is not None else None)
