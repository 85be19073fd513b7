"""Where the server may listen: loopback only while no API key guards it."""

from __future__ import annotations

import ipaddress
import socket

from server.domain.errors import ConfigurationError

__all__ = ["check_listen_address", "check_port_free"]


def check_listen_address(listen: str, *, api_keys: bool) -> tuple[str, bool]:
    """The host of ``listen`` (``host:port``) and whether it is loopback; refuses any
    other address unless ``api_keys`` guard the server."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or int(port) > 65535:
        raise ConfigurationError(
            f"MEMORIA_LISTEN must be host:port with a port from 0 to 65535, got {listen!r}"
        )
    loopback = _is_loopback(host.strip("[]"))
    if not loopback and not api_keys:
        raise ConfigurationError(
            f"refusing to listen on {listen}: without API keys Memoria serves loopback only"
            " (set MEMORIA_AUTH=api-key)"
        )
    return host, loopback


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def check_port_free(listen: str) -> None:
    """Refuses an address that another process holds, with one clear line (gRPC's own
    bind error is a multi-line log from its C core)."""
    host, _, port = listen.rpartition(":")
    if port == "0":
        return
    try:
        infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror}") from exc
    family, kind, protocol, _, address = infos[0]
    with socket.socket(family, kind, protocol) as probe:
        # Connections of a server that just stopped (TIME_WAIT) do not hold the port.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {listen}: {exc.strerror or exc} (another server?)"
            ) from exc
