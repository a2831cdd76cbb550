"""Payloads that Slack sends to the app, in both delivery forms.

Each `*_payload` function returns the dict that Socket Mode carries in an
envelope's `payload`. Each `*_body` function returns the raw HTTP body of
the same request: form fields for slash commands, a form field `payload`
holding JSON for interactions, and JSON for Events API callbacks.
Defaults match the fake workspace (alice in #ml-team).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from tests.fakeslack.workspace import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

# Slack still sends the deprecated verification token, which Bolt ignores.
VERIFICATION_TOKEN = "fake-verification-token"


def _trigger_id() -> str:
    return f"{int(time.time())}.{TEAM_ID[1:]}.{uuid.uuid4().hex}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _user(user_id: str, user_name: str) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": TEAM_ID}


def slash_command_payload(
    *,
    text: str = "",
    response_url: str,
    command: str = "/exp",
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str = "C0MLTEAM",
    channel_name: str = "ml-team",
    trigger_id: str | None = None,
) -> dict[str, str]:
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }


def slash_command_body(**fields: Any) -> str:
    """Return the form-encoded body. Takes the fields of `slash_command_payload`."""
    return urlencode(slash_command_payload(**fields))


def block_action_payload(
    *,
    action_id: str,
    value: str | None = None,
    block_id: str = "actions",
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    channel_id: str | None = "C0MLTEAM",
    channel_name: str = "ml-team",
    message_ts: str | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    view: dict[str, Any] | None = None,
    action_type: str = "button",
) -> dict[str, Any]:
    """Build a `block_actions` payload for a click on a message or a view.

    A click in a view (modal or App Home) passes `view` and no channel.
    """
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": _action_ts(),
    }
    if value is not None:
        action["value"] = value
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": action_id, "emoji": True}

    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id")}
        payload["view"] = view
    else:
        ts = message_ts or _action_ts()
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": channel_name}
        payload["message"] = {"type": "message", "ts": ts, "user": BOT_USER_ID}
    if response_url is not None:
        payload["response_url"] = response_url
    return payload


def block_action_body(**fields: Any) -> str:
    """Return the form body `payload=<json>`. Takes `block_action_payload` fields."""
    return urlencode({"payload": json.dumps(block_action_payload(**fields))})


def view_submission_payload(
    *,
    callback_id: str,
    values: dict[str, dict[str, dict[str, Any]]],
    user_id: str = "U0ALICE",
    user_name: str = "alice",
    private_metadata: str = "",
    view_id: str = "V0MODAL",
    trigger_id: str | None = None,
) -> dict[str, Any]:
    """Build a `view_submission` payload.

    `values` is `view.state.values`: block_id -> action_id -> element state,
    for example `{"note": {"text": {"type": "plain_text_input", "value": "hi"}}}`.
    """
    return {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user_id, user_name),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "title": {"type": "plain_text", "text": "expbot"},
            "blocks": [],
            "state": {"values": values},
            "hash": f"{time.time():.6f}.fake",
            "app_id": APP_ID,
            "bot_id": "B0EXPBOT",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission_body(**fields: Any) -> str:
    return urlencode({"payload": json.dumps(view_submission_payload(**fields))})


def app_home_opened_event(
    user_id: str = "U0ALICE", *, channel: str = "D0ALICE", tab: str = "home"
) -> dict[str, Any]:
    """Build the event sent when a user opens the app's Home or Messages tab."""
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": channel,
        "tab": tab,
        "event_ts": _action_ts(),
    }


def event_callback_payload(
    event: dict[str, Any], *, event_id: str | None = None
) -> dict[str, Any]:
    """Wrap an event (see `app_home_opened_event`) in an Events API callback."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def event_callback_body(event: dict[str, Any], *, event_id: str | None = None) -> str:
    return json.dumps(event_callback_payload(event, event_id=event_id))


def url_verification_body(challenge: str) -> str:
    """Return the body Slack sends once when a Request URL is saved."""
    return json.dumps(
        {
            "token": VERIFICATION_TOKEN,
            "challenge": challenge,
            "type": "url_verification",
        }
    )
