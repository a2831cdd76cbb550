"""The /exp router: parsing, error replies, and turning replies into messages."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest
from slack_bolt.request import BoltRequest
from slack_sdk.models.blocks import SectionBlock

from bot.app import create_app
from bot.commands.base import COMMANDS, Command, CommandContext, Reply
from bot.router import (
    ACTION_POST_TO_CHANNEL,
    MAX_MESSAGE_BLOCKS,
    MAX_RESPONSES,
    execute,
    messages,
    post_key,
    split_command,
)
from bot.settings import Settings
from tests.bot_server import reply_text
from tests.fakeslack import RESPONSE_URL, FakeSlack
from tests.fakeslack.payloads import block_action_payload, slash_command_body
from tests.fakeslack.signing import signed_headers
from tracker import Tracker

REFERENCE = re.compile(r"reference `([0-9a-f]{8})`")


def boom(ctx: CommandContext, args: str) -> Reply:
    raise RuntimeError("secret internal detail /srv/app.py line 12")


@pytest.fixture
def failing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    command = Command("boom", "boom", "always fails", "Fails.", boom)
    monkeypatch.setitem(COMMANDS, "boom", command)


@pytest.fixture
def ctx(sqlite_tracker: Tracker) -> CommandContext:
    return CommandContext(
        tracker=sqlite_tracker,
        settings=Settings(),
        user_id="U0ALICE",
        handle="alice",
        is_admin=False,
        channel_id="C0MLTEAM",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("search tag:nlp  bert", ("search", "tag:nlp  bert")),
        ("  SHOW 3f2a9c ", ("show", "3f2a9c")),
        ("help", ("help", "")),
        ("", ("", "")),
        ("note\n3f2a9c first\nsecond", ("note", "3f2a9c first\nsecond")),
        ("show\t3f2a9c", ("show", "3f2a9c")),
    ],
)
def test_split_command_cases(text: str, expected: tuple[str, str]) -> None:
    assert split_command(text) == expected


def test_empty_text_shows_help(ctx: CommandContext) -> None:
    reply = execute(ctx, "")
    assert not reply.error
    assert "/exp search" in reply_text({"blocks": [b.to_dict() for b in reply.blocks]})


def test_unknown_subcommand_suggests_closest(ctx: CommandContext) -> None:
    reply = execute(ctx, "leaderbord accuracy")
    assert reply.error
    assert "Did you mean `/exp leaderboard`?" in reply.text
    assert "/exp help" in reply.text


def test_unknown_subcommand_is_escaped(ctx: CommandContext) -> None:
    reply = execute(ctx, "<!channel>")
    assert "<!channel>" not in reply.text
    assert "&lt;!channel&gt;" in reply.text


def test_tracker_error_names_value(ctx: CommandContext) -> None:
    reply = execute(ctx, "show <!here>x")
    assert reply.error
    assert "&lt;!here&gt;x" in reply.text
    assert "<!here>" not in reply.text


def test_usage_error_adds_usage_line(ctx: CommandContext) -> None:
    reply = execute(ctx, "compare abcdef")
    assert "Usage: `/exp compare ID ID...`" in reply.text
    assert "`/exp help compare`" in reply.text


def test_invalid_input_adds_usage_line(ctx: CommandContext) -> None:
    reply = execute(ctx, "show zz")
    assert "too short" in reply.text
    assert "Usage: `/exp show ID`" in reply.text


def test_invalid_query_points_to_search_help(ctx: CommandContext) -> None:
    reply = execute(ctx, "search (unclosed")
    assert "/exp help search" in reply.text
    assert "Usage:" not in reply.text


def test_unexpected_error_apologizes_with_reference(
    ctx: CommandContext, failing_command: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        reply = execute(ctx, "boom now")
    match = REFERENCE.search(reply.text)
    assert match is not None
    assert "secret internal detail" not in reply.text
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None


def test_changing_command_reply_not_shareable(ctx: CommandContext) -> None:
    record = ctx.tracker.track("r", researcher="alice", capture=False)
    reply = execute(ctx, f"tag {record.id[:8]} +x")
    assert not reply.shareable


def test_messages_add_post_button_last() -> None:
    reply = Reply(text="t", blocks=[SectionBlock(text="a")])
    payloads = messages(reply, "search x")
    button = payloads[-1]["blocks"][-1]["elements"][0]
    assert button["action_id"] == ACTION_POST_TO_CHANNEL
    assert json.loads(button["value"]) == {"text": "search x"}


def test_messages_text_only_gets_section_for_button() -> None:
    payloads = messages(Reply(text="*hello*"), "help")
    assert payloads[0]["blocks"][0]["text"]["text"] == "*hello*"


@pytest.mark.parametrize(
    "reply",
    [
        Reply(text="no", error=True),
        Reply(text="no", shareable=False),
        Reply(text="no", response_type="in_channel"),
    ],
)
def test_messages_without_post_button(reply: Reply) -> None:
    assert "blocks" not in messages(reply, "search x")[0]


def test_messages_skip_button_for_huge_command() -> None:
    payloads = messages(Reply(text="t"), "search " + "x" * 3000)
    assert "blocks" not in payloads[0]


def test_messages_split_at_block_limit() -> None:
    blocks = [SectionBlock(text=str(i)) for i in range(MAX_MESSAGE_BLOCKS + 5)]
    payloads = messages(Reply(text="t", blocks=blocks))
    assert [len(p["blocks"]) for p in payloads] == [MAX_MESSAGE_BLOCKS, 5]


def test_messages_capped_at_response_limit() -> None:
    followups = [Reply(text=str(i)) for i in range(MAX_RESPONSES + 3)]
    payloads = messages(Reply(text="t", followups=followups))
    assert len(payloads) == MAX_RESPONSES


# -- the same failure through a real Bolt app --------------------------------


@pytest.fixture
def app_settings(fake_slack: FakeSlack, tmp_path) -> Settings:
    return Settings(
        bot_token=fake_slack.bot_token,
        signing_secret=fake_slack.signing_secret,
        api_url=fake_slack.api_url,
        home=tmp_path,
    )


@pytest.fixture
def app_tracker(app_settings: Settings) -> Iterator[Tracker]:
    tracker = Tracker(app_settings.tracker_database_url)
    yield tracker
    tracker.close()


def test_bolt_app_apology_has_no_traceback(
    fake_slack: FakeSlack,
    app_settings: Settings,
    app_tracker: Tracker,
    failing_command: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(app_settings, app_tracker)
    response_url = fake_slack.mint_response_url("C0MLTEAM", "U0ALICE")
    body = slash_command_body(text="boom", response_url=response_url)
    headers = signed_headers(fake_slack.signing_secret, body)
    with caplog.at_level(logging.INFO):
        response = app.dispatch(BoltRequest(body=body, headers=headers))
        fake_slack.wait_for_calls(RESPONSE_URL)
    text = fake_slack.responses(response_url)[0]["text"]
    reference = REFERENCE.search(text)
    assert response.status == 200
    assert reference is not None
    assert "Traceback" not in text
    assert "secret internal detail" not in text
    assert any(reference.group(1) in r.getMessage() for r in caplog.records)


def post_click(message_ts: str | None, value: str = "{}") -> dict:
    return block_action_payload(
        action_id=ACTION_POST_TO_CHANNEL, value=value, message_ts=message_ts
    )


def test_post_key_same_for_double_click() -> None:
    first, second = post_click("1700000000.000100"), post_click("1700000000.000100")
    assert first["actions"][0]["action_ts"] != second["actions"][0]["action_ts"]
    assert post_key(first) == post_key(second)


def test_post_key_differs_per_message_and_value() -> None:
    keys = {
        post_key(post_click("1700000000.000100")),
        post_key(post_click("1700000000.000200")),
        post_key(post_click("1700000000.000100", value='{"text": "help"}')),
    }
    assert len(keys) == 3


def test_post_key_none_without_message() -> None:
    payload = post_click(None)
    del payload["container"]
    assert post_key(payload) is None
