"""Posts whose outcome is unknown: Slack posts, but the client sees a failure.

The fake Slack performs the post and then replies with a timeout or a 500
(`Fault.late_success`), and shows the message in history only some time
later on the test's clock. The dispatcher must not post a second copy
while history may still be behind. Each test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from bot import outbox
from bot.dispatcher import AMBIGUOUS_RETRY_SECONDS
from tests.dispatcher_harness import (
    GENERAL,
    ML_TEAM,
    all_messages,
    deliveries,
    drain,
    history_slack,
    make_client,
    make_dispatcher,
    marked,
    subscribe,
)
from tests.fakeslack import Fault

# Slack shows the late message well before the dispatcher looks again.
VISIBLE_AFTER = AMBIGUOUS_RETRY_SECONDS / 2


@pytest.fixture
def slack(clock):
    with history_slack(clock) as fake:
        yield fake


def posted_ids(fake, channels) -> Counter[int]:
    return Counter(
        delivery_id
        for channel in channels
        for message in all_messages(fake, channel)
        for delivery_id in marked(message)
    )


def test_late_success_after_timeout_posts_once(tracker, slack, clock, caplog):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(
        tracker, slack, clock, client=make_client(slack, timeout=1)
    )
    # The client times out after 1 s, and Slack has posted by then.
    slack.inject(
        "chat.postMessage", Fault.late_success(visible_after=VISIBLE_AFTER, delay=1.5)
    )
    tracker.track("bert", researcher="alice")

    with caplog.at_level(logging.INFO, logger="bot.dispatcher"):
        drain(dispatcher, clock)

    [row] = deliveries(tracker)
    assert row.state == outbox.DELIVERED
    assert posted_ids(slack, [GENERAL]) == Counter({row.id: 1})
    assert row.attempts == 2
    assert "already in Slack" in caplog.text


def test_late_success_after_server_error_posts_once(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject(
        "chat.postMessage", Fault.late_success(visible_after=VISIBLE_AFTER, status=500)
    )
    tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    [row] = deliveries(tracker)
    assert posted_ids(slack, [GENERAL]) == Counter({row.id: 1})
    assert len(slack.calls("chat.postMessage")) == 1


def test_late_success_after_reset_posts_once(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject(
        "chat.postMessage", Fault.late_success(visible_after=VISIBLE_AFTER, drop=True)
    )
    tracker.track("bert", researcher="alice")

    first = dispatcher.run_once()
    drain(dispatcher, clock)

    [row] = deliveries(tracker)
    assert first.retried == 1
    assert posted_ids(slack, [GENERAL]) == Counter({row.id: 1})
    assert len(slack.calls("chat.postMessage")) == 1


def test_late_reply_in_thread_posts_once(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    record = tracker.track("bert", researcher="alice")
    drain(dispatcher, clock)
    slack.inject(
        "chat.postMessage", Fault.late_success(visible_after=VISIBLE_AFTER, status=502)
    )
    tracker.complete(record.id, {"accuracy": 0.9})

    drain(dispatcher, clock)

    [card] = slack.messages(GENERAL)
    replies = slack.replies(GENERAL, card.ts)
    assert len(replies) == 1
    assert [row.state for row in deliveries(tracker)] == [outbox.DELIVERED] * 2
    assert slack.calls("conversations.replies", ok=True)


def test_unknown_outcome_waits_only_for_its_delivery(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    subscribe(tracker, ML_TEAM)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject("chat.postMessage", Fault.late_success(status=500))
    tracker.track("bert", researcher="alice")
    dispatcher.run_once()
    failed_at = clock.now

    # The pause after a 500 is the short backoff: the other channel's
    # delivery goes out within seconds.
    clock.advance(seconds=5)
    dispatcher.run_once()

    by_target = {row.target: row for row in deliveries(tracker)}
    [waiting] = [row for row in by_target.values() if row.state == outbox.SENDING]
    [sent] = [row for row in by_target.values() if row.state == outbox.DELIVERED]
    assert waiting.target != sent.target
    wait = (waiting.next_attempt_at - failed_at).total_seconds()
    assert wait >= AMBIGUOUS_RETRY_SECONDS
    assert not slack.calls("conversations.history")


def test_rate_limit_keeps_short_retry(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject("chat.postMessage", Fault.rate_limited(retry_after=3))
    tracker.track("bert", researcher="alice")

    dispatcher.run_once()

    [row] = deliveries(tracker)
    assert row.state == outbox.PENDING
    assert (row.next_attempt_at - clock.now).total_seconds() == pytest.approx(3)


def test_definite_error_keeps_short_retry(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject("chat.postMessage", Fault.slack_error("service_unavailable"))
    tracker.track("bert", researcher="alice")

    dispatcher.run_once()

    [row] = deliveries(tracker)
    assert row.state == outbox.PENDING
    assert (row.next_attempt_at - clock.now).total_seconds() < 5
