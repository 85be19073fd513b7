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
    def __init__(self, store_url: str, work_dir: Path, env: Mapping[str, str] | None = None):
        self.store_url = store_url
        self.work_dir = work_dir
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[str] | None = None
        self.address = ""
        self.log: list[str] = []

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
        self.log = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "server"],
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        listening = threading.Event()
        threading.Thread(target=self._read_log, args=(listening,), daemon=True).start()
        if not listening.wait(timeout):
            self.stop()
            raise RuntimeError("server did not start:\n" + "".join(self.log))
        return self

    def _read_log(self, listening: threading.Event) -> None:
        assert self.process is not None and self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
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

    def wait_for_log(self, text: str, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.log):
                return True
            time.sleep(0.02)
        return False
