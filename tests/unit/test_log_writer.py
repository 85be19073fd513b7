"""The batching log handler writes every line, in order, off the logging thread."""

from __future__ import annotations

import io
import logging
import threading
import time

from server.log_writer import BatchingStreamHandler, SecondCachingFormatter


class BlockedStream(io.StringIO):
    """A stream whose writes wait until ``release`` is set, like a full pipe."""

    def __init__(self) -> None:
        super().__init__()
        self.writing = threading.Event()
        self.release = threading.Event()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writing.set()
        self.release.wait()
        self.writes += 1
        return super().write(text)


def _logger(handler: logging.Handler) -> logging.Logger:
    logger = logging.getLogger(f"test.log_writer.{id(handler)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return logger


def test_logging_goes_on_while_the_stream_is_blocked_and_no_line_is_lost() -> None:
    stream = BlockedStream()
    handler = BatchingStreamHandler(stream, interval=0.01)
    logger = _logger(handler)
    logger.info("line 0")
    assert stream.writing.wait(5), "the writer thread never wrote"
    for number in range(1, 500):  # would hang here if logging wrote itself
        logger.info("line %d", number)
    stream.release.set()
    handler.close()
    assert stream.getvalue().splitlines() == [f"line {n}" for n in range(500)]
    assert stream.writes <= 3  # the first line, then the rest gathered


def test_a_warning_is_written_without_waiting_for_the_interval() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60)
    logger = _logger(handler)
    logger.warning("disk full")
    deadline = time.monotonic() + 5
    while "disk full" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "disk full\n"
    handler.close()


def test_close_writes_what_is_left() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream, interval=60)
    _logger(handler).info("last words")
    handler.close()
    assert stream.getvalue() == "last words\n"


def test_the_second_caching_formatter_writes_what_the_standard_one_does() -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s %(message)s"
    standard, caching = logging.Formatter(fmt), SecondCachingFormatter(fmt)
    for created in (1_764_000_000.0, 1_764_000_000.5, 1_764_000_000.999, 1_764_000_001.25):
        record = logging.makeLogRecord({"msg": "hello", "levelno": 20, "levelname": "INFO"})
        record.created, record.msecs = created, (created - int(created)) * 1000
        assert caching.format(record) == standard.format(record)
