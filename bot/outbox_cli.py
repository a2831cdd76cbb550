"""`expbot outbox`: see and fix notifications that are waiting or parked.

    expbot outbox [list] [--all] [--json]   deliveries not yet delivered
    expbot outbox retry ID... | --parked    make them due now
    expbot outbox drop ID...                give up on them

A parked delivery failed for good (say the bot was removed from the
channel); fix the cause, then retry it. A retried delivery that was tried
before is first looked up in Slack, so it is not posted twice.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot import outbox
from tracker import cli_format
from tracker.api import Tracker
from tracker.cli_numbers import whole_number
from tracker.errors import InvalidInput
from tracker.grammar import plural

LIST_LIMIT = 200


def register(subparsers: Any) -> None:
    """Add `outbox` and its subcommands to the `expbot` parser."""
    parser = subparsers.add_parser(
        "outbox",
        help="list, retry or drop pending and parked notifications",
        description="List the Slack notifications that are waiting or parked, "
        "and retry or drop them.",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    # Listing never creates a missing SQLite file. Retry and drop write, so
    # they create it like other commands that write.
    parser.set_defaults(handler=cmd_list, all=False, limit=LIST_LIMIT, read_only=True)
    commands = parser.add_subparsers(dest="outbox_command", metavar="COMMAND")

    sub = commands.add_parser(
        "list",
        help="list pending and parked deliveries (the default)",
        description="List deliveries that are waiting or parked, oldest first.",
    )
    _json_flag(sub)
    sub.add_argument(
        "--all", action="store_true", help="include delivered and dropped ones"
    )
    sub.add_argument(
        "--limit",
        type=whole_number("--limit 50"),
        default=LIST_LIMIT,
        help="show at most this many rows",
    )
    sub.set_defaults(handler=cmd_list)

    sub = commands.add_parser(
        "retry",
        help="make deliveries due now",
        description="Make deliveries due now, after fixing why they failed.",
    )
    _json_flag(sub)
    sub.add_argument(
        "ids",
        nargs="*",
        type=whole_number("`expbot outbox retry 12`"),
        metavar="ID",
        help="delivery id",
    )
    sub.add_argument("--parked", action="store_true", help="retry every parked one")
    sub.set_defaults(handler=cmd_retry, read_only=False)

    sub = commands.add_parser(
        "drop",
        help="give up on deliveries",
        description="Give up on deliveries, so no dispatcher tries them again.",
    )
    _json_flag(sub)
    sub.add_argument(
        "ids",
        nargs="+",
        type=whole_number("`expbot outbox drop 12`"),
        metavar="ID",
        help="delivery id",
    )
    sub.set_defaults(handler=cmd_drop, read_only=False)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS keeps `expbot outbox --json list` from being reset to False.
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON only"
    )


def cmd_list(tracker: Tracker, args: argparse.Namespace) -> int:
    states = (
        outbox.STATES if args.all else (outbox.PENDING, outbox.SENDING, outbox.PARKED)
    )
    rows = outbox.list_deliveries(tracker.db, states, limit=max(1, args.limit))
    if args.json:
        return _print_json([row.to_dict() for row in rows])
    if not rows:
        print("No deliveries are waiting or parked.")
        return 0
    print(
        cli_format.table(
            ["ID", "STATE", "TRIES", "EVENT", "KIND", "TARGET", "NEXT TRY", "ERROR"],
            [
                [
                    row.id,
                    row.state,
                    row.attempts,
                    row.event_id,
                    row.kind,
                    row.target,
                    cli_format.when(row.next_attempt_at),
                    row.last_error or "-",
                ]
                for row in rows
            ],
        )
    )
    return 0


def cmd_retry(tracker: Tracker, args: argparse.Namespace) -> int:
    ids = list(args.ids)
    if args.parked:
        parked = outbox.list_deliveries(tracker.db, (outbox.PARKED,), limit=100_000)
        ids += [row.id for row in parked]
    if not ids:
        raise InvalidInput(
            "Give the ids of the deliveries to retry, or --parked for all parked "
            "ones; `expbot outbox list` shows them."
        )
    states = outbox.requeue(tracker.db, list(dict.fromkeys(ids)), now=tracker.clock())
    results = [{"id": i, "state": state} for i, state in states.items()]
    if args.json:
        return _print_json(results)
    print(
        f"Requeued {plural(len(results), 'delivery')}; the dispatcher sends them next."
    )
    return 0


def cmd_drop(tracker: Tracker, args: argparse.Namespace) -> int:
    ids = list(dict.fromkeys(args.ids))
    outbox.drop(tracker.db, ids)
    if args.json:
        return _print_json([{"id": i, "state": outbox.DROPPED} for i in ids])
    print(f"Dropped {plural(len(ids), 'delivery')}.")
    return 0


def _print_json(data: Any) -> int:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0
