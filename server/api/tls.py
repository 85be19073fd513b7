"""TLS credentials of the server from PEM files: TLS, or mutual TLS with a client CA."""

from __future__ import annotations

from pathlib import Path

import grpc

from server.domain.errors import ConfigurationError

__all__ = ["server_credentials"]


def server_credentials(
    cert: Path, key: Path, client_ca: Path | None = None
) -> grpc.ServerCredentials:
    """Serves ``cert`` (a PEM chain) with its private ``key``; with ``client_ca``, only
    to clients presenting a certificate that CA signed."""
    return grpc.ssl_server_credentials(
        [(_pem(key, "MEMORIA_TLS_KEY", "PRIVATE KEY"), _pem(cert, "MEMORIA_TLS_CERT"))],
        root_certificates=None if client_ca is None else _pem(client_ca, "MEMORIA_TLS_CLIENT_CA"),
        require_client_auth=client_ca is not None,
    )


def _pem(path: Path, variable: str, kind: str = "CERTIFICATE") -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{variable}: cannot read {path}: {exc.strerror}") from exc
    if b"-----BEGIN " not in data or kind.encode() not in data:
        raise ConfigurationError(f"{variable}: {path} holds no PEM {kind.lower()}")
    return data
