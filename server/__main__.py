"""``python -m server``: run Memoria until SIGINT or SIGTERM.

``python -m server keys …`` manages API keys instead (``server.key_commands``).
"""

from __future__ import annotations

import logging
import sys

from server.config import InvalidSettings, load_settings
from server.domain.errors import ConfigurationError
from server.key_commands import main as keys_main
from server.serving import configure_logging, run_event_loop, serve, serve_worker
from server.workers import run_workers


def main() -> None:
    if sys.argv[1:2] == ["keys"]:
        sys.exit(keys_main(sys.argv[2:]))
    try:
        settings = load_settings()
    except InvalidSettings as exc:
        print(f"memoria: {exc}", file=sys.stderr)
        sys.exit(2)
    configure_logging(settings)
    try:
        if settings.workers > 1:
            sys.exit(run_workers(settings, serve_worker))
        run_event_loop(settings, serve(settings))
    except ConfigurationError as exc:
        logging.getLogger("memoria").error("%s", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
