"""Replies to failed requests, and the log entries behind them.

A tracker error (bad input, not found, not allowed) is the user's to fix,
so its message is shown as is. Anything else is a bug or an outage: the
user gets a short apology with a reference id, and the log gets the
exception with the same id, so the two can be matched. No traceback is
ever sent to Slack.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from slack_bolt import App

from bot.slack_text import escape
from tracker.errors import ExpbotError, PermissionDenied

logger = logging.getLogger(__name__)


def new_reference() -> str:
    """Return a short random id that ties an apology to its log entry."""
    return secrets.token_hex(4)


def describe_error(exc: ExpbotError) -> str:
    """Return a tracker error as escaped mrkdwn with an icon for its kind."""
    icon = ":no_entry:" if isinstance(exc, PermissionDenied) else ":warning:"
    return f"{icon} {escape(str(exc))}"


def apology(reference: str, action: str = "That request") -> str:
    return (
        f":x: Sorry, {action} failed unexpectedly. If it keeps failing, give "
        f"your expbot admin the reference `{reference}`."
    )


def log_unexpected(
    exc: BaseException, reference: str, what: str, *args: object
) -> None:
    """Log an unexpected exception with its traceback and reference id."""
    logger.error(
        "%s failed (reference %s)",
        what % args if args else what,
        reference,
        exc_info=exc,
    )


def register(app: App) -> None:
    """Install the handler for exceptions that escape any listener."""
    app.error(handle_listener_error)


def handle_listener_error(
    error: Exception,
    body: dict[str, Any],
    respond: Callable[..., Any] | None,
) -> None:
    """Log the error and reply to the user when the request has a response_url."""
    if isinstance(error, ExpbotError):
        text = describe_error(error)
        logger.info("listener raised %s: %s", type(error).__name__, error)
    else:
        reference = new_reference()
        log_unexpected(error, reference, "listener for %s", _request_name(body))
        text = apology(reference)
    if respond is not None and body.get("response_url"):
        _respond_quietly(respond, text)


def _respond_quietly(respond: Callable[..., Any], text: str) -> None:
    try:
        respond(text=text, response_type="ephemeral", replace_original=False)
    except Exception:
        # The error being reported matters more than this follow-up one.
        logger.warning("could not send the error reply", exc_info=True)


def _request_name(body: dict[str, Any]) -> str:
    if body.get("command"):
        return str(body["command"])
    actions = body.get("actions") or []
    if actions:
        return f"action {actions[0].get('action_id', '?')}"
    view = body.get("view") or {}
    if view.get("callback_id"):
        return f"view {view['callback_id']}"
    event = body.get("event") or {}
    return str(event.get("type") or body.get("type") or "request")
