"""What a fake Web API method receives, the errors it raises, and scopes.

Each method is a function from `ApiRequest` to the reply's fields (without
`"ok": true`); it raises `SlackError` for an `{"ok": false}` reply.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakeslack.workspace import BOT_USER_ID, Channel, Message, Workspace

# Bot scopes that the fake grants by default. The app manifest requests
# exactly these, which tests/test_manifest.py checks.
DEFAULT_BOT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "chat:write.public",
        "files:write",
        "im:write",
        "users:read",
        "users:read.email",
        "channels:read",
        "groups:read",
        "channels:history",
        "groups:history",
        "im:history",
    }
)

# The bot scopes a method accepts (any one of them), from each method's
# reference page on docs.slack.dev. Methods not listed need no scope.
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "chat.postMessage": ("chat:write",),
    "chat.postEphemeral": ("chat:write",),
    "chat.update": ("chat:write",),
    "conversations.open": ("im:write", "mpim:write", "channels:manage", "groups:write"),
    "conversations.info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.members": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations.history": (
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
    ),
    "conversations.replies": (
        "channels:history",
        "groups:history",
        "im:history",
        "mpim:history",
    ),
    "users.info": ("users:read",),
    "users.lookupByEmail": ("users:read.email",),
    "files.getUploadURLExternal": ("files:write",),
    "files.completeUploadExternal": ("files:write",),
}


class SlackError(Exception):
    """An `{"ok": false, "error": ...}` reply, with any extra fields."""

    def __init__(self, error: str, **fields: Any) -> None:
        super().__init__(error)
        self.error = error
        self.fields = fields


@dataclass
class ApiRequest:
    """One Web API call, as passed to a method function."""

    method: str
    params: dict[str, Any]
    workspace: Workspace
    scopes: frozenset[str]
    base_url: str

    def get(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value in (None, "") else value

    def require(self, name: str, error: str = "invalid_arguments") -> Any:
        value = self.get(name)
        if value is None:
            raise SlackError(error, response_metadata=_messages(f"missing {name}"))
        return value

    def json_value(self, name: str) -> Any:
        """Return a parameter that form bodies carry as a JSON string."""
        value = self.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise SlackError(
                "invalid_arguments",
                response_metadata=_messages(f"{name} is not valid JSON: {exc}"),
            ) from exc

    def flag(self, name: str) -> bool:
        return str(self.get(name, "")).lower() in ("1", "true")

    def require_scope(self, scope: str) -> None:
        if scope not in self.scopes:
            raise SlackError(
                "missing_scope", needed=scope, provided=",".join(sorted(self.scopes))
            )

    def channel(self, name: str = "channel") -> Channel:
        """Return the channel named by a parameter or raise channel_not_found.

        A private channel the bot is not in is invisible, as in Slack.
        """
        key = self.require(name, error="channel_not_found")
        channel = self.workspace.find_channel(str(key))
        if channel is None or (
            channel.is_private and BOT_USER_ID not in channel.members
        ):
            raise SlackError("channel_not_found")
        return channel

    def require_read_scope(self, channel: Channel) -> None:
        if channel.is_im:
            self.require_scope("im:read")
        elif channel.is_private:
            self.require_scope("groups:read")
        else:
            self.require_scope("channels:read")

    def check_can_post(self, channel: Channel) -> None:
        """Raise unless the bot may post to the channel.

        The bot posts to channels it is a member of and to DMs. With the
        chat:write.public scope it also posts to public channels it is not
        in. File uploads never use that scope: see `check_member`.
        """
        if channel.is_archived:
            raise SlackError("is_archived")
        if channel.is_im or BOT_USER_ID in channel.members:
            return
        if not channel.is_private and "chat:write.public" in self.scopes:
            return
        raise SlackError("not_in_channel")

    def check_member(self, channel: Channel) -> None:
        if channel.is_archived:
            raise SlackError("is_archived")
        if not channel.is_im and BOT_USER_ID not in channel.members:
            raise SlackError("not_in_channel")

    def thread_root(self, channel: Channel, thread_ts: str | None) -> str | None:
        """Return the ts of the thread's parent for a reply's `thread_ts`.

        NOTE: Slack has been observed to return ok for an unknown thread_ts
        and to show the reply nowhere. The fake rejects it with
        thread_not_found so that a test catches the bug.
        """
        if thread_ts is None:
            return None
        parent = self.workspace.find_message(channel.id, str(thread_ts))
        if parent is None:
            raise SlackError("thread_not_found")
        return parent.thread_ts or parent.ts

    def message(self, channel: Channel, ts: Any) -> Message:
        found = self.workspace.find_message(channel.id, str(ts)) if ts else None
        if found is None:
            raise SlackError("message_not_found")
        return found


MethodFunction = Callable[[ApiRequest], dict[str, Any]]


def _messages(*texts: str) -> dict[str, list[str]]:
    return {"messages": [f"[ERROR] {text}" for text in texts]}


def invalid_blocks(errors: list[str]) -> SlackError:
    return SlackError(
        "invalid_blocks", errors=errors, response_metadata=_messages(*errors)
    )


def invalid_arguments(errors: list[str]) -> SlackError:
    return SlackError("invalid_arguments", response_metadata=_messages(*errors))
