"""Every example in `/exp help` and the README works in `expbot shell --demo`.

The examples run in order, as one demo user, in a shell filled with the
demo month. Help texts write `ID` where an experiment id goes; the test
puts in ids of the user's own experiments. The demo month ends now, so
the dates of `month:` and `week:` examples are replaced with a month and
a week that the demo covers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import demo
from bot.commands.base import COMMANDS, CommandContext, Reply
from bot.commands.help import GROUPS
from bot.router import execute
from bot.settings import Settings
from bot.shell import render_reply, shell_context
from bot.views import ACTION_SHOW
from tracker import Tracker
from tracker.report_periods import MONTH, period_containing

README = Path(__file__).resolve().parent.parent / "README.md"
USER = next(iter(demo.RESEARCHERS))
# `• `/exp search bert`` and `Example: `/exp schedules`` lines of a help text.
_EXAMPLE = re.compile(r"^(?:• |Example: )`/exp ([^`]*)`", re.MULTILINE)
_MONTH = re.compile(r"\bmonth:\d{4}-\d{2}\b")
_WEEK = re.compile(r"\bweek:\d{4}-W\d{2}\b")
_ID = re.compile(r"\bID\b")
_SHORTCODE = re.compile(r":[a-z][a-z0-9_+-]*:")
# Subcommands whose examples must find at least one experiment.
_FINDERS = ("search", "leaderboard")


def help_examples() -> list[str]:
    """Return every subcommand's examples, in the order `/exp help` lists them."""
    names = [name for _title, group in GROUPS for name in group]
    names += sorted(set(COMMANDS) - set(names))
    return [
        example
        for name in names
        for example in _EXAMPLE.findall(COMMANDS[name].details)
    ]


def readme_examples() -> list[str]:
    """Return the commands that the README's "First command" section suggests."""
    section = README.read_text().split("## First command", 1)[1].split("\n## ", 1)[0]
    spans = re.findall(r"`([^`\n]+)`", section)
    return [span for span in spans if span.split()[0] in COMMANDS]


@pytest.fixture(scope="module")
def shell(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CommandContext]:
    home = tmp_path_factory.mktemp("demo")
    tracker = Tracker(f"sqlite:///{home / 'expbot.db'}", clock=demo.Clock())
    demo.fill(tracker)
    yield shell_context(tracker, Settings(home=home), USER)
    tracker.close()


@pytest.fixture(scope="module")
def replies(shell: CommandContext) -> list[tuple[str, Reply]]:
    """Run the README's commands, then every help example, in one shell."""
    commands = readme_examples()
    commands += [fill_in(shell, example) for example in help_examples()]
    return [(command, execute(shell, command)) for command in commands]


def fill_in(ctx: CommandContext, example: str) -> str:
    """Put real ids, and a month and week with demo data, into an example."""
    own = ctx.tracker.search(f"by:{ctx.handle} sort:-created", limit=10)
    ids = iter(record.short_id for record in own)
    example = _ID.sub(lambda _match: next(ids), example)
    example = _MONTH.sub(f"month:{last_month(ctx.tracker)}", example)
    return _WEEK.sub(lambda _match: f"week:{busy_week(ctx, example)}", example)


def last_month(tracker: Tracker) -> str:
    """Return the last complete month, which `/exp report` shows by default."""
    today = tracker.clock().date()
    return period_containing(MONTH, today, "UTC").previous().label


def busy_week(ctx: CommandContext, example: str) -> str:
    """Return the ISO week in which the example's team created an experiment."""
    team = re.search(r"\bteam:(\S+)", example)
    timezone = re.search(r"\btz:(\S+)", example)
    query = f"team:{team.group(1)}" if team else ""
    created = ctx.tracker.search(f"{query} sort:created", limit=1)[0].created_at
    local = created.astimezone(ZoneInfo(timezone.group(1) if timezone else "UTC"))
    year, week, _day = local.isocalendar()
    return f"{year}-W{week:02d}"


def show_buttons(reply: Reply) -> list[Any]:
    """Return the experiment ids behind the reply's Show buttons."""
    ids = []
    for part in [reply, *reply.followups]:
        for block in part.blocks:
            accessory = block.to_dict().get("accessory") or {}
            if accessory.get("action_id") == ACTION_SHOW:
                ids.append(accessory["value"])
    return ids


def test_every_subcommand_has_an_example() -> None:
    found = {example.split()[0] for example in help_examples()}

    assert found == set(COMMANDS)


def test_readme_suggests_commands() -> None:
    assert len(readme_examples()) >= 3


def test_examples_use_id_placeholder() -> None:
    with_ids = [e for e in help_examples() if re.search(r"\b[0-9a-f]{6,}\b", e)]

    assert with_ids == []


def test_demo_goals_on_logged_metrics(shell: CommandContext) -> None:
    # Runs before the examples, which set goals of their own.
    logged = {key for r in shell.tracker.search("", limit=1000) for key in r.metrics}
    goals = {
        row["metric"]
        for row in shell.tracker.metric_directions()
        if row["goal"] is not None
    }

    assert goals
    assert goals <= logged


def test_help_examples_do_not_fail(replies: list[tuple[str, Reply]]) -> None:
    failed = [(command, reply.text) for command, reply in replies if reply.error]

    assert failed == []


def test_finder_examples_find_experiments(replies: list[tuple[str, Reply]]) -> None:
    empty = [
        command
        for command, reply in replies
        if command.split()[0] in _FINDERS and not show_buttons(reply)
    ]

    assert empty == []


def test_report_examples_have_data(replies: list[tuple[str, Reply]]) -> None:
    empty = [
        command
        for command, reply in replies
        if command.split()[0] == "report"
        and "No experiments were created" in render_reply(reply)
    ]

    assert empty == []


def test_sort_metric_is_known(replies: list[tuple[str, Reply]]) -> None:
    warned = [
        command
        for command, reply in replies
        if "No experiment has the metric" in render_reply(reply)
    ]

    assert warned == []


def test_shell_output_has_no_shortcodes(replies: list[tuple[str, Reply]]) -> None:
    raw = {
        command: _SHORTCODE.findall(render_reply(reply))
        for command, reply in replies
        if _SHORTCODE.search(render_reply(reply))
    }

    assert raw == {}
