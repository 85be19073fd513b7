"""MEMORIA_LOG_LEVEL sets Memoria's own level; libraries log at INFO at most."""

from __future__ import annotations

import subprocess
import sys

import pytest

# In a process of its own: logging is configured once per process, and pytest's
# handlers on the root logger would make ``basicConfig`` do nothing here.
_PROBE = """
import logging
from server.config import Settings
from server.serving import configure_logging
configure_logging(Settings(log_level="{level}"))
names = ("memoria.summary", "pymongo.command")
print(*(logging.getLevelName(logging.getLogger(name).getEffectiveLevel()) for name in names))
"""


@pytest.mark.parametrize(
    ("level", "memoria", "libraries"),
    [("debug", "DEBUG", "INFO"), ("info", "INFO", "INFO"), ("warning", "WARNING", "WARNING")],
)
def test_debug_is_memorias_own_detail(level: str, memoria: str, libraries: str) -> None:
    probe = _PROBE.format(level=level)
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert found == [memoria, libraries]
