"""The Web API calls the outbox makes, with failures sorted by what to do next.

Every failure becomes a `SlackFailure` with a category:

    rate_limited   HTTP 429: wait `Retry-After` seconds; nothing was posted
    unknown        timeout, connection error, HTTP 5xx, internal_error or
                   fatal_error: Slack may have acted, so check before a retry
    transient      Slack replied that it did not act but may later
    auth           the token is invalid or revoked: stop sending
    permanent      anything else (channel_not_found, not_in_channel,
                   is_archived, invalid_blocks, ...): retrying will not help

Slack offers no idempotency key for `chat.postMessage`. Each post carries
message metadata (`event_type: expbot_delivery`, with the delivery ids in
`event_payload`) instead, and `find_posted` looks for it in the channel's
history or the thread, so an attempt whose outcome is unknown is not
posted twice. The client must make no retries of its own
(`retry_handlers=[]`): a blind retry after a lost reply would post twice.
"""

from __future__ import annotations

import datetime as dt
import http.client
import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web import SlackResponse

logger = logging.getLogger(__name__)

MARKER_EVENT_TYPE = "expbot_delivery"
RATE_LIMITED = "rate_limited"
UNKNOWN = "unknown"
TRANSIENT = "transient"
AUTH = "auth"
PERMANENT = "permanent"

# Slack documents that these errors may come after part of the work was done.
_UNKNOWN_ERRORS = frozenset({"internal_error", "fatal_error"})
_TRANSIENT_ERRORS = frozenset({"service_unavailable", "request_timeout", "ratelimited"})
_AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
# Slack's own default when a 429 arrives without the header.
DEFAULT_RETRY_AFTER_SECONDS = 30.0
# Slack's clock and the database host's clock may differ a little.
HISTORY_MARGIN = dt.timedelta(minutes=5)
HISTORY_PAGE_SIZE = 200
HISTORY_MAX_PAGES = 10


class SlackFailure(Exception):
    """A Web API call that failed, with what the outbox should do about it."""

    def __init__(
        self,
        method: str,
        error: str,
        category: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{error} from {method}")
        self.method = method
        self.error = error
        self.category = category
        self.retry_after = retry_after

    @property
    def outcome_unknown(self) -> bool:
        return self.category == UNKNOWN


def classify(method: str, exc: Exception) -> SlackFailure:
    """Turn an exception from a Web API call into a `SlackFailure`."""
    if isinstance(exc, SlackApiError):
        return _classify_response(method, exc.response)
    if isinstance(exc, TimeoutError):
        return SlackFailure(method, "timed out", UNKNOWN)
    return SlackFailure(method, f"{type(exc).__name__}: {exc}", UNKNOWN)


def _classify_response(method: str, response: SlackResponse) -> SlackFailure:
    status = response.status_code
    error = str(response.get("error") or f"HTTP {status}")
    if status == 429:
        return SlackFailure(
            method, "ratelimited", RATE_LIMITED, retry_after=_retry_after(response)
        )
    if status >= 500 or error in _UNKNOWN_ERRORS:
        return SlackFailure(method, f"HTTP {status} {error}"[:300], UNKNOWN)
    if error in _TRANSIENT_ERRORS:
        return SlackFailure(method, error, TRANSIENT)
    if error in _AUTH_ERRORS:
        return SlackFailure(method, error, AUTH)
    return SlackFailure(method, error, PERMANENT)


def _retry_after(response: SlackResponse) -> float:
    headers = {key.lower(): value for key, value in (response.headers or {}).items()}
    value = headers.get("retry-after")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return (
            max(0.0, float(value)) if value is not None else DEFAULT_RETRY_AFTER_SECONDS
        )
    except ValueError:
        return DEFAULT_RETRY_AFTER_SECONDS


def marker(delivery_ids: Sequence[int]) -> dict[str, Any]:
    """Return the message metadata that names the deliveries a message carries.

    Metadata values must be strings, numbers, booleans or objects, so the
    ids are one comma-separated string.
    """
    return {
        "event_type": MARKER_EVENT_TYPE,
        "event_payload": {"delivery_ids": ",".join(str(i) for i in delivery_ids)},
    }


def marked_ids(message: dict[str, Any]) -> set[int]:
    """Return the delivery ids in a message's expbot metadata, if any."""
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != MARKER_EVENT_TYPE:
        return set()
    text = str((metadata.get("event_payload") or {}).get("delivery_ids", ""))
    return {int(part) for part in text.split(",") if part.strip().isdigit()}


class SlackCalls:
    """The outbox's Web API calls; each raises `SlackFailure` on failure.

    Lookups of earlier posts are cached per (channel, thread) until
    `forget_history()`, which the dispatcher calls at the start of a run,
    so that checking many deliveries after an outage costs one history
    read per channel.
    """

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._history: dict[tuple[str, str | None], tuple[dt.datetime, dict[int, str]]]
        self._history = {}

    def forget_history(self) -> None:
        self._history.clear()

    def post(
        self,
        channel: str,
        *,
        text: str,
        blocks: Sequence[Block],
        delivery_ids: Sequence[int],
        thread_ts: str | None = None,
    ) -> str:
        """Post a message and return its ts."""
        arguments: dict[str, Any] = {
            "channel": channel,
            "text": text,
            "blocks": [block.to_dict() for block in blocks],
            "metadata": marker(delivery_ids),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if thread_ts is not None:
            arguments["thread_ts"] = thread_ts
        response = self._call(
            "chat.postMessage", self.client.chat_postMessage, arguments
        )
        return str(response["ts"])

    def update(
        self, channel: str, ts: str, *, text: str, blocks: Sequence[Block]
    ) -> None:
        arguments = {
            "channel": channel,
            "ts": ts,
            "text": text,
            "blocks": [block.to_dict() for block in blocks],
        }
        self._call("chat.update", self.client.chat_update, arguments)

    def open_dm(self, user_id: str) -> str:
        """Open (or reuse) the bot's DM with a user and return its channel id."""
        response = self._call(
            "conversations.open", self.client.conversations_open, {"users": user_id}
        )
        return str(response["channel"]["id"])

    def lookup_email(self, email: str) -> str | None:
        """Return the Slack user id with this email, or None if there is none."""
        try:
            response = self._call(
                "users.lookupByEmail", self.client.users_lookupByEmail, {"email": email}
            )
        except SlackFailure as failure:
            if failure.error == "users_not_found":
                return None
            raise
        return str(response["user"]["id"])

    def find_posted(
        self,
        channel: str,
        delivery_id: int,
        *,
        since: dt.datetime,
        thread_ts: str | None = None,
    ) -> str | None:
        """Return the ts of a message marked with `delivery_id`, if Slack has one.

        Reads the channel's top-level history, or the thread of `thread_ts`,
        from `since` (less a margin for clock skew) on.
        NOTE: at most HISTORY_MAX_PAGES pages are read; a copy further back
        is not found, and the delivery is then posted again.
        """
        oldest = since - HISTORY_MARGIN
        key = (channel, thread_ts)
        cached = self._history.get(key)
        if cached is None or cached[0] > oldest:
            cached = (oldest, self._read_markers(channel, thread_ts, oldest))
            self._history[key] = cached
        return cached[1].get(delivery_id)

    def _read_markers(
        self, channel: str, thread_ts: str | None, oldest: dt.datetime
    ) -> dict[int, str]:
        found: dict[int, str] = {}
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            messages, cursor = self._history_page(channel, thread_ts, oldest, cursor)
            for message in messages:
                for delivery_id in marked_ids(message):
                    found.setdefault(delivery_id, str(message.get("ts")))
            if not cursor:
                return found
        logger.warning(
            "stopped reading %s history after %d pages while checking for "
            "earlier posts",
            channel,
            HISTORY_MAX_PAGES,
        )
        return found

    def _history_page(
        self,
        channel: str,
        thread_ts: str | None,
        oldest: dt.datetime,
        cursor: str | None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        arguments: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{max(oldest.timestamp(), 0.0):.6f}",
            "include_all_metadata": True,
            "limit": HISTORY_PAGE_SIZE,
        }
        if cursor:
            arguments["cursor"] = cursor
        function: Callable[..., SlackResponse]
        if thread_ts is None:
            method, function = (
                "conversations.history",
                self.client.conversations_history,
            )
        else:
            arguments["ts"] = thread_ts
            method, function = (
                "conversations.replies",
                self.client.conversations_replies,
            )
        response = self._call(method, function, arguments)
        metadata = response.get("response_metadata") or {}
        return list(response.get("messages") or []), metadata.get("next_cursor") or None

    def _call(
        self,
        method: str,
        function: Callable[..., SlackResponse],
        arguments: dict[str, Any],
    ) -> SlackResponse:
        try:
            return function(**arguments)
        except (SlackApiError, OSError, http.client.HTTPException) as exc:
            raise classify(method, exc) from exc
