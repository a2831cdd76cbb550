"""The dispatcher through Slack outages, rate limits, timeouts and crashes.

Each test ends by checking what Slack shows: every notification exactly
once, found by the delivery ids in the messages' metadata.
"""

from __future__ import annotations

import logging
from collections import Counter
from types import SimpleNamespace

import pytest

from bot import outbox
from bot.dispatcher import LEASE, Dispatcher, start
from bot.settings import Settings
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
from tests.fakeslack import FakeSlack, Fault
from tracker import Tracker, people


class Crash(BaseException):
    """Stands for the process dying: no handler in the dispatcher catches it."""


@pytest.fixture
def tracker(sqlite_tracker):
    return sqlite_tracker


@pytest.fixture
def slack(monkeypatch):
    with history_slack() as fake:
        yield fake


def assert_each_delivered_once(tracker, fake: FakeSlack, channels) -> None:
    rows = deliveries(tracker)
    posted = Counter(
        delivery_id
        for channel in channels
        for message in all_messages(fake, channel)
        for delivery_id in marked(message)
    )
    assert [row.state for row in rows] == [outbox.DELIVERED] * len(rows)
    assert sorted(posted) == sorted(row.id for row in rows)
    assert set(posted.values()) == {1}


def crash_after(client, method_name: str):
    """Make the client's method reach Slack, then crash before returning."""
    real = getattr(client, method_name)

    def call_then_crash(**arguments):
        real(**arguments)
        raise Crash(method_name)

    setattr(client, method_name, call_then_crash)


def post_times(dispatcher, clock, monkeypatch) -> list:
    """Record (fake time, channel) of every post attempt."""
    times = []
    original = dispatcher.slack.post

    def timed(channel, **arguments):
        times.append((clock.now, channel))
        return original(channel, **arguments)

    monkeypatch.setattr(dispatcher.slack, "post", timed)
    return times


# -- outages and rate limits -------------------------------------------------


def test_outage_then_each_event_arrives_once(tracker, slack, clock, monkeypatch):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    first = tracker.track("before-outage", researcher="alice")
    drain(dispatcher, clock)
    slack.inject("chat.postMessage", *[Fault.server_error()] * 3)
    slack.inject("chat.postMessage", *[Fault.rate_limited(retry_after=7)] * 2)
    tracker.complete(first.id, {"accuracy": 0.9})
    second = tracker.track("during-outage", researcher="alice")
    tracker.fail(second.id, "preempted")
    tracker.track("also-during", researcher="bob")

    drain(dispatcher, clock)

    assert_each_delivered_once(tracker, slack, [GENERAL])
    assert len(slack.calls("chat.postMessage", ok=False)) == 5
    # The 500s left the outcome unknown, so the thread was read first.
    assert slack.calls("conversations.replies", ok=True)


def test_retry_after_is_honoured(tracker, slack, clock, monkeypatch):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    times = post_times(dispatcher, clock, monkeypatch)
    slack.inject("chat.postMessage", Fault.rate_limited(retry_after=7))
    tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    assert len(times) == 2
    assert (times[1][0] - times[0][0]).total_seconds() >= 7
    assert_each_delivered_once(tracker, slack, [GENERAL])


def test_rate_limit_holds_only_its_channel(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    subscribe(tracker, ML_TEAM)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject("chat.postMessage", Fault.rate_limited(retry_after=30))
    tracker.track("bert", researcher="alice")

    dispatcher.run_once()

    by_target = {row.target: row for row in deliveries(tracker)}
    assert len(slack.messages(ML_TEAM)) == 1
    assert slack.messages(GENERAL) == []
    assert by_target[GENERAL].state == outbox.PENDING
    assert (by_target[GENERAL].next_attempt_at - clock.now).total_seconds() >= 29


def test_server_errors_back_off_exponentially(tracker, slack, clock, monkeypatch):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    times = post_times(dispatcher, clock, monkeypatch)
    slack.inject("chat.postMessage", *[Fault.server_error(503)] * 4)
    tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    gaps = [
        (b[0] - a[0]).total_seconds() for a, b in zip(times, times[1:], strict=False)
    ]
    assert len(times) == 5
    assert gaps == sorted(gaps)
    assert gaps[-1] >= 8
    assert_each_delivered_once(tracker, slack, [GENERAL])


def test_outage_pauses_other_channels(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    subscribe(tracker, ML_TEAM)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject("chat.postMessage", Fault.server_error())
    tracker.track("bert", researcher="alice")

    dispatcher.run_once()

    # One failed call, not one per channel: the run stopped at the 500.
    assert len(slack.calls("chat.postMessage")) == 1
    assert [row.claimed_by for row in deliveries(tracker)] == [None, None]


def test_retries_are_logged_as_warnings(tracker, slack, clock, caplog):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject("chat.postMessage", Fault.server_error())
    tracker.track("bert", researcher="alice")

    with caplog.at_level(logging.INFO, logger="bot.dispatcher"):
        drain(dispatcher, clock)

    event_id = deliveries(tracker)[0].event_id
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"event {event_id} to {GENERAL} failed on attempt 1")
    assert "HTTP 500" in warnings[0]


def test_failing_delivery_parks_after_max_attempts(tracker, slack, clock, caplog):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock, max_attempts=3)
    slack.inject("chat.postMessage", *[Fault.server_error()] * 3)
    tracker.track("bert", researcher="alice")

    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        drain(dispatcher, clock)

    parked = deliveries(tracker)[0]
    assert parked.state == outbox.PARKED
    assert parked.last_error.startswith("gave up after 3 attempts")
    assert "after attempt 3" in caplog.text


def test_invalid_token_parks_and_pauses(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    dispatcher = make_dispatcher(tracker, slack, clock)
    slack.inject("chat.postMessage", Fault.slack_error("invalid_auth"))
    tracker.track("bert", researcher="alice")
    tracker.track("gpt", researcher="alice")

    dispatcher.run_once()
    clock.advance(seconds=60)
    dispatcher.run_once()

    states = [row.state for row in deliveries(tracker)]
    assert states == [outbox.PARKED, outbox.PENDING]
    assert len(slack.calls("chat.postMessage")) == 1


# -- unknown outcomes: crashes and timeouts ----------------------------------


def test_crash_after_post_does_not_duplicate(tracker, slack, clock, monkeypatch):
    subscribe(tracker, GENERAL)
    client = make_client(slack)
    crash_after(client, "chat_postMessage")
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    tracker.track("bert", researcher="alice")

    with pytest.raises(Crash):
        first.run_once()

    assert deliveries(tracker)[0].state == outbox.SENDING
    clock.advance(seconds=LEASE.total_seconds() + 1)
    second = make_dispatcher(tracker, slack, clock, worker_id="second")
    drain(second, clock)
    assert_each_delivered_once(tracker, slack, [GENERAL])
    assert deliveries(tracker)[0].attempts == 2


def test_crash_after_post_keeps_card_anchor(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    client = make_client(slack)
    crash_after(client, "chat_postMessage")
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    record = tracker.track("bert", researcher="alice")
    with pytest.raises(Crash):
        first.run_once()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    second = make_dispatcher(tracker, slack, clock, worker_id="second")

    drain(second, clock)
    tracker.complete(record.id, {"accuracy": 0.9})
    drain(second, clock)

    card = slack.messages(GENERAL)
    assert len(card) == 1
    assert len(slack.replies(GENERAL, card[0].ts)) == 1


def test_reply_crash_does_not_duplicate(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")
    drain(make_dispatcher(tracker, slack, clock), clock)
    client = make_client(slack)
    crash_after(client, "chat_postMessage")
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    tracker.complete(record.id, {"accuracy": 0.9})
    with pytest.raises(Crash):
        first.run_once()
    clock.advance(seconds=LEASE.total_seconds() + 1)

    drain(make_dispatcher(tracker, slack, clock, worker_id="second"), clock)

    assert_each_delivered_once(tracker, slack, [GENERAL])
    assert slack.calls("conversations.replies", ok=True)


def test_crash_after_dm_does_not_duplicate(tracker, slack, clock):
    people.link_slack_user(tracker, "bob", "U0BOB")
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["bob"], actor="alice")
    client = make_client(slack)
    crash_after(client, "chat_postMessage")
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    with pytest.raises(Crash):
        first.run_once()
    clock.advance(seconds=LEASE.total_seconds() + 1)

    drain(make_dispatcher(tracker, slack, clock, worker_id="second"), clock)

    assert len(slack.messages(slack.dm_channel("U0BOB"))) == 1
    assert deliveries(tracker)[0].state == outbox.DELIVERED


def test_crash_before_post_still_delivers(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    client = make_client(slack)

    def crash_first(**arguments):
        raise Crash("before the call")

    client.chat_postMessage = crash_first
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    tracker.track("bert", researcher="alice")
    with pytest.raises(Crash):
        first.run_once()
    clock.advance(seconds=LEASE.total_seconds() + 1)

    drain(make_dispatcher(tracker, slack, clock, worker_id="second"), clock)

    assert_each_delivered_once(tracker, slack, [GENERAL])


def test_leased_delivery_waits_for_lease(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    client = make_client(slack)
    crash_after(client, "chat_postMessage")
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    tracker.track("bert", researcher="alice")
    with pytest.raises(Crash):
        first.run_once()
    second = make_dispatcher(tracker, slack, clock, worker_id="second")

    clock.advance(seconds=LEASE.total_seconds() - 5)
    second.run_once()

    assert len(slack.calls("chat.postMessage")) == 1
    assert not slack.calls("conversations.history")


def test_late_post_after_timeout_is_found(tracker, slack, clock, caplog):
    subscribe(tracker, GENERAL)
    client = make_client(slack, timeout=1)
    dispatcher = make_dispatcher(tracker, slack, clock, client=client)
    slack.inject("chat.postMessage", Fault.slow(1.5))
    tracker.track("bert", researcher="alice")

    with caplog.at_level(logging.INFO, logger="bot.dispatcher"):
        dispatcher.run_once()
        # Slack posts the message after the client gave up waiting.
        slack.wait_for_calls("chat.postMessage", timeout=5)
        clock.advance(seconds=5)
        drain(dispatcher, clock)

    assert_each_delivered_once(tracker, slack, [GENERAL])
    assert "already in Slack" in caplog.text


def test_history_outage_keeps_outcome_unknown(tracker, slack, clock):
    subscribe(tracker, GENERAL)
    client = make_client(slack)
    crash_after(client, "chat_postMessage")
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    tracker.track("bert", researcher="alice")
    with pytest.raises(Crash):
        first.run_once()
    clock.advance(seconds=LEASE.total_seconds() + 1)
    slack.inject("conversations.history", Fault.rate_limited(retry_after=3))
    second = make_dispatcher(tracker, slack, clock, worker_id="second")

    second.run_once()
    state_after_failed_check = deliveries(tracker)[0].state
    drain(second, clock)

    assert state_after_failed_check == outbox.SENDING
    assert_each_delivered_once(tracker, slack, [GENERAL])


# -- the background thread ---------------------------------------------------


def test_thread_picks_up_other_process_events(sqlite_url, slack):
    service_tracker = Tracker(sqlite_url)
    script_tracker = Tracker(sqlite_url)
    subscribe(service_tracker, GENERAL)
    dispatcher = Dispatcher(service_tracker, make_client(slack), poll_seconds=0.1)
    dispatcher.start()
    try:
        script_tracker.track("from-a-script", researcher="alice")
        calls = slack.wait_for_calls("chat.postMessage", timeout=5, ok=True)
    finally:
        dispatcher.stop()
        service_tracker.close()
        script_tracker.close()

    assert len(calls) == 1
    assert "from-a-script" in slack.messages(GENERAL)[0].text


def test_service_start_runs_dispatcher(sqlite_url, slack):
    tracker = Tracker(sqlite_url)
    subscribe(tracker, GENERAL)
    settings = Settings(bot_token=slack.bot_token, api_url=slack.api_url)
    app = SimpleNamespace(client=make_client(slack))

    service = start(app, settings, tracker)
    try:
        tracker.track("served", researcher="alice")
        calls = slack.wait_for_calls("chat.postMessage", timeout=5, ok=True)
    finally:
        service.stop()
        tracker.close()

    assert len(calls) == 1
    assert service.slack.client.retry_handlers == []
