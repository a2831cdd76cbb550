"""Response URLs: where Bolt's `respond()` posts the reply to a command.

Slack accepts up to five posts to one response_url within 30 minutes. A
reply with `"response_type": "in_channel"` appears in the channel even when
the bot is not a member; other replies are visible to the user only.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.fakeslack.limits import MAX_MESSAGE_BLOCKS, MAX_MESSAGE_TEXT, block_errors
from tests.fakeslack.workspace import Message, Workspace

MAX_USES = 5
LIFETIME_SECONDS = 30 * 60


@dataclass
class ResponseUrl:
    token: str
    channel_id: str | None
    user_id: str | None
    minted: float = field(default_factory=time.monotonic)
    bodies: list[dict[str, Any]] = field(default_factory=list)


class ResponseUrls:
    """Minted response URLs and what was posted to each."""

    def __init__(self) -> None:
        self._urls: dict[str, ResponseUrl] = {}

    def mint(self, channel_id: str | None, user_id: str | None) -> str:
        token = uuid.uuid4().hex
        self._urls[token] = ResponseUrl(token, channel_id, user_id)
        return token

    def bodies(self, token: str) -> list[dict[str, Any]]:
        found = self._urls.get(token)
        return list(found.bodies) if found is not None else []

    def post(
        self, token: str, body: dict[str, Any], workspace: Workspace
    ) -> tuple[int, dict[str, Any]]:
        """Store one post to a response URL and return (HTTP status, reply).

        NOTE: Slack's error strings for a used-up or expired response_url
        are not documented; the ones here are placeholders.
        """
        found = self._urls.get(token)
        if found is None:
            return 404, {"ok": False, "error": "invalid_token"}
        if time.monotonic() - found.minted > LIFETIME_SECONDS:
            return 404, {"ok": False, "error": "expired_url"}
        if len(found.bodies) >= MAX_USES:
            return 404, {"ok": False, "error": "used_url"}
        if not _has_content(body):
            return 400, {"ok": False, "error": "no_text"}
        if len(str(body.get("text", ""))) > MAX_MESSAGE_TEXT:
            return 400, {"ok": False, "error": "msg_too_long"}
        errors = block_errors(body.get("blocks", []), MAX_MESSAGE_BLOCKS)
        if errors:
            return 400, {"ok": False, "error": "invalid_blocks", "errors": errors}

        found.bodies.append(body)
        if body.get("response_type") == "in_channel" and found.channel_id:
            workspace.add_message(
                Message(
                    channel=found.channel_id,
                    ts=workspace.next_ts(),
                    text=str(body.get("text", "")),
                    blocks=body.get("blocks"),
                    thread_ts=body.get("thread_ts"),
                )
            )
        return 200, {"ok": True}


def _has_content(body: dict[str, Any]) -> bool:
    keys = ("text", "blocks", "attachments", "delete_original")
    return any(body.get(key) for key in keys)
