"""Every /exp subcommand has help text, examples and an entry in docs/slack.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import bot.commands  # noqa: F401  (registers the subcommands)
from bot.commands.base import COMMANDS
from bot.commands.help import GROUPS

DOCS = Path(__file__).resolve().parent.parent / "docs" / "slack.md"
# The subcommands that the slash command must offer.
EXPECTED = {
    "help", "search", "show", "share", "summary", "report", "compare",
    "leaderboard", "subscribe", "subscriptions", "unsubscribe", "schedule",
    "schedules", "unschedule", "note", "tag", "metric", "link",
}  # fmt: skip
NAMES = sorted(COMMANDS)


def test_every_expected_subcommand_is_registered() -> None:
    assert EXPECTED <= set(COMMANDS)


@pytest.mark.parametrize("name", NAMES)
def test_subcommand_has_usage_and_summary(name: str) -> None:
    command = COMMANDS[name]
    assert command.usage.split()[0] == name
    assert command.summary.strip()
    assert len(command.summary) <= 100


@pytest.mark.parametrize("name", NAMES)
def test_subcommand_details_have_examples(name: str) -> None:
    details = COMMANDS[name].details
    assert len(details) >= 40
    assert f"`/exp {name}" in details


@pytest.mark.parametrize("name", NAMES)
def test_subcommand_documented_in_slack_md(name: str) -> None:
    heading = f"### `/exp {COMMANDS[name].usage}`"
    assert heading in DOCS.read_text().splitlines()


@pytest.mark.parametrize("name", NAMES)
def test_subcommand_listed_in_help_group(name: str) -> None:
    grouped = {listed for _title, names in GROUPS for listed in names}
    assert name in grouped


def test_docs_have_no_unknown_subcommand() -> None:
    headings = re.findall(r"^### `/exp ([a-z]+)", DOCS.read_text(), flags=re.MULTILINE)
    assert sorted(headings) == NAMES
