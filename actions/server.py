"""The action server in one process.

`python -m rasa_sdk` runs Sanic's worker manager: a primary process plus a spawned worker, each
importing the actions, so the index and the embedder would sit in memory twice, and the manager's
pipe broke under `hotline up` on this machine. One process serves the hotline's load (Rasa calls
actions one at a time per conversation) and loads everything once.

    python -m actions.server --port 5055
"""

from __future__ import annotations

import argparse
import logging
import sys

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor

from actions.knowledge_actions import answerer
from actions.ticket_actions import ticket_service
from bot.settings import SettingsError, get_settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m actions.server", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="internal: only Rasa calls it")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s - %(message)s")

    try:
        get_settings()  # the gateway's settings, read the same way: a bad one stops startup here
    except SettingsError as exc:
        sys.exit(f"actions: {exc}")
    executor = ActionExecutor()
    executor.register_package("actions")
    # Load the index and the embedder before the health check passes, not on a citizen's first question.
    answerer().answer("12320")
    ticket_service()  # and the ticket store, migrated, before the first ticket is filed
    app = create_app(executor)
    app.run(host=args.host, port=args.port, single_process=True, access_log=False, motd=False)


if __name__ == "__main__":
    main()
