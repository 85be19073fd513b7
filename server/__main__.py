"""``python -m server``: run Memoria until SIGINT or SIGTERM.

``python -m server keys …`` manages API keys instead (``server.key_commands``).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from server.app import running_server
from server.config import InvalidSettings, Settings, load_settings
from server.domain.errors import ConfigurationError
from server.key_commands import main as keys_main


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with running_server(settings):
        await stop.wait()


def main() -> None:
    if sys.argv[1:2] == ["keys"]:
        sys.exit(keys_main(sys.argv[2:]))
    try:
        settings = load_settings()
    except InvalidSettings as exc:
        print(f"memoria: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("memoria.access").disabled = not settings.access_log
    try:
        asyncio.run(serve(settings))
    except ConfigurationError as exc:
        logging.getLogger("memoria").error("%s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
