"""Runs ``python -m server`` as a child process, the way a user starts it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

__all__ = ["ServerProcess"]

_LISTENING = re.compile(r"listening on (\S+):(\d+)")
# Every download tiktoken might try goes to a closed port: token counting must work offline.
OFFLINE_ENV = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}


class ServerProcess:
    """``log_to_file`` sends the server's log to ``work_dir/server.log`` instead of a
    pipe this process reads line by line: benchmarks use it so that reading the
    access log costs the client nothing while it measures."""

    def __init__(
        self,
        store_url: str,
        work_dir: Path,
        env: Mapping[str, str] | None = None,
        *,
        log_to_file: bool = False,
    ):
        self.store_url = store_url
        self.work_dir = work_dir
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[str] | None = None
        self.address = ""
        self._log_file = work_dir / "server.log" if log_to_file else None
        self._piped_log: list[str] = []

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {
            **os.environ,
            **OFFLINE_ENV,
            "MEMORIA_LISTEN": "127.0.0.1:0",
            "MEMORIA_STORE_URL": self.store_url,
            "MEMORIA_TIKTOKEN_CACHE_DIR": str(self.work_dir / "tiktoken"),
            "MEMORIA_SHUTDOWN_GRACE": "5",
            **self.extra_env,
        }
        self._piped_log = []
        stderr = subprocess.PIPE if self._log_file is None else self._log_file.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server"],
            env=env,
            stderr=stderr,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        if not isinstance(stderr, int):
            stderr.close()  # the server has its own copy
        listening = threading.Event()
        target = self._read_log if self._log_file is None else self._find_address
        threading.Thread(target=target, args=(listening,), daemon=True).start()
        if not listening.wait(timeout):
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.log))
        return self

    @property
    def log(self) -> list[str]:
        """The server's log lines so far."""
        if self._log_file is None:
            return self._piped_log
        return self._log_file.read_text().splitlines(keepends=True)

    def _read_log(self, listening: threading.Event) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self._piped_log.append(line)
            self._note_address(line, listening)

    def _find_address(self, listening: threading.Event) -> None:
        while not listening.is_set() and self.process is not None:
            for line in self.log:
                self._note_address(line, listening)
            time.sleep(0.02)

    def _note_address(self, line: str, listening: threading.Event) -> None:
        found = _LISTENING.search(line)
        if found:
            self.address = f"{found.group(1)}:{found.group(2)}"
            listening.set()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Sends ``sig`` and waits for the exit code."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process = None
        return code

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not running"
        return self.process.pid

    def memory(self, field: str = "VmRSS") -> int:
        """A memory figure of the server process from /proc/<pid>/status, in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
        raise KeyError(field)

    def access_log(self, method: str) -> list[str]:
        return [line for line in self.log if "memoria.access" in line and method in line]

    def wait_for_access_log(self, method: str, count: int, timeout: float = 5.0) -> list[str]:
        """The access-log lines of ``method`` once there are ``count`` of them (or at
        ``timeout``): the server writes its log a few times a second, not per line."""
        deadline = time.monotonic() + timeout
        while len(lines := self.access_log(method)) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return lines

    def settled_log(self, quiet: float = 0.3, timeout: float = 5.0) -> list[str]:
        """The log once it has stopped growing for ``quiet`` seconds: what the server
        logged before now has been written (it writes a few times a second)."""
        deadline = time.monotonic() + timeout
        lines, since = self.log, time.monotonic()
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            time.sleep(0.02)
            if len(now := self.log) != len(lines):
                lines, since = now, time.monotonic()
        return lines

    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.log):
                return True
            time.sleep(0.02)
        return False
