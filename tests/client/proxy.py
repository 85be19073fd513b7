"""A TCP proxy between a client and a server that can drop connections on cue."""

from __future__ import annotations

import contextlib
import socket
import threading

__all__ = ["Proxy"]


class Proxy:
    """Forwards every connection to ``upstream`` (changeable, e.g. to a restarted server).

    ``cut_on(marker)``: the next time the server sends bytes containing ``marker``, the
    connection is closed instead of passing them on; ``cut`` is set when that happened.
    ``mute()``: what the server sends on the connections open now is dropped from then
    on, until ``cut_muted()`` closes them; new connections are served as usual.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.connections = 0
        self.cut = threading.Event()
        self._marker = b""
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._muted: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_on(self, marker: bytes) -> None:
        self.cut.clear()
        self._marker = marker

    def mute(self) -> None:
        with self._lock:
            self._muted = set(self._sockets)

    def cut_muted(self) -> None:
        with self._lock:
            muted, self._muted = self._muted, set()
        _close(*muted)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            host, port = self.upstream.rsplit(":", 1)
            try:
                server = socket.create_connection((host, int(port)), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self.connections += 1
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_server: bool) -> None:
        tail = b""
        try:
            while data := source.recv(65536):
                marker = self._marker
                if from_server and marker and marker in tail + data:
                    self._marker = b""
                    self.cut.set()
                    break
                tail = data[-len(marker) :] if marker else b""
                if not (from_server and source in self._muted):
                    target.sendall(data)
        except OSError:
            pass
        _close(source, target)

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            _close(*self._sockets)


def _close(*sockets: socket.socket) -> None:
    for end in sockets:
        with contextlib.suppress(OSError):
            end.shutdown(socket.SHUT_RDWR)
        end.close()
