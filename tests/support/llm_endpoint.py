"""A small OpenAI-compatible API on a real loopback socket: chat completions and embeddings.

The one stand-in the tests use: it records every request it receives (path,
headers, JSON body), answers chat completions with numbered summaries and
embeddings with vectors that depend only on the text (``vector_of``), and can be
told to fail with HTTP 500 or to hold its answers until released.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EMBEDDING_DIMENSIONS", "LlmEndpoint", "ReceivedRequest", "vector_of"]

# The length of the endpoint's vectors unless a request asks for ``dimensions``.
EMBEDDING_DIMENSIONS = 12


def vector_of(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> npt.NDArray[np.float32]:
    """The vector the endpoint answers for ``text``: seeded by its hash, not normalised."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return np.random.default_rng(seed).normal(size=dimensions).astype(np.float32)


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def prompt(self) -> str:
        return "\n".join(str(m["content"]) for m in self.body["messages"])


@dataclass
class LlmEndpoint:
    failing: bool = False
    requests: list[ReceivedRequest] = field(default_factory=list)
    failures: int = 0
    answers: list[str] = field(default_factory=list)
    # Embeddings: answer float lists even when base64 is asked for, or vectors this long.
    plain_floats: bool = False
    dimensions_answered: int | None = None
    released: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.released.set()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> LlmEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                endpoint.requests.append(
                    ReceivedRequest(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body
                    )
                )
                endpoint.released.wait(60)
                if endpoint.failing or self.path not in (
                    "/v1/chat/completions",
                    "/v1/embeddings",
                ):
                    endpoint.failures += 1
                    self._send(500, {"error": {"message": "model overloaded"}})
                    return
                if self.path == "/v1/embeddings":
                    self._send(200, endpoint.embeddings(body))
                    return
                answer = f"Summary number {len(endpoint.answers) + 1} of the talk."
                endpoint.answers.append(answer)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": answer},
                                "finish_reason": "stop",
                            }
                        ],
                    },
                )

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: stop() waits for the next poll.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()
        return self

    def embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        """An answer to ``POST /embeddings``, its items in reverse order (``index`` says
        where each belongs)."""
        length = self.dimensions_answered or body.get("dimensions") or EMBEDDING_DIMENSIONS
        base64_asked = body.get("encoding_format") == "base64" and not self.plain_floats
        data = []
        for index, text in enumerate(body["input"]):
            vector = vector_of(text, length)
            encoded: object = (
                base64.b64encode(vector.astype("<f4").tobytes()).decode()
                if base64_asked
                else vector.tolist()
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        return {
            "object": "list",
            "data": data[::-1],
            "model": body.get("model"),
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
