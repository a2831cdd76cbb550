"""The CLI and `/exp` accept the same words for tags and metric directions."""

from __future__ import annotations

import pytest

from bot.commands.base import CommandContext
from bot.commands.experiments import tag_changes
from bot.router import execute
from bot.settings import Settings
from bot.shell import render_reply
from tracker import Tracker, directions
from tracker.cli import build_parser, cmd_metric, parse_args, parse_tag_changes
from tracker.errors import InvalidInput


@pytest.mark.parametrize(
    "words",
    [["nlp"], ["+nlp"], ["nlp", "-old"], ["+a", "-b", "c"], ["-x"]],
)
def test_tag_words_match_slack(words):
    assert parse_tag_changes(words) == tag_changes(words)


@pytest.mark.parametrize("word", ["+", "-"])
def test_tag_lone_sign_rejected(word):
    with pytest.raises(InvalidInput, match="TAG or \\+TAG to add"):
        parse_tag_changes([word])


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        *[(word, "max") for word in directions.MAXIMIZE_WORDS],
        *[(word, "min") for word in directions.MINIMIZE_WORDS],
        ("MAXIMIZE", "max"),
    ],
)
def test_direction_words(word, expected):
    assert directions.parse_direction(word) == expected


def test_direction_error_lists_words():
    with pytest.raises(InvalidInput) as caught:
        directions.parse_direction("up")

    for word in (*directions.MAXIMIZE_WORDS, *directions.MINIMIZE_WORDS):
        assert f"`{word}`" in str(caught.value)
    assert "'up'" in str(caught.value)


def slash_context(tracker: Tracker) -> CommandContext:
    return CommandContext(
        tracker=tracker,
        settings=Settings(),
        user_id="U0ALICE",
        handle="alice",
        is_admin=False,
        channel_id="C0MLTEAM",
    )


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        *[(word, "max") for word in directions.MAXIMIZE_WORDS],
        *[(word, "min") for word in directions.MINIMIZE_WORDS],
    ],
)
def test_cli_and_slash_directions_agree(sqlite_tracker, word, expected):
    args = parse_args(build_parser(), ["metric", "cli_metric", word])
    cmd_metric(sqlite_tracker, args)
    execute(slash_context(sqlite_tracker), f"metric slash_metric {word}")

    assert sqlite_tracker.directions()("cli_metric") == expected
    assert sqlite_tracker.directions()("slash_metric") == expected


def test_cli_bad_direction_exits_2(capsys):
    with pytest.raises(SystemExit) as caught:
        parse_args(build_parser(), ["metric", "bleu", "up"])

    error = capsys.readouterr().err
    assert caught.value.code == 2
    assert "`maximise`" in error
    assert "`lower`" in error
    assert "expbot metric --help" in error


def test_slash_bad_direction_lists_words(sqlite_tracker):
    text = render_reply(execute(slash_context(sqlite_tracker), "metric bleu up"))

    assert "`maximise`" in text
    assert "`lower`" in text


def test_cli_metric_lists_settings(sqlite_tracker, capsys):
    parser = build_parser()
    cmd_metric(sqlite_tracker, parse_args(parser, ["metric"]))
    empty = capsys.readouterr().out
    sqlite_tracker.set_metric_direction("bleu", "max", goal=30)
    sqlite_tracker.set_metric_direction("wer", "min", team="speech")

    cmd_metric(sqlite_tracker, parse_args(parser, ["metric"]))
    listed = capsys.readouterr().out.splitlines()
    cmd_metric(sqlite_tracker, parse_args(parser, ["metric", "bleu"]))
    shown = capsys.readouterr().out

    assert "No metric directions are set" in empty
    assert listed[0].split() == ["metric", "direction", "team", "goal"]
    assert listed[2].split() == ["bleu", "max", "(all)", "30"]
    assert listed[3].split() == ["wer", "min", "speech"]
    assert shown == "bleu: max, goal 30\n"


def test_cli_goal_needs_direction(sqlite_tracker):
    args = parse_args(build_parser(), ["metric", "bleu", "--goal", "3"])

    with pytest.raises(InvalidInput, match="Give the direction"):
        cmd_metric(sqlite_tracker, args)
