"""The Slack app manifest: schema, slash command, scopes and events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.fakeslack.api import DEFAULT_BOT_SCOPES, METHOD_SCOPES

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "manifest.yml"
SCHEMA_NAME = "slack-app-manifest.schema.json"
# The shared schema sits beside the repository, in development and in CI.
SHARED_SCHEMA = REPO.parent / "shared" / "schemas" / SCHEMA_NAME
# A copy kept in the repository, so the test also runs without shared/.
SCHEMA_COPY = REPO / "tests" / "data" / SCHEMA_NAME
EVENTS_URL = "https://expbot.example.com/slack/events"

# Web API methods the bot calls that need a scope. chat.getPermalink and
# views.open/publish/update need none.
SCOPED_BOT_METHODS = [
    "chat.postMessage",  # cards, thread replies, reports
    "chat.update",  # refresh a card when its experiment changes
    "chat.postEphemeral",  # replies only the caller sees
    "conversations.open",  # DM collaborators when a run is shared
    "conversations.info",  # a channel's name and membership
    "users.info",  # map a Slack user to a researcher by email
    "users.lookupByEmail",  # map a researcher to a Slack user
    "files.getUploadURLExternal",  # report charts
    "files.completeUploadExternal",
]


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def bot_scopes(manifest: dict[str, Any]) -> set[str]:
    return set(manifest["oauth_config"]["scopes"]["bot"])


def test_manifest_matches_schema(manifest: dict[str, Any]) -> None:
    schema_path = SHARED_SCHEMA if SHARED_SCHEMA.is_file() else SCHEMA_COPY
    schema = json.loads(schema_path.read_text(encoding="utf-8"))

    validator = jsonschema.Draft7Validator(schema)
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)
    ]

    assert errors == []


def test_schema_copy_is_current() -> None:
    if not SHARED_SCHEMA.is_file():
        pytest.skip(f"no shared schema at {SHARED_SCHEMA} to compare the copy with")

    assert SCHEMA_COPY.read_bytes() == SHARED_SCHEMA.read_bytes()


def test_slash_command_is_exp(manifest: dict[str, Any]) -> None:
    [command] = manifest["features"]["slash_commands"]

    assert command["command"] == "/exp"
    assert command["url"] == EVENTS_URL
    assert command["description"]
    assert "search" in command["usage_hint"]
    # Escaping turns @user into <@U123|name>, which `share` parses.
    assert command["should_escape"] is True


def test_commands_scope_requested(manifest: dict[str, Any]) -> None:
    assert "commands" in bot_scopes(manifest)


@pytest.mark.parametrize("method", SCOPED_BOT_METHODS)
def test_bot_method_has_scope(manifest: dict[str, Any], method: str) -> None:
    needed = METHOD_SCOPES[method]

    assert bot_scopes(manifest).intersection(needed), f"{method} needs one of {needed}"


def test_email_lookup_scopes(manifest: dict[str, Any]) -> None:
    # users.info returns profile.email only with users:read.email.
    assert {"users:read", "users:read.email"} <= bot_scopes(manifest)


def test_fake_grants_manifest_scopes(manifest: dict[str, Any]) -> None:
    # The fake Slack grants the manifest's scopes, so a bot test that calls
    # a method the manifest does not allow fails with missing_scope.
    assert bot_scopes(manifest) == set(DEFAULT_BOT_SCOPES)


def test_app_home_event_and_tab(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]

    assert "app_home_opened" in events
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_interactivity_enabled(manifest: dict[str, Any]) -> None:
    interactivity = manifest["settings"]["interactivity"]

    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"] == EVENTS_URL


def test_events_use_bolt_path(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["event_subscriptions"]["request_url"] == EVENTS_URL


def test_socket_mode_enabled(manifest: dict[str, Any]) -> None:
    assert manifest["settings"]["socket_mode_enabled"] is True


def test_bot_user_named_expbot(manifest: dict[str, Any]) -> None:
    assert manifest["display_information"]["name"] == "expbot"
    assert manifest["features"]["bot_user"]["display_name"] == "expbot"
