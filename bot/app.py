"""The Bolt app: one factory that wires every listener to a tracker.

`create_app` takes its settings and tracker, so tests and `expbot serve`
each build their own app; nothing here reads the environment.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import TYPE_CHECKING

from slack_bolt import App
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient

from bot import errors, interactive, retries
from bot.router import SlashCommand

if TYPE_CHECKING:
    from bot.settings import Settings
    from tracker import Tracker

logger = logging.getLogger(__name__)

DEFAULT_API_URL = WebClient.BASE_URL
# Threads that run commands after their ack; each mostly waits on the
# database or Slack, so a few more than the cores is right.
COMMAND_WORKERS = 8


def create_workers() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(
        max_workers=COMMAND_WORKERS, thread_name_prefix="expbot-command"
    )


def create_client(settings: Settings) -> WebClient:
    """Build the Web API client, using SLACK_API_URL when it is set."""
    return WebClient(
        token=settings.bot_token, base_url=settings.api_url or DEFAULT_API_URL
    )


def _bolt_logger() -> logging.Logger:
    bolt_logger = logging.getLogger("bot.bolt")
    if not bolt_logger.filters:
        bolt_logger.addFilter(_drop_token_warning)
    return bolt_logger


def _drop_token_warning(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns
    # that the client's token wins; it is the same token, from Settings.
    return record.getMessage() != warning_client_prioritized_and_token_skipped()


def create_app(
    settings: Settings, tracker: Tracker, *, workers: Executor | None = None
) -> App:
    """Build the Bolt app with every listener registered.

    Token verification at construction is off so that building an app
    makes no network call; Bolt still calls `auth.test` on the first
    request, and `expbot serve` checks the token itself at start.
    """
    workers = workers or create_workers()
    app = App(
        logger=_bolt_logger(),
        client=create_client(settings),
        # Without a secret every HTTP request fails verification with 401;
        # Socket Mode skips verification and needs none.
        signing_secret=settings.signing_secret or "",
        token_verification_enabled=False,
        # Acks go back as soon as ack() is called; work continues after.
        process_before_response=False,
    )
    app.use(retries.make_middleware(retries.RequestLog(tracker)))
    SlashCommand(tracker, settings, workers).register(app)
    # Buttons, modals and the App Home tab.
    interactive.register(app, tracker, settings)
    errors.register(app)
    return app
