"""Where the server may listen: loopback only while no API key guards it."""

from __future__ import annotations

import ipaddress
import socket

from server.domain.errors import ConfigurationError

__all__ = ["check_listen_address", "check_port_free", "reserve_port"]


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
    if listen.rpartition(":")[2] != "0":
        _bound(listen, share_port=False).close()


def reserve_port(listen: str) -> socket.socket:
    """A socket bound (never listening) on ``listen`` with ``SO_REUSEPORT``, which keeps
    the port for servers that bind it with ``SO_REUSEPORT`` too (the workers of
    ``MEMORIA_WORKERS``); port 0 takes a free one. Check ``check_port_free`` first:
    this one would share the port with any such server."""
    return _bound(listen, share_port=True)


def _bound(listen: str, *, share_port: bool) -> socket.socket:
    host, _, port = listen.rpartition(":")
    try:
        infos = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror}") from exc
    family, kind, protocol, _, address = infos[0]
    bound = socket.socket(family, kind, protocol)
    if share_port:
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    else:
        # Connections of a server that just stopped (TIME_WAIT) do not hold the port.
        bound.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        bound.bind(address)
    except OSError as exc:
        bound.close()
        raise ConfigurationError(
            f"cannot listen on {listen}: {exc.strerror or exc} (another server?)"
        ) from exc
    return bound
