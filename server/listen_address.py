"""Where the server may listen: loopback only while no API key guards it."""

from __future__ import annotations

import ipaddress

from server.domain.errors import ConfigurationError

__all__ = ["check_listen_address"]


def check_listen_address(listen: str) -> str:
    """The host of ``listen`` (``host:port``); refuses anything but loopback."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigurationError(f"MEMORIA_LISTEN must be host:port, got {listen!r}")
    bare_host = host.strip("[]")
    if bare_host != "localhost":
        try:
            loopback = ipaddress.ip_address(bare_host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise ConfigurationError(
                f"refusing to listen on {listen}: without API keys Memoria serves loopback only"
            )
    return host
