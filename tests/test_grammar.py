"""Counted nouns in replies and CLI text: "1 experiment", "2 experiments"."""

from __future__ import annotations

import pytest

from bot.commands.base import CommandContext
from bot.router import execute
from bot.settings import Settings
from tracker import Tracker, cli_format
from tracker.grammar import plural


@pytest.mark.parametrize(
    ("count", "word", "expected"),
    [
        (1, "experiment", "1 experiment"),
        (0, "experiment", "0 experiments"),
        (2, "experiment", "2 experiments"),
        (1, "delivery", "1 delivery"),
        (3, "delivery", "3 deliveries"),
        (2, "key", "2 keys"),
        (2, "day", "2 days"),
        (2, "match", "2 matches"),
        (2, "box", "2 boxes"),
        (4, "more entry", "4 more entries"),
        (-1, "point", "-1 points"),
    ],
)
def test_plural_regular_forms(count: int, word: str, expected: str) -> None:
    assert plural(count, word) == expected


def test_plural_irregular_form_given() -> None:
    assert plural(2, "person", "people") == "2 people"
    assert plural(1, "person", "people") == "1 person"


def test_search_reply_one_match(sqlite_tracker: Tracker) -> None:
    sqlite_tracker.track("only-run", researcher="alice", tags=["x"], capture=False)
    ctx = CommandContext(
        tracker=sqlite_tracker,
        settings=Settings(),
        user_id="U0ALICE",
        handle="alice",
        is_admin=False,
        channel_id="C0MLTEAM",
    )

    reply = execute(ctx, "search tag:x")

    assert reply.text == "1 experiment matches `tag:x`"
    assert "*1 experiment* matches" in reply.blocks[0].to_dict()["text"]["text"]


def test_cli_summary_one_experiment(sqlite_tracker: Tracker) -> None:
    sqlite_tracker.track("only-run", researcher="alice", team="nlp", capture=False)

    text = cli_format.summary(sqlite_tracker.summary("nlp"))

    assert text.startswith("Team nlp: 1 experiment (")
