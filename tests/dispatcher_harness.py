"""Shared pieces of the dispatcher tests: a fake Slack with history, a clock.

Tests run the dispatcher on the
`FakeClock` from conftest, and its `sleep` advances that clock, so pacing
and backoff cost no real time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient

from bot import outbox
from bot.commands.subscriptions import add_subscription, parse_event_kinds
from bot.dispatcher import Dispatcher, DispatchStats
from tests.conftest import FakeClock
from tests.fakeslack import FakeSlack, Message
from tracker import Tracker, models

GENERAL = "C0GENERAL"
ML_TEAM = "C0MLTEAM"
RANDOM = "C0RANDOM"  # the bot is not a member


@contextmanager
def history_slack(clock: FakeClock | None = None) -> Iterator[FakeSlack]:
    """Start a fake Slack with history methods and no real-time rate limit.

    Pacing is tested on the FakeClock instead. With `clock`, a late
    success (`Fault.late_success`) shows in history on that clock.
    """
    timestamp = None if clock is None else (lambda: clock.now.timestamp())
    with FakeSlack(rate_limit=None, clock=timestamp) as fake:
        yield fake


def make_client(fake: FakeSlack, timeout: int = 5) -> WebClient:
    return WebClient(
        token=fake.bot_token, base_url=fake.api_url, timeout=timeout, retry_handlers=[]
    )


def make_dispatcher(
    tracker: Tracker, fake: FakeSlack, clock: FakeClock, **options: Any
) -> Dispatcher:
    options.setdefault("rng", random.Random(7))
    return Dispatcher(
        tracker,
        options.pop("client", None) or make_client(fake),
        clock=clock,
        sleep=lambda seconds: clock.advance(seconds=seconds),
        **options,
    )


def subscribe(
    tracker: Tracker, channel: str, query: str = "", events: str | None = None
) -> None:
    add_subscription(
        tracker, channel, query, parse_event_kinds(events), created_by="alice"
    )


def drain(
    dispatcher: Dispatcher, clock: FakeClock, *, rounds: int = 200
) -> list[DispatchStats]:
    """Run the dispatcher until nothing is open.

    Runs are one clock second apart, or when the next open delivery is
    due if that is later, so that long retry waits cost no runs.
    """
    runs = []
    for _ in range(rounds):
        runs.append(dispatcher.run_once())
        still_open = open_deliveries(dispatcher.tracker)
        if not still_open and not unrouted(dispatcher.tracker):
            return runs
        due = min((row.next_attempt_at for row in still_open), default=clock.now)
        clock.advance(seconds=max(1.0, (due - clock.now).total_seconds()))
    raise AssertionError(f"deliveries still open after {rounds} runs")


def open_deliveries(tracker: Tracker) -> list[outbox.DeliveryRow]:
    return outbox.list_deliveries(tracker.db, outbox.OPEN_STATES, limit=100_000)


def unrouted(tracker: Tracker) -> int:
    with tracker.db.read() as session:
        return (
            session.query(models.Event).filter(models.Event.routed_at.is_(None)).count()
        )


def deliveries(tracker: Tracker) -> list[outbox.DeliveryRow]:
    return outbox.list_deliveries(tracker.db, outbox.STATES, limit=100_000)


def marked(message: Message) -> set[int]:
    """Return the delivery ids in a fake message's metadata."""
    payload = (message.metadata or {}).get("event_payload") or {}
    return {int(i) for i in str(payload.get("delivery_ids", "")).split(",") if i}


def all_messages(fake: FakeSlack, channel: str) -> list[Message]:
    """Top-level messages and thread replies of a channel, oldest first."""
    top = fake.messages(channel)
    replies = [r for m in top for r in fake.replies(channel, m.ts)]
    return sorted([*top, *replies], key=lambda m: float(m.ts))
