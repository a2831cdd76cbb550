"""Settings.from_env: parsing, defaults, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import DEFAULT_PORT, Settings, SettingsError

BOT = "xoxb-1-abc"
APP = "xapp-1-abc"


def test_settings_defaults_without_environment() -> None:
    settings = Settings.from_env({"EXPBOT_HOME": "/tmp/expbot-home"})
    assert settings.bot_token is None
    assert settings.port == DEFAULT_PORT
    assert settings.admins == frozenset()
    assert settings.tracker_database_url == "sqlite:////tmp/expbot-home/expbot.db"


def test_settings_read_every_variable() -> None:
    settings = Settings.from_env(
        {
            "SLACK_BOT_TOKEN": BOT,
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_APP_TOKEN": APP,
            "SLACK_API_URL": "http://127.0.0.1:9000/api",
            "EXPBOT_ADMINS": "U123ABC, W456DEF",
            "EXPBOT_DATABASE_URL": "postgresql+psycopg://db/expbot",
            "EXPBOT_HOME": "/srv/expbot",
            "EXPBOT_HOST": "127.0.0.1",
            "EXPBOT_PORT": "8080",
        }
    )
    assert settings.api_url == "http://127.0.0.1:9000/api/"
    assert settings.admins == {"U123ABC", "W456DEF"}
    assert settings.tracker_database_url == "postgresql+psycopg://db/expbot"
    assert settings.home == Path("/srv/expbot")
    assert (settings.host, settings.port) == ("127.0.0.1", 8080)
    assert settings.socket_mode_available


def test_settings_repr_hides_secrets() -> None:
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": "hush", "SLACK_APP_TOKEN": APP}
    )
    shown = repr(settings)
    for secret in (BOT, "hush", APP):
        assert secret not in shown


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("EXPBOT_ADMINS", "alice", "EXPBOT_ADMINS entry 'alice'"),
        ("EXPBOT_PORT", "http", "EXPBOT_PORT 'http'"),
        ("EXPBOT_PORT", "70000", "EXPBOT_PORT '70000'"),
        ("SLACK_API_URL", "slack.com/api", "SLACK_API_URL 'slack.com/api'"),
    ],
)
def test_settings_malformed_value_is_named(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({variable: value})


@pytest.mark.parametrize(
    ("environ", "socket_mode", "message"),
    [
        ({}, False, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, False, "must start with xoxb-"),
        ({"SLACK_BOT_TOKEN": BOT}, False, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_BOT_TOKEN": BOT}, True, "SLACK_APP_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": BOT, "SLACK_APP_TOKEN": BOT}, True, "start with xapp-"),
    ],
)
def test_require_slack_names_missing_token(
    environ: dict[str, str], socket_mode: bool, message: str
) -> None:
    settings = Settings.from_env(environ)
    with pytest.raises(SettingsError, match=message):
        settings.require_slack(socket_mode=socket_mode)


def test_require_slack_error_hides_token() -> None:
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxp-12345-secret-part"})
    with pytest.raises(SettingsError) as caught:
        settings.require_slack(socket_mode=False)
    assert "secret-part" not in str(caught.value)
    assert "xoxp-" in str(caught.value)


@pytest.mark.parametrize("socket_mode", [False, True])
def test_require_slack_accepts_complete_settings(socket_mode: bool) -> None:
    settings = Settings.from_env(
        {"SLACK_BOT_TOKEN": BOT, "SLACK_SIGNING_SECRET": "s", "SLACK_APP_TOKEN": APP}
    )
    settings.require_slack(socket_mode=socket_mode)


def test_is_admin_checks_slack_id() -> None:
    settings = Settings.from_env({"EXPBOT_ADMINS": "U0CAROL"})
    assert settings.is_admin("U0CAROL")
    assert not settings.is_admin("U0ALICE")
