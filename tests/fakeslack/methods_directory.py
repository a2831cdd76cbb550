"""The fake's auth.test, users.* and conversations.* methods."""

from __future__ import annotations

from typing import Any

from tests.fakeslack.api import ApiRequest, MethodFunction, SlackError
from tests.fakeslack.workspace import (
    BOT_ID,
    BOT_NAME,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    TEAM_NAME,
)


def auth_test(request: ApiRequest) -> dict[str, Any]:
    return {
        "url": f"https://{TEAM_DOMAIN}.slack.com/",
        "team": TEAM_NAME,
        "user": BOT_NAME,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def users_info(request: ApiRequest) -> dict[str, Any]:
    user = request.workspace.users.get(str(request.require("user", "user_not_found")))
    if user is None:
        raise SlackError("user_not_found")
    with_email = "users:read.email" in request.scopes
    return {"user": user.to_dict(with_email=with_email)}


def users_lookup_by_email(request: ApiRequest) -> dict[str, Any]:
    email = str(request.require("email", "users_not_found"))
    user = request.workspace.find_user_by_email(email)
    if user is None:
        raise SlackError("users_not_found")
    return {"user": user.to_dict(with_email=True)}


def conversations_open(request: ApiRequest) -> dict[str, Any]:
    """Open the bot's DM with one user. Group DMs are not modelled."""
    request.require_scope("im:write")
    users = str(request.require("users", "users_list_not_supplied")).split(",")
    if len(users) != 1:
        raise SlackError("not_supported", detail="the fake opens DMs with one user")
    if users[0] not in request.workspace.users:
        raise SlackError("user_not_found")

    before = len(request.workspace.channels)
    channel = request.workspace.open_im(users[0])
    already_open = len(request.workspace.channels) == before

    reply: dict[str, Any] = {"channel": {"id": channel.id}}
    if already_open:
        reply["no_op"] = True
        reply["already_open"] = True
    if request.flag("return_im"):
        reply["channel"] = channel.to_dict(bot_user_id=BOT_USER_ID)
    return reply


def conversations_info(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    request.require_read_scope(channel)
    return {"channel": channel.to_dict(bot_user_id=BOT_USER_ID)}


def conversations_members(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    request.require_read_scope(channel)
    return {
        "members": sorted(channel.members),
        "response_metadata": {"next_cursor": ""},
    }


METHODS: dict[str, MethodFunction] = {
    "auth.test": auth_test,
    "users.info": users_info,
    "users.lookupByEmail": users_lookup_by_email,
    "conversations.open": conversations_open,
    "conversations.info": conversations_info,
    "conversations.members": conversations_members,
}
