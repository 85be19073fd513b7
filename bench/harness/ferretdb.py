"""A MongoDB server for the tests: FerretDB v1 as a child process, or a given one.

``MEMORIA_TEST_MONGODB_URI`` names a real MongoDB to use instead of FerretDB.
Otherwise FerretDB is built under ``.cache/bin`` when missing (the Makefile's
``ferretdb`` target runs the same script) and started on a free loopback port.
When neither works, the tests that need MongoDB fail: they are never skipped.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["FerretDB", "database_url", "external_mongodb_uri", "ferretdb_binary", "free_port"]

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = Path(__file__).with_name("build_ferretdb.sh")
BINARY = REPO / ".cache" / "bin" / "ferretdb"
EXTERNAL_URI_VARIABLE = "MEMORIA_TEST_MONGODB_URI"


def external_mongodb_uri() -> str | None:
    return os.environ.get(EXTERNAL_URI_VARIABLE) or None


def ferretdb_binary() -> Path:
    """The FerretDB binary, built first when missing (about a minute on a cold Go cache)."""
    if not BINARY.exists():
        built = subprocess.run(
            ["bash", str(BUILD_SCRIPT), str(BINARY.parent)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if built.returncode != 0:
            raise RuntimeError(
                f"building FerretDB failed (exit {built.returncode}); set "
                f"{EXTERNAL_URI_VARIABLE} to test against another MongoDB server.\n"
                f"{built.stdout}{built.stderr}"
            )
    return BINARY


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def database_url(base_uri: str, database: str) -> str:
    """``base_uri`` with its path (the database name) replaced, options kept."""
    scheme, separator, rest = base_uri.partition("://")
    if not separator:
        raise ValueError(f"not a MongoDB URI: {base_uri!r}")
    hosts, _, path_and_query = rest.partition("/")
    _, _, query = path_and_query.partition("?")
    return f"{scheme}://{hosts}/{database}" + (f"?{query}" if query else "")


class FerretDB:
    """One FerretDB process on 127.0.0.1, its data in ``data_dir`` (SQLite files).

    It can be killed and started again on the same port and data, as a database
    outage and recovery.
    """

    def __init__(self, binary: Path, data_dir: Path, port: int | None = None) -> None:
        self.binary = binary
        self.data_dir = data_dir
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "ferretdb.log"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def start(self, timeout: float = 20.0) -> FerretDB:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.binary),
                    "--handler=sqlite",
                    f"--sqlite-url=file:{self.data_dir}/",  # the trailing slash is required
                    f"--listen-addr=127.0.0.1:{self.port}",
                    f"--state-dir={self.data_dir}",
                    "--debug-addr=-",  # else every instance binds 127.0.0.1:8088
                    "--telemetry=disable",  # else it tries to reach the internet
                    "--log-level=WARN",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                time.sleep(0.05)
            else:
                return self
        self.stop()
        raise RuntimeError(f"FerretDB did not start:\n{self.log_path.read_text(errors='replace')}")

    def kill(self) -> None:
        """Ends the process at once, as a crash or a network cut would."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
