"""The server's log handler: lines are formatted where they are logged and written
to the stream by a thread of their own, many in one write.

With a line per call (the access log), writing each line from the event loop
costs a system call per call and stalls the loop when the reader of stderr (a
pipe, a terminal) is slow; handing each record to a writer thread through a
queue (the stdlib's ``QueueHandler``) wakes that thread for every line instead.
Here the writer wakes every ``interval`` seconds, or at once for a warning or
worse, and writes what has gathered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TextIO

__all__ = ["BatchingStreamHandler", "SecondCachingFormatter"]


class BatchingStreamHandler(logging.Handler):
    def __init__(self, stream: TextIO, interval: float = 0.05) -> None:
        super().__init__()
        self._stream = stream
        self._interval = interval
        self._lines: deque[str] = deque()  # appends and pops are atomic across threads
        self._wake = threading.Event()
        # Not the handler's own lock, which every emit takes: a slow write must not
        # hold up the threads that log.
        self._writing = threading.Lock()
        self._closing = False
        self._writer = threading.Thread(target=self._write_until_closed, name="log-writer")
        self._writer.daemon = True
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.WARNING:
            self._wake.set()

    def flush(self) -> None:
        """Writes what has gathered now (``logging.shutdown`` calls it at exit)."""
        with self._writing:
            self._write_gathered()

    def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._writer is not threading.current_thread():
            self._writer.join(5)
        self.flush()
        super().close()

    def _write_until_closed(self) -> None:
        while not self._closing:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def _write_gathered(self) -> None:
        batch = []
        while self._lines:
            batch.append(self._lines.popleft())
        if batch:
            try:
                self._stream.write("".join(batch))
                self._stream.flush()
            except (OSError, ValueError):  # stderr closed or gone: nowhere left to log
                pass


class SecondCachingFormatter(logging.Formatter):
    """The standard formatter, with each second's date and time formatted once: the
    access log writes thousands of lines a second, and ``localtime`` with
    ``strftime`` was a third of the cost of formatting one. Same output."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second: tuple[int, str] = (-1, "")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        if datefmt is not None:
            return super().formatTime(record, datefmt)
        whole = int(record.created)
        second, text = self._second  # one read: other threads may log too
        if second != whole:
            text = time.strftime(self.default_time_format, self.converter(whole))
            self._second = (whole, text)
        return f"{text},{int(record.msecs):03d}"  # default_msec_format, '%s,%03d'
