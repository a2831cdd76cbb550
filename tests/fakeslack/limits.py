"""Slack's documented size limits on messages and views, and rate limits.

Sources: the Block Kit reference on docs.slack.dev (block and element
limits) and the chat.postMessage reference (40,000 characters of `text`,
about one message per second per channel). Error strings follow Slack's
`invalid_blocks` replies: a message and a JSON pointer to the value.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT = 40_000
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_SECTION_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_MARKDOWN_TEXT = 12_000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID_LENGTH = 255
MAX_VIEW_TITLE = 24
MAX_PRIVATE_METADATA = 3000


def _too_many(items: list[Any], limit: int, pointer: str) -> list[str]:
    if len(items) <= limit:
        return []
    return [f"must be less than {limit + 1} items [json-pointer:{pointer}]"]


def _too_long(value: Any, limit: int, pointer: str) -> list[str]:
    if not isinstance(value, str) or len(value) <= limit:
        return []
    return [f"must be less than {limit + 1} characters [json-pointer:{pointer}]"]


def _text_of(obj: Any) -> Any:
    return obj.get("text") if isinstance(obj, dict) else None


def _section_errors(block: dict[str, Any], at: str) -> list[str]:
    errors = _too_long(_text_of(block.get("text")), MAX_SECTION_TEXT, f"{at}/text/text")
    fields = block.get("fields") or []
    errors += _too_many(fields, MAX_SECTION_FIELDS, f"{at}/fields")
    for i, item in enumerate(fields):
        pointer = f"{at}/fields/{i}/text"
        errors += _too_long(_text_of(item), MAX_SECTION_FIELD_TEXT, pointer)
    if block.get("text") is None and not fields:
        errors.append(f"must provide text or fields [json-pointer:{at}]")
    return errors


def _header_errors(block: dict[str, Any], at: str) -> list[str]:
    text = block.get("text")
    if not isinstance(text, dict) or text.get("type") != "plain_text":
        return [f"must be a plain_text object [json-pointer:{at}/text]"]
    return _too_long(text.get("text"), MAX_HEADER_TEXT, f"{at}/text/text")


def _element_errors(element: dict[str, Any], at: str) -> list[str]:
    errors = _too_long(element.get("action_id"), MAX_ID_LENGTH, f"{at}/action_id")
    if element.get("type") == "button":
        text = _text_of(element.get("text"))
        errors += _too_long(text, MAX_BUTTON_TEXT, f"{at}/text/text")
        errors += _too_long(element.get("value"), MAX_BUTTON_VALUE, f"{at}/value")
    return errors


def _actions_errors(block: dict[str, Any], at: str) -> list[str]:
    elements = block.get("elements") or []
    errors = _too_many(elements, MAX_ACTIONS_ELEMENTS, f"{at}/elements")
    for i, element in enumerate(elements):
        if isinstance(element, dict):
            errors += _element_errors(element, f"{at}/elements/{i}")
    return errors


def _context_errors(block: dict[str, Any], at: str) -> list[str]:
    elements = block.get("elements") or []
    return _too_many(elements, MAX_CONTEXT_ELEMENTS, f"{at}/elements")


def _markdown_errors(block: dict[str, Any], at: str) -> list[str]:
    return _too_long(block.get("text"), MAX_MARKDOWN_TEXT, f"{at}/text")


BlockCheck = Callable[[dict[str, Any], str], list[str]]

_BLOCK_CHECKS: dict[str, BlockCheck] = {
    "section": _section_errors,
    "header": _header_errors,
    "actions": _actions_errors,
    "context": _context_errors,
    "markdown": _markdown_errors,
}


def block_errors(blocks: Any, max_blocks: int, pointer: str = "/blocks") -> list[str]:
    """Return Slack-style error strings for `blocks`, empty when they are valid.

    Block types without a check here are accepted as they are.
    """
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors = _too_many(blocks, max_blocks, pointer)
    for i, block in enumerate(blocks):
        at = f"{pointer}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            errors.append(f"must be a block object with a type [json-pointer:{at}]")
            continue
        errors += _too_long(block.get("block_id"), MAX_ID_LENGTH, f"{at}/block_id")
        check = _BLOCK_CHECKS.get(block["type"])
        if check is not None:
            errors += check(block, at)
    return errors


def view_errors(view: Any) -> list[str]:
    """Return Slack-style error strings for a modal or Home tab view."""
    if not isinstance(view, dict):
        return ["must be a view object [json-pointer:/view]"]
    errors: list[str] = []
    if view.get("type") not in ("modal", "home"):
        errors.append("must be modal or home [json-pointer:/view/type]")
    if view.get("type") == "modal":
        for key in ("title", "submit", "close"):
            text = _text_of(view.get(key))
            errors += _too_long(text, MAX_VIEW_TITLE, f"/view/{key}/text")
        if view.get("title") is None:
            errors.append("must provide a title [json-pointer:/view/title]")
    metadata = view.get("private_metadata")
    errors += _too_long(metadata, MAX_PRIVATE_METADATA, "/view/private_metadata")
    errors += block_errors(view.get("blocks", []), MAX_VIEW_BLOCKS, "/view/blocks")
    return errors


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `per_second` steady rate with `burst` extra calls.

    NOTE: Slack documents about one chat.postMessage per second per channel
    and "bursts" above it, but publishes no burst size, so 3 is a guess.
    """

    per_second: float = 1.0
    burst: int = 3


class RateLimiter:
    """Token buckets keyed by channel."""

    def __init__(self, limit: RateLimit, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int | None:
        """Take one token for `key` and return None, or else the Retry-After seconds."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(self.limit.burst), now))
            tokens = min(
                float(self.limit.burst), tokens + (now - last) * self.limit.per_second
            )
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            wait = (1.0 - tokens) / self.limit.per_second
            return max(1, math.ceil(wait))
