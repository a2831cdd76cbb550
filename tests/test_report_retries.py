"""Scheduled reports after a timeout or a 5xx: retried, and posted once.

Slack may have posted a report whose call failed that way, so the retry
looks for the report's metadata in the channel's history first. Each test
runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest
from slack_sdk import WebClient

from bot import schedule_store as store
from bot.report_delivery import MARKER_EVENT_TYPE, RETRY_WAIT, SKIPPED, deliver_due
from tests.conftest import FakeClock
from tests.fakeslack import FakeSlack, Fault
from tests.test_report_delivery import add_october, add_schedule, due
from tracker import Tracker

CHANNEL = "C0MLTEAM"
PERIOD = "2026-10"
# Between two runs of the catch-up job.
CATCH_UP = dt.timedelta(minutes=15)


@pytest.fixture
def team(tracker: Tracker, clock: FakeClock, fake_slack: FakeSlack) -> Tracker:
    add_october(tracker, clock)
    # A late success shows in history on the test's clock.
    fake_slack.workspace.clock = lambda: clock.now.timestamp()
    return tracker


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    """A client that gives up after 1 s, so a slow fault is a timeout."""
    return WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url, timeout=1)


def report_messages(fake: FakeSlack) -> list:
    return [
        message
        for message in fake.messages(CHANNEL)
        if (message.metadata or {}).get("event_type") == MARKER_EVENT_TYPE
    ]


def test_server_error_then_timeout_posts_once(team, clock, fake_slack, client):
    schedule = add_schedule(team, clock, CHANNEL)
    due(clock)
    # The first post fails outright; the second reaches Slack, but the
    # client times out before the reply.
    fake_slack.inject(
        "chat.postMessage", Fault.server_error(), Fault.late_success(delay=1.5)
    )

    first = deliver_due(team, client, schedule)
    clock.now += CATCH_UP
    second = deliver_due(team, client, schedule)
    # The fake logs the timed-out call once its delay is over.
    fake_slack.wait_for_calls("chat.postMessage", 2, timeout=5)
    clock.now += CATCH_UP
    third = deliver_due(team, client, schedule)

    assert first == store.FAILED
    assert second == store.FAILED
    assert third == store.DELIVERED
    [message] = report_messages(fake_slack)
    assert len(fake_slack.calls("chat.postMessage")) == 2
    assert {f.thread_ts for f in fake_slack.files()} == {message.ts}


def test_late_report_found_not_posted_again(team, clock, fake_slack, client):
    schedule = add_schedule(team, clock, CHANNEL)
    due(clock)
    late = RETRY_WAIT.total_seconds() / 2
    fake_slack.inject(
        "chat.postMessage", Fault.late_success(visible_after=late, status=500)
    )

    first = deliver_due(team, client, schedule)
    # History does not show the message yet: a retry now would post again.
    clock.now += dt.timedelta(seconds=late / 2)
    too_soon = deliver_due(team, client, schedule)
    clock.now += CATCH_UP
    retried = deliver_due(team, client, schedule)

    assert first == store.FAILED
    assert too_soon == SKIPPED
    assert retried == store.DELIVERED
    [message] = report_messages(fake_slack)
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert {f.thread_ts for f in fake_slack.files()} == {message.ts}


def test_failed_report_reposted_after_check(team, clock, fake_slack, client):
    schedule = add_schedule(team, clock, CHANNEL)
    due(clock)
    fake_slack.inject("chat.postMessage", Fault.server_error(503))

    first = deliver_due(team, client, schedule)
    clock.now += CATCH_UP
    second = deliver_due(team, client, schedule)

    assert first == store.FAILED
    assert second == store.DELIVERED
    assert len(report_messages(fake_slack)) == 1
    assert fake_slack.calls("conversations.history", ok=True)


def test_unreadable_history_does_not_post(team, clock, fake_slack, client):
    schedule = add_schedule(team, clock, CHANNEL)
    due(clock)
    fake_slack.inject("chat.postMessage", Fault.late_success(status=500))
    fake_slack.inject("conversations.history", Fault.rate_limited(retry_after=3))

    deliver_due(team, client, schedule)
    clock.now += CATCH_UP
    second = deliver_due(team, client, schedule)
    clock.now += CATCH_UP
    third = deliver_due(team, client, schedule)

    assert second == store.FAILED
    assert third == store.DELIVERED
    assert len(report_messages(fake_slack)) == 1
    assert store.delivery_state(team, schedule.id, PERIOD) == store.DELIVERED
