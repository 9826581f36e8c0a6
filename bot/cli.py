"""`hotline`: the one front door. Subcommands grow as capabilities land."""

from __future__ import annotations

import argparse
import os
import sys

from bot import nlu, up
from bot.analytics import report
from bot.console import cli as users_cli
from bot.conversation import retention
from bot.tickets import cli as tickets_cli
from index import cli as index_cli


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(prog="hotline", description="12320-style public-inquiry assistant")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what is being done")
    commands = parser.add_subparsers(dest="command", required=True)
    index_cli.register(commands)
    nlu.register(commands)
    up.register(commands)
    tickets_cli.register(commands)
    retention.register(commands)
    users_cli.register(commands)
    report.register(commands)
    args = parser.parse_args(argv)
    index_cli.configure_logging(args.verbose)
    try:
        return args.handler(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"hotline: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`… | head`): not an error of ours
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
