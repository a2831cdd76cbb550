"""`expbot report` and `expbot report-sample`: team reports from the shell.

`report` prints a month's or an ISO week's report as Markdown (or JSON)
and can post it to a Slack channel as the scheduler would. `report-sample`
renders the report of a made-up team into a folder, so that a reviewer
can look at the charts and the Block Kit message without a workspace.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.cli import warn_unknown_team
from tracker.errors import ExpbotError, InvalidInput
from tracker.report_periods import (
    month_period,
    parse_month,
    parse_week,
    week_period,
)

if TYPE_CHECKING:
    from tracker import Tracker
    from tracker.report_periods import Period


def register(commands: Any) -> None:
    """Add `report` and `report-sample` to the `expbot` subcommands."""
    sub = commands.add_parser(
        "report",
        help="a team's monthly or weekly report",
        description="Print a team's report for a calendar month or an ISO week "
        "as Markdown (or JSON), and optionally post it to Slack.",
    )
    sub.add_argument("--team", required=True, help="the team to report on")
    period = sub.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", metavar="YYYY-MM", help="calendar month")
    period.add_argument("--week", metavar="YYYY-Www", help="ISO week, e.g. 2026-W45")
    sub.add_argument(
        "--tz",
        default="UTC",
        help="IANA time zone the period is counted in (default: UTC)",
    )
    output = sub.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print JSON only")
    output.add_argument(
        "--markdown", action="store_true", help="print Markdown (the default)"
    )
    sub.add_argument(
        "--charts", metavar="DIR", help="also write the PNG charts into DIR"
    )
    sub.add_argument(
        "--post",
        metavar="CHANNEL",
        help="post it to this Slack channel id (needs SLACK_BOT_TOKEN)",
    )
    sub.set_defaults(handler=cmd_report, read_only=True)

    sample = commands.add_parser(
        "report-sample",
        help="render a sample report for review",
        description="Write a made-up team's report into a folder: the PNG "
        "charts, the Block Kit message as JSON, Markdown and the report's JSON.",
    )
    sample.add_argument("--out", required=True, metavar="DIR", help="output folder")
    sample.set_defaults(handler=cmd_report_sample, needs_tracker=False)


def cmd_report(tracker: Tracker, args: argparse.Namespace) -> int:
    from tracker.report_render import to_json, to_markdown
    from tracker.reports import build_report

    report = build_report(tracker, args.team, _period(args))
    warn_unknown_team(tracker, args.team)
    if args.charts:
        _write_charts(report, Path(args.charts))
    if args.post:
        ts = post(tracker, report, args.post)
        print(f"Posted the report to {args.post} (message ts {ts}).", file=sys.stderr)
    sys.stdout.write(to_json(report) + "\n" if args.json else to_markdown(report))
    return 0


def cmd_report_sample(_tracker: Tracker | None, args: argparse.Namespace) -> int:
    from bot.views.report import report_blocks
    from tracker.report_render import to_json, to_markdown
    from tracker.report_sample import (
        SAMPLE_MONTH,
        SAMPLE_TEAM,
        SAMPLE_YEAR,
        fill_sample_team,
    )
    from tracker.reports import monthly_report

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="expbot-sample-") as scratch:
        tracker = fill_sample_team(f"sqlite:///{Path(scratch) / 'sample.db'}")
        try:
            report = monthly_report(tracker, SAMPLE_TEAM, SAMPLE_YEAR, SAMPLE_MONTH)
        finally:
            tracker.close()

    written = _write_charts(report, out)
    blocks = [block.to_dict() for block in report_blocks(report)]
    files = {
        "report-blocks.json": json.dumps({"blocks": blocks}, indent=2) + "\n",
        "report.json": to_json(report) + "\n",
        "report.md": to_markdown(report),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    for path in written:
        print(path)
    return 0


def post(tracker: Tracker, report: Any, channel: str) -> str:
    """Post a report and its charts to `channel` now, and return the message ts."""
    from slack_sdk import WebClient

    from bot.report_delivery import (
        NOT_IN_CHANNEL_ERRORS,
        post_report,
        slack_ids_for,
        upload_charts,
    )
    from bot.settings import Settings
    from bot.slack_calls import SlackFailure

    settings = Settings.from_env()
    if not settings.bot_token:
        raise InvalidInput(
            "SLACK_BOT_TOKEN is not set: export the bot token (xoxb-...) to post "
            "with --post, or leave --post out."
        )
    client = WebClient(
        token=settings.bot_token, base_url=settings.api_url or WebClient.BASE_URL
    )
    try:
        ts = post_report(client, channel, report, slack_ids_for(tracker, report))
        upload_charts(client, channel, ts, report)
    except SlackFailure as failure:
        hint = (
            f" Invite the bot with `/invite @expbot` in {channel} and try again."
            if failure.error in NOT_IN_CHANNEL_ERRORS
            else ""
        )
        raise ExpbotError(
            f"Could not post to {channel}: {failure.error}.{hint}"
        ) from failure
    return ts


def _period(args: argparse.Namespace) -> Period:
    if args.week:
        return week_period(*parse_week(args.week), args.tz)
    return month_period(*parse_month(args.month), args.tz)


def _write_charts(report: Any, folder: Path) -> list[Path]:
    from tracker.charts import render_charts

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in render_charts(report):
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written
