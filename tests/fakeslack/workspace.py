"""The fake workspace: users, channels, messages, files and views.

The data classes mirror the parts of Slack's objects that the Web API
methods return. `Workspace` is not thread-safe by itself: the HTTP server
holds one lock around every method call.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TEAM_ID = "T0EXPBOT"
TEAM_NAME = "expbot-test"
TEAM_DOMAIN = "expbot-test"
APP_ID = "A0EXPBOT"
BOT_ID = "B0EXPBOT"
BOT_USER_ID = "U0EXPBOT"
BOT_NAME = "expbot"

BOT_TOKEN = "xoxb-0000000000-fake-bot-token"
APP_TOKEN = "xapp-1-A0EXPBOT-fake-app-token"
SIGNING_SECRET = "fake-signing-secret-0123456789abcdef"

# Slack accepts a trigger_id in views.open for 3 seconds after the click.
TRIGGER_TTL = 3.0


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    email: str | None = None
    is_bot: bool = False
    is_admin: bool = False
    deleted: bool = False
    tz: str = "UTC"

    def to_dict(self, *, with_email: bool) -> dict[str, Any]:
        profile: dict[str, Any] = {
            "real_name": self.real_name or self.name,
            "display_name": self.name,
        }
        if with_email and self.email is not None:
            profile["email"] = self.email
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "real_name": self.real_name or self.name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_admin": self.is_admin,
            "tz": self.tz,
            "profile": profile,
        }


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    im_user: str | None = None
    is_archived: bool = False
    members: set[str] = field(default_factory=set)

    def to_dict(self, *, bot_user_id: str) -> dict[str, Any]:
        if self.is_im:
            return {
                "id": self.id,
                "is_im": True,
                "user": self.im_user,
                "is_open": True,
            }
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_member": bot_user_id in self.members,
            "num_members": len(self.members),
        }


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    files: list[str] = field(default_factory=list)
    edits: int = 0
    metadata: dict[str, Any] | None = None
    # When history starts to show the message, on the workspace's clock;
    # 0 is at once. A late success (see `Fault.late_success`) sets it.
    visible_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.user,
            "text": self.text,
            "ts": self.ts,
        }
        if self.user == BOT_USER_ID:
            message["bot_id"] = BOT_ID
            message["app_id"] = APP_ID
        if self.blocks is not None:
            message["blocks"] = self.blocks
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        if self.metadata is not None:
            message["metadata"] = self.metadata
        return message


@dataclass
class Ephemeral:
    channel: str
    user: str
    message_ts: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    thread_ts: str | None = None


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    alt_txt: str | None = None
    title: str | None = None
    content: bytes | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.filename,
            "title": self.title or self.filename,
            "size": len(self.content or b""),
            "channels": list(self.channels),
        }


@dataclass
class View:
    id: str
    view: dict[str, Any]
    user_id: str | None = None
    hash: str = ""
    external_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        result = dict(self.view)
        result.update(
            {
                "id": self.id,
                "team_id": TEAM_ID,
                "app_id": APP_ID,
                "bot_id": BOT_ID,
                "hash": self.hash,
                "state": {"values": {}},
            }
        )
        if self.external_id is not None:
            result["external_id"] = self.external_id
        return result


def default_users() -> list[User]:
    return [
        User("U0ALICE", "alice", "Alice Archer", "alice@example.com"),
        User("U0BOB", "bob", "Bob Baker", "bob@example.com"),
        User("U0CAROL", "carol", "Carol Chen", "carol@example.com", is_admin=True),
        User(BOT_USER_ID, BOT_NAME, "expbot", None, is_bot=True),
    ]


def default_channels(user_ids: list[str]) -> list[Channel]:
    """Build channels the bot is in (general, ml-team) and two it is not in."""
    everyone = set(user_ids)
    return [
        Channel("C0GENERAL", "general", members=everyone | {BOT_USER_ID}),
        Channel("C0MLTEAM", "ml-team", members=everyone | {BOT_USER_ID}),
        Channel("C0RANDOM", "random", members=set(everyone)),
        Channel("G0SECRET", "secret-project", is_private=True, members={"U0ALICE"}),
    ]


class Workspace:
    """Users, channels and the content that the bot posted."""

    def __init__(
        self,
        users: list[User] | None = None,
        channels: list[Channel] | None = None,
    ) -> None:
        self.users: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        self.messages: dict[str, dict[str, Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.files: dict[str, UploadedFile] = {}
        self.views: dict[str, View] = {}
        self.home_views: dict[str, View] = {}
        # trigger_id -> time.monotonic() when the fake minted it
        self.triggers: dict[str, float] = {}
        self.trigger_ttl = TRIGGER_TTL
        # Seconds since the epoch; tests may swap in their fake clock.
        self.clock: Callable[[], float] = time.time
        self._ids = itertools.count(1)
        self._last_ts = 0.0

        for user in default_users() if users is None else users:
            self.users[user.id] = user
        human_ids = [u.id for u in self.users.values() if not u.is_bot]
        for channel in default_channels(human_ids) if channels is None else channels:
            self.channels[channel.id] = channel

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def next_ts(self) -> str:
        """Return a message ts later than every ts issued before.

        Slack's ts is the posting time with microseconds, and it is unique
        within a channel; a global sequence keeps it unique everywhere.
        """
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = now
        return f"{now:.6f}"

    def mint_trigger_id(self) -> str:
        trigger_id = f"{next(self._ids)}.{TEAM_ID[1:]}.{uuid.uuid4().hex}"
        self.triggers[trigger_id] = time.monotonic()
        return trigger_id

    def trigger_expired(self, trigger_id: str) -> bool:
        """Tell whether a trigger_id minted by the fake is past its TTL.

        A trigger_id the fake did not mint is accepted, so that payload
        builders work without a fake at hand.
        """
        minted = self.triggers.get(trigger_id)
        return minted is not None and time.monotonic() - minted > self.trigger_ttl

    def find_channel(self, key: str) -> Channel | None:
        """Find a channel by id, by name or `#name`, or a user id's DM."""
        if key in self.channels:
            return self.channels[key]
        if key in self.users:
            return self.open_im(key)
        name = key.removeprefix("#")
        for channel in self.channels.values():
            if not channel.is_im and channel.name == name:
                return channel
        return None

    def open_im(self, user_id: str) -> Channel:
        for channel in self.channels.values():
            if channel.is_im and channel.im_user == user_id:
                return channel
        channel = Channel(
            self.new_id("D"),
            name=user_id,
            is_im=True,
            im_user=user_id,
            members={user_id, BOT_USER_ID},
        )
        self.channels[channel.id] = channel
        return channel

    def find_user_by_email(self, email: str) -> User | None:
        for user in self.users.values():
            if user.email is not None and user.email.lower() == email.lower():
                return user
        return None

    def add_message(self, message: Message) -> Message:
        self.messages.setdefault(message.channel, {})[message.ts] = message
        return message

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        return self.messages.get(channel_id, {}).get(ts)

    def channel_messages(self, channel_id: str) -> list[Message]:
        """Return top-level messages in a channel, oldest first."""
        found = self.messages.get(channel_id, {}).values()
        return [m for m in found if m.thread_ts is None]

    def thread_replies(self, channel_id: str, thread_ts: str) -> list[Message]:
        found = self.messages.get(channel_id, {}).values()
        return [m for m in found if m.thread_ts == thread_ts]
