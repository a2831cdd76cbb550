"""End to end: hostile and awkward requests to the real `expbot serve --http`.

Impersonation through `/exp link`, mentions of groups and of users Slack
does not know, arguments split by newlines or quoted with spaces, unsigned
or malformed requests, and a double click on "Post to channel". One server
subprocess serves the module against the fake Slack.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.router import ACTION_POST_TO_CHANNEL
from tests.bot_server import (
    BotProcess,
    SlackSender,
    reply_text,
    serve_http,
)
from tests.fakeslack import RESPONSE_URL, FakeSlack, User
from tests.fakeslack.payloads import slash_command_body
from tests.fakeslack.signing import signed_headers
from tracker import Tracker, people
from tracker.records import ExperimentRecord

ADMIN = "U0CAROL"
MALLORY = "U0MAL"
ERIN = "U0ERIN"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(rate_limit=None) as fake:
        fake.add_user(User(MALLORY, "mallory", "Mallory M", "mallory@example.com"))
        fake.add_user(User(ERIN, "erin", "Erin E", "erin@example.com"))
        yield fake


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("expbot-hostile")


@pytest.fixture(scope="module")
def sender(slack: FakeSlack, home: Path) -> Iterator[SlackSender]:
    with serve_http(slack, home, EXPBOT_ADMINS=ADMIN) as sender:
        yield sender


@pytest.fixture(scope="module")
def server(sender: SlackSender) -> BotProcess:
    assert sender.process is not None
    return sender.process


@pytest.fixture(scope="module")
def store(home: Path, sender: SlackSender) -> Iterator[Tracker]:
    tracker = Tracker(f"sqlite:///{home / 'expbot.db'}")
    people.link_slack_user(tracker, "alice", "U0ALICE", email="alice@example.com")
    yield tracker
    tracker.close()


@pytest.fixture(scope="module")
def secrets(store: Tracker) -> dict[str, ExperimentRecord]:
    """Private experiments of researchers who use only the CLI."""
    dora = store.track(
        "dora-unreleased",
        researcher="dora",
        visibility="private",
        description="unreleased model",
        capture=False,
    )
    erin = store.track(
        "erin-unreleased", researcher="erin", visibility="private", capture=False
    )
    return {"dora": dora, "erin": erin}


@pytest.fixture
def mine(store: Tracker) -> ExperimentRecord:
    return store.track("alice-shared-run", researcher="alice", capture=False)


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


# -- identity ----------------------------------------------------------------


def test_link_cli_handle_is_refused(
    sender: SlackSender, store: Tracker, secrets
) -> None:
    text = sender.run("link dora", user_id=MALLORY)
    person = people.by_slack_id(store, MALLORY)
    assert "only an expbot admin can link it" in text
    assert "/exp link dora @mallory" in text
    assert person is not None
    assert person.handle != "dora"


def test_refused_link_hides_private_run(sender: SlackSender, secrets) -> None:
    sender.run("link dora", user_id=MALLORY)
    text = sender.run(f"show {secrets['dora'].short_id}", user_id=MALLORY)
    assert "No experiment" in text
    assert "unreleased model" not in text


def test_admin_links_cli_handle_for_user(
    sender: SlackSender, store: Tracker, secrets
) -> None:
    sender.run("help", user_id="U0BOB")
    text = sender.run("link dora <@U0BOB|bob>", user_id=ADMIN)
    person = people.by_slack_id(store, "U0BOB")
    assert "<@U0BOB> is now `dora`" in text
    assert person is not None
    assert person.handle == "dora"
    sender.run("link bob <@U0BOB|bob>", user_id=ADMIN)


def test_first_command_explains_claimed_handle(
    sender: SlackSender, store: Tracker, secrets
) -> None:
    exchange = sender.command(f"show {secrets['erin'].short_id}", user_id=ERIN)
    notice, reply = (reply_text(r) for r in sender.replies(exchange, count=2))
    person = people.by_slack_id(store, ERIN)
    assert person is not None
    assert person.handle == "erin2"
    assert "/exp link erin @erin2" in notice
    assert "No experiment" in reply


# -- mentions ----------------------------------------------------------------


@pytest.mark.parametrize(
    "mention",
    [
        "<!subteam^S0ML|@ml-team>",
        "<!here>",
        "<!channel>",
        "<!everyone>",
        "<#C0GENERAL|general>",
    ],
)
def test_share_with_group_is_refused(
    sender: SlackSender, store: Tracker, mine: ExperimentRecord, mention: str
) -> None:
    text = sender.run(f"share {mine.short_id} <@U0BOB|bob> {mention}")
    assert "share with people, not groups" in text
    assert store.get(mine.id).collaborators == ()


def test_share_with_unknown_user_is_refused(
    sender: SlackSender, store: Tracker, mine: ExperimentRecord
) -> None:
    text = sender.run(f"share {mine.short_id} <@U0NOSUCH|ghost>")
    assert "Slack has no user `U0NOSUCH`" in text
    assert store.get(mine.id).collaborators == ()
    assert people.by_slack_id(store, "U0NOSUCH") is None


# -- argument parsing --------------------------------------------------------


def test_note_after_newline_is_stored(
    sender: SlackSender, store: Tracker, mine: ExperimentRecord
) -> None:
    text = sender.run(f"note {mine.short_id}\nfirst line\nsecond line")
    notes = [note.text for note in store.get(mine.id).notes]
    assert "Added a note" in text
    assert notes == ["first line\nsecond line"]


@pytest.mark.parametrize("quoted", ['"ml research"', "\u201cml research\u201d"])
def test_summary_team_with_space(
    sender: SlackSender, store: Tracker, quoted: str
) -> None:
    store.track(
        "ml-research-run", researcher="alice", team="ml research", capture=False
    )
    text = sender.run(f"summary team:{quoted}")
    assert "Summary of team ml research" in text


def test_schedule_team_with_space(sender: SlackSender, store: Tracker) -> None:
    text = sender.run('schedule monthly team:"ml research"', channel_id="C0RANDOM")
    assert ":warning:" not in text
    assert "ml research" in text


# -- the HTTP endpoint -------------------------------------------------------


@pytest.mark.parametrize(
    "body", [b"payload=%7Bnot json", b"\xff\xfe", b"", b"command=%2Fexp&text=help"]
)
def test_unsigned_request_is_401(sender: SlackSender, body: bytes) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert post_raw(sender.events_url, body, headers) == 401


def test_non_numeric_timestamp_is_401(sender: SlackSender, slack: FakeSlack) -> None:
    body = slash_command_body(text="help", response_url="http://127.0.0.1:9/x")
    headers = signed_headers(slack.signing_secret, body)
    headers["X-Slack-Request-Timestamp"] = "abc"
    assert post_raw(sender.events_url, body.encode(), headers) == 401


@pytest.mark.parametrize(
    "body", [b"payload=%7Bnot json", b"\xff\xfe\x00", b"payload=" + b"%5B" * 5000]
)
def test_signed_malformed_body_is_400(
    sender: SlackSender, slack: FakeSlack, body: bytes
) -> None:
    headers = signed_headers(slack.signing_secret, body)
    assert post_raw(sender.events_url, body, headers) == 400


def test_rejections_log_no_traceback(sender: SlackSender, server: BotProcess) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    post_raw(sender.events_url, b"payload=%7Bsecret-marker", headers)
    line = server.wait_for_log(r"WARNING .*rejected request")
    log = server.log_text()
    assert "secret-marker" not in log
    assert "Traceback" not in log
    assert " ERROR " not in log
    assert "payload" not in line


def test_healthz_stays_open(sender: SlackSender) -> None:
    url = sender.url("/healthz")
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200


# -- post to channel ---------------------------------------------------------


def in_channel_posts(slack: FakeSlack) -> list[dict[str, Any]]:
    posts = [c.params for c in slack.calls(RESPONSE_URL)]
    return [p for p in posts if p.get("response_type") == "in_channel"]


def test_double_click_posts_once(
    sender: SlackSender, slack: FakeSlack, server: BotProcess
) -> None:
    value = json.dumps({"text": "help share"})
    before = len(in_channel_posts(slack))
    message_ts = f"{time.time():.6f}"
    first = sender.click(ACTION_POST_TO_CHANNEL, value, message_ts=message_ts)
    second = sender.click(ACTION_POST_TO_CHANNEL, value, message_ts=message_ts)
    key = f"post:U0ALICE:C0MLTEAM:{message_ts}"
    server.wait_for_log("dropped repeated post to channel " + re.escape(key))
    slack.log.wait_until(lambda calls: len(in_channel_posts(slack)) > before)
    assert (first.ack.status, second.ack.status) == (200, 200)
    assert len(in_channel_posts(slack)) - before == 1


def test_failed_post_may_be_clicked_again(
    sender: SlackSender, server: BotProcess
) -> None:
    # The response_url is gone and the bot is not in the private channel,
    # so the post fails and the user must be able to try again.
    expired = f"{sender.fake.base_url}response/expired-or-unknown"
    value = json.dumps({"text": "help note"})
    message_ts = f"{time.time():.6f}"
    options = {"channel_id": "G0SECRET", "response_url": expired}
    failed = r"/exp help to G0SECRET by U0ALICE: not posted"
    for attempt in (1, 2):
        sender.click(ACTION_POST_TO_CHANNEL, value, message_ts=message_ts, **options)
        server.wait_for_log(failed, count=attempt)
    dropped = "dropped repeated post to channel post:U0ALICE:G0SECRET"
    assert dropped not in server.log_text()
