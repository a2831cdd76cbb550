"""pytest fixtures for the fake Slack, registered through `pytest_plugins`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from tests.fakeslack.server import FakeSlack
from tests.fakeslack.socket_mode import SocketModeFake


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    """A started fake Slack with the default workspace and rate limit."""
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def fake_slack_client(fake_slack: FakeSlack) -> WebClient:
    """A real WebClient with the bot token, pointed at `fake_slack`."""
    return WebClient(
        token=fake_slack.bot_token, base_url=fake_slack.api_url, timeout=10
    )


@pytest.fixture
def fake_socket_mode(fake_slack: FakeSlack) -> Iterator[SocketModeFake]:
    """A Socket Mode server whose URL `fake_slack`'s apps.connections.open returns."""
    with SocketModeFake(fake_slack) as socket_mode:
        yield socket_mode


@pytest.fixture
def fake_slack_env(fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    """Set the SLACK_* variables for HTTP mode against `fake_slack`.

    SLACK_APP_TOKEN is removed, so code that picks Socket Mode when it is
    set picks HTTP mode; set it to `fake_slack.app_token` for Socket Mode.
    """
    monkeypatch.setenv("SLACK_BOT_TOKEN", fake_slack.bot_token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", fake_slack.signing_secret)
    monkeypatch.setenv("SLACK_API_URL", fake_slack.api_url)
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    return fake_slack
