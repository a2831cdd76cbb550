"""The fake's chat.* methods: post, post ephemeral, update, permalink."""

from __future__ import annotations

from typing import Any

from tests.fakeslack.api import ApiRequest, MethodFunction, SlackError, invalid_blocks
from tests.fakeslack.limits import MAX_MESSAGE_BLOCKS, MAX_MESSAGE_TEXT, block_errors
from tests.fakeslack.workspace import TEAM_DOMAIN, Ephemeral, Message


def message_content(request: ApiRequest) -> tuple[str, list[dict[str, Any]] | None]:
    """Return the checked (text, blocks) of a message request.

    Raises no_text, msg_too_long or invalid_blocks as Slack does.
    """
    text = str(request.get("text", ""))
    blocks = request.json_value("blocks")
    attachments = request.json_value("attachments")

    if not text and not blocks and not attachments:
        raise SlackError("no_text")
    if len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        errors = block_errors(blocks, MAX_MESSAGE_BLOCKS)
        if errors:
            raise invalid_blocks(errors)

    return text, blocks


def post_message(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    request.check_can_post(channel)
    text, blocks = message_content(request)
    thread_ts = request.thread_root(channel, request.get("thread_ts"))

    message = Message(
        channel=channel.id,
        ts=request.workspace.next_ts(),
        text=text,
        blocks=blocks,
        thread_ts=thread_ts,
        metadata=request.json_value("metadata"),
    )
    request.workspace.add_message(message)

    return {"channel": channel.id, "ts": message.ts, "message": message.to_dict()}


def post_ephemeral(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    user_id = str(request.require("user", error="user_not_found"))
    if user_id not in request.workspace.users:
        raise SlackError("user_not_found")
    if not channel.is_im and user_id not in channel.members:
        raise SlackError("user_not_in_channel")
    request.check_can_post(channel)
    text, blocks = message_content(request)

    ephemeral = Ephemeral(
        channel=channel.id,
        user=user_id,
        message_ts=request.workspace.next_ts(),
        text=text,
        blocks=blocks,
        thread_ts=request.get("thread_ts"),
    )
    request.workspace.ephemerals.append(ephemeral)

    return {"message_ts": ephemeral.message_ts}


def update(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    message = request.message(channel, request.get("ts"))
    text, blocks = message_content(request)

    message.text = text
    if blocks is not None:
        message.blocks = blocks
    message.edits += 1

    return {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message.to_dict(),
    }


def get_permalink(request: ApiRequest) -> dict[str, Any]:
    channel = request.channel()
    message = request.message(channel, request.get("message_ts"))
    # Never fetched: the address only has the shape of a real permalink.
    permalink = (
        f"https://{TEAM_DOMAIN}.slack.com/archives/{channel.id}"
        f"/p{message.ts.replace('.', '')}"
    )
    if message.thread_ts is not None:
        permalink += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"channel": channel.id, "permalink": permalink}


METHODS: dict[str, MethodFunction] = {
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "chat.getPermalink": get_permalink,
}
