"""End to end: the real `expbot serve --socket` over the fake's websocket.

The bot fetches its websocket URL with apps.connections.open (app token)
and receives slash commands and clicks as envelopes. It acks each one and
replies on the response_url, as in Slack's Socket Mode.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.router import ACTION_POST_TO_CHANNEL
from tests.bot_server import BotProcess, bot_environment, record_ack, reply_text
from tests.fakeslack import RESPONSE_URL, FakeSlack, SocketModeFake
from tests.fakeslack.payloads import block_action_payload, slash_command_payload
from tracker import Tracker


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(rate_limit=None) as fake:
        yield fake


@pytest.fixture(scope="module")
def socket_mode(slack: FakeSlack) -> Iterator[SocketModeFake]:
    with SocketModeFake(slack) as fake:
        yield fake


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("expbot-socket")


@pytest.fixture(scope="module")
def server(
    slack: FakeSlack, socket_mode: SocketModeFake, home: Path
) -> Iterator[BotProcess]:
    env = bot_environment(slack, home, SLACK_APP_TOKEN=slack.app_token)
    # No signing secret: Socket Mode does not need one.
    del env["SLACK_SIGNING_SECRET"]
    process = BotProcess(["serve"], env).start(ready="connected in Socket Mode")
    socket_mode.wait_for_connection(timeout=10)
    yield process
    assert process.stop() == 0, process.log_text()[-3000:]


@pytest.fixture(scope="module")
def experiment_id(home: Path, server: BotProcess) -> Iterator[str]:
    tracker = Tracker(f"sqlite:///{home / 'expbot.db'}")
    record = tracker.track("socket-run", tags=["socket"], researcher="alice")
    tracker.complete(record.id, {"accuracy": 0.8})
    yield record.id
    tracker.close()


def deliver(
    socket_mode: SocketModeFake, kind: str, payload: dict[str, Any], what: str
) -> str:
    """Send one envelope, wait for its ack and record how long that took."""
    started = time.perf_counter()
    envelope_id = socket_mode.send_envelope(kind, payload)
    socket_mode.wait_for_ack(envelope_id)
    record_ack(time.perf_counter() - started, f"socket {what}")
    return envelope_id


def command(
    slack: FakeSlack, socket_mode: SocketModeFake, text: str, **fields: Any
) -> list[dict[str, Any]]:
    response_url = slack.mint_response_url("C0MLTEAM", "U0ALICE")
    payload = slash_command_payload(text=text, response_url=response_url, **fields)
    deliver(socket_mode, "slash_commands", payload, f"/exp {text}")
    return wait_for_replies(slack, response_url)


def wait_for_replies(
    slack: FakeSlack, response_url: str, count: int = 1
) -> list[dict[str, Any]]:
    path = "/response/" + response_url.rsplit("/", 1)[-1]
    slack.log.wait_until(
        lambda calls: (
            sum(c.method == RESPONSE_URL and c.path == path for c in calls) >= count
        ),
        timeout=10,
    )
    return slack.responses(response_url)


@pytest.mark.usefixtures("server")
def test_socket_help_answers(slack: FakeSlack, socket_mode: SocketModeFake) -> None:
    text = reply_text(command(slack, socket_mode, "help")[0])
    assert "/exp search" in text


def test_socket_show_renders_card(
    slack: FakeSlack, socket_mode: SocketModeFake, experiment_id: str
) -> None:
    text = reply_text(command(slack, socket_mode, f"show {experiment_id[:8]}")[0])
    assert "socket-run" in text


@pytest.mark.usefixtures("server")
def test_socket_bad_input_points_to_help(
    slack: FakeSlack, socket_mode: SocketModeFake
) -> None:
    text = reply_text(command(slack, socket_mode, "search (unclosed")[0])
    assert "Invalid query" in text


def test_socket_redelivery_acts_once(
    slack: FakeSlack, socket_mode: SocketModeFake, experiment_id: str, home: Path
) -> None:
    response_url = slack.mint_response_url("C0MLTEAM", "U0ALICE")
    payload = slash_command_payload(
        text=f"note {experiment_id[:8]} socket note once",
        response_url=response_url,
        trigger_id="1700000000.0EXPBOT.socket-redelivery",
    )
    deliver(socket_mode, "slash_commands", payload, "note")
    deliver(socket_mode, "slash_commands", payload, "note again")
    wait_for_replies(slack, response_url)
    tracker = Tracker(f"sqlite:///{home / 'expbot.db'}")
    notes = [n.text for n in tracker.get(experiment_id).notes]
    tracker.close()
    assert notes.count("socket note once") == 1
    assert len(slack.responses(response_url)) == 1


def test_socket_post_to_channel(
    slack: FakeSlack, socket_mode: SocketModeFake, experiment_id: str
) -> None:
    response_url = slack.mint_response_url("C0MLTEAM", "U0ALICE")
    payload = block_action_payload(
        action_id=ACTION_POST_TO_CHANNEL,
        value=json.dumps({"text": "search tag:socket"}),
        response_url=response_url,
    )
    deliver(socket_mode, "interactive", payload, "post to channel")
    posted = wait_for_replies(slack, response_url, count=2)
    assert posted[0]["response_type"] == "in_channel"
    assert experiment_id[:8] in reply_text(posted[0])
