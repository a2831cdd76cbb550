"""The `expbot` entry point: the tracker's commands plus the bot's.

The tracker's parser brings its subcommands. This adds `serve` and
`shell`, and the commands of the bot's other modules (`outbox`, `report`,
`report-sample`) through their `register(subparsers)` functions.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from bot import outbox_cli, reports_cli
from tracker import cli as tracker_cli
from tracker.api import Tracker
from tracker.cli_numbers import whole_number

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    parser = tracker_cli.build_parser()
    commands = subcommands(parser)
    _add_serve(commands)
    _add_shell(commands)
    _add_registered(commands)
    return parser


def subcommands(parser: argparse.ArgumentParser) -> Any:
    """Return the parser's subcommand group, to add commands to it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    raise RuntimeError("the tracker's parser has no subcommands")


def _add_serve(commands: Any) -> None:
    sub = commands.add_parser(
        "serve",
        help="run the Slack bot",
        description="Run the Slack bot: Socket Mode when SLACK_APP_TOKEN is set, "
        "else HTTP on /slack/events with a /healthz check.",
    )
    mode = sub.add_mutually_exclusive_group()
    mode.add_argument(
        "--socket",
        dest="mode",
        action="store_const",
        const="socket",
        help="use Socket Mode (needs SLACK_APP_TOKEN)",
    )
    mode.add_argument(
        "--http",
        dest="mode",
        action="store_const",
        const="http",
        help="serve HTTP (needs SLACK_SIGNING_SECRET)",
    )
    sub.add_argument("--host", help="HTTP address (default: $EXPBOT_HOST or 0.0.0.0)")
    sub.add_argument(
        "--port",
        type=whole_number("--port 3000"),
        help="HTTP port (default: $EXPBOT_PORT or 3000)",
    )
    sub.set_defaults(handler=cmd_serve, needs_tracker=False)


def _add_shell(commands: Any) -> None:
    sub = commands.add_parser(
        "shell",
        help="try the /exp commands in a terminal, no Slack needed",
        description="Type /exp commands as a researcher and read the replies as "
        "text. Reads commands from standard input when it is not a terminal.",
    )
    sub.add_argument(
        "--demo",
        action="store_true",
        help="first fill a scratch database with a month of a team's experiments",
    )
    sub.add_argument(
        "--user", help="researcher handle (default: $EXPBOT_RESEARCHER, then $USER)"
    )
    sub.add_argument("--admin", action="store_true", help="act as an expbot admin")
    sub.set_defaults(handler=cmd_shell, needs_tracker=False)


def _add_registered(commands: Any) -> None:
    """Add the subcommands of the bot's other command modules."""
    outbox_cli.register(commands)
    reports_cli.register(commands)


def cmd_serve(_tracker: Tracker | None, args: argparse.Namespace) -> int:
    from bot.server import serve
    from bot.settings import Settings

    configure_logging(os.environ.get("EXPBOT_LOG_LEVEL", "INFO"))
    settings = Settings.from_env()
    if args.database_url:
        settings = dataclasses.replace(settings, database_url=args.database_url)
    return serve(settings, mode=args.mode, host=args.host, port=args.port)


def cmd_shell(_tracker: Tracker | None, args: argparse.Namespace) -> int:
    from bot.settings import Settings
    from bot.shell import run_shell

    configure_logging(os.environ.get("EXPBOT_LOG_LEVEL", "WARNING"))
    settings = Settings.from_env()
    if args.database_url:
        settings = dataclasses.replace(settings, database_url=args.database_url)
    return run_shell(settings, user=args.user, demo=args.demo, admin=args.admin)


def configure_logging(level_name: str) -> None:
    level = logging.getLevelNamesMapping().get(level_name.strip().upper())
    logging.basicConfig(
        level=level or logging.INFO, format=LOG_FORMAT, stream=sys.stderr
    )
    # Alembic logs every migration plugin at INFO on each start.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Bolt logs a rejected request's whole body at INFO, and the body contains
    # a response_url that can post to the channel for 30 minutes.
    if (level or logging.INFO) > logging.DEBUG:
        logging.getLogger("slack_bolt").setLevel(logging.WARNING)
    if level is None:
        logging.getLogger(__name__).warning(
            "EXPBOT_LOG_LEVEL %r is not a level name; using INFO", level_name
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    return tracker_cli.run(tracker_cli.parse_args(parser, argv), parser)


if __name__ == "__main__":
    sys.exit(main())
