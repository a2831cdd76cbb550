"""The `expbot nemo sync` command."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tracker.api import Tracker
from tracker.cli_numbers import finite_number
from tracker.nemo.layout import nemo_home
from tracker.nemo.sync import DEFAULT_WORKER_TIMEOUT_SECONDS, sync


def register_cli(commands: Any) -> None:
    """Add `nemo sync` to the `expbot` parser's subcommands."""
    nemo = commands.add_parser(
        "nemo", help="work with NeMo Run experiments", description="NeMo Run commands"
    )
    actions = nemo.add_subparsers(dest="nemo_command", metavar="COMMAND")
    actions.required = True
    help_text = "import NeMo Run experiments and update their status"
    sub = actions.add_parser("sync", help=help_text, description=help_text)
    sub.set_defaults(handler=run_sync_command)
    sub.add_argument(
        "--home",
        help="the NeMo Run home directory (default: $NEMORUN_HOME, else ~/.nemo_run)",
    )
    sub.add_argument(
        "--team", help="team of imported experiments (default: $EXPBOT_TEAM)"
    )
    sub.add_argument(
        "--timeout",
        type=finite_number("--timeout 60"),
        default=DEFAULT_WORKER_TIMEOUT_SECONDS,
        help="seconds to wait for NeMo Run to report task states "
        f"(default: {DEFAULT_WORKER_TIMEOUT_SECONDS})",
    )
    sub.add_argument("--json", action="store_true", help="print JSON only")


def run_sync_command(tracker: Tracker, args: argparse.Namespace) -> int:
    home = nemo_home(args.home)
    result = sync(tracker, home, team=args.team, timeout=args.timeout)
    if args.json:
        json.dump({"home": str(home), **result.to_dict()}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0

    print(f"NeMo Run experiments in {home}: {result.summary()}")
    for experiment_id, reason in sorted(result.skipped.items()):
        print(f"  skipped {experiment_id}: {reason}")
    return 0
