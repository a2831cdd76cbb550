"""Fake `conversations.history` and `conversations.replies`.

Message metadata is returned only with `include_all_metadata`, as Slack
does, and `oldest` is honoured. A message from a late success is left
out until its `visible_at`. Paging is one page, since tests post far
fewer messages than a page holds.
"""

from __future__ import annotations

from typing import Any

from tests.fakeslack.api import ApiRequest, SlackError
from tests.fakeslack.workspace import BOT_USER_ID, Message


def _page(request: ApiRequest, messages: list[Message]) -> dict[str, Any]:
    oldest = float(request.get("oldest", 0) or 0)
    with_metadata = request.flag("include_all_metadata")
    now = request.workspace.clock()
    found = []
    for message in sorted(messages, key=lambda m: float(m.ts), reverse=True):
        if float(message.ts) <= oldest or message.visible_at > now:
            continue
        data = message.to_dict()
        if not with_metadata:
            data.pop("metadata", None)
        found.append(data)
    return {
        "messages": found,
        "has_more": False,
        "response_metadata": {"next_cursor": ""},
    }


def conversations_history(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    if not channel.is_im and BOT_USER_ID not in channel.members:
        raise SlackError("not_in_channel")
    return _page(request, request.workspace.channel_messages(channel.id))


def conversations_replies(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    ts = str(request.require("ts", "thread_not_found"))
    root = request.workspace.find_message(channel.id, ts)
    if root is None:
        raise SlackError("thread_not_found")
    replies = request.workspace.thread_replies(channel.id, ts)
    return _page(request, [root, *replies])


METHODS = {
    "conversations.history": conversations_history,
    "conversations.replies": conversations_replies,
}
