"""Several dispatchers on one PostgreSQL database split the outbox's work.

Each test runs in its own schema (the `postgres_url` fixture), so it does
not see other tests' rows.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from bot import outbox, routing
from bot.dispatcher import Dispatcher
from tests.dispatcher_harness import (
    GENERAL,
    all_messages,
    deliveries,
    history_slack,
    make_client,
    marked,
    open_deliveries,
    subscribe,
    unrouted,
)
from tracker import Tracker, models

pytestmark = pytest.mark.postgres

EVENTS = 500


@pytest.fixture
def fast_postgres_url(postgres_url: str) -> str:
    """The test schema with commits that do not wait for the disk.

    The tests are about concurrency, not about surviving a server crash,
    and on a slow disk each commit would otherwise wait for an fsync.
    """
    return postgres_url + "%20-csynchronous_commit%3Doff"


def wait_until_done(tracker: Tracker, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not unrouted(tracker) and not open_deliveries(tracker):
            return
        time.sleep(0.1)
    raise AssertionError(
        f"{len(open_deliveries(tracker))} deliveries still open after {timeout} s"
    )


def counting_posts(dispatcher: Dispatcher) -> list[str]:
    """Record the channel of every post this dispatcher makes."""
    posts: list[str] = []
    original = dispatcher.slack.post

    def post(channel, **arguments):
        posts.append(channel)
        return original(channel, **arguments)

    dispatcher.slack.post = post  # type: ignore[method-assign]
    return posts


@pytest.mark.slow
def test_two_dispatchers_deliver_each_event_once(fast_postgres_url, monkeypatch):
    writer = Tracker(fast_postgres_url)
    subscribe(writer, GENERAL)
    replicas = [Tracker(fast_postgres_url) for _ in range(2)]
    with history_slack() as slack:
        dispatchers = [
            Dispatcher(
                replica,
                make_client(slack),
                worker_id=f"replica-{number}",
                post_interval=0,
                poll_seconds=0.05,
                # This test is about sharing the work, not about storms.
                rollup_threshold=EVENTS,
            )
            for number, replica in enumerate(replicas)
        ]
        posts = [counting_posts(dispatcher) for dispatcher in dispatchers]
        for dispatcher in dispatchers:
            dispatcher.start()
        try:
            for number in range(EVENTS):
                writer.track(f"run-{number}", researcher="alice", capture=False)
            wait_until_done(writer, timeout=120)
        finally:
            for dispatcher in dispatchers:
                dispatcher.stop()
        messages = all_messages(slack, GENERAL)

    rows = deliveries(writer)
    posted = Counter(i for message in messages for i in marked(message))
    assert len(rows) == EVENTS
    assert {row.state for row in rows} == {outbox.DELIVERED}
    assert len(messages) == EVENTS
    assert sorted(posted) == sorted(row.id for row in rows)
    assert set(posted.values()) == {1}
    assert all(len(made) > 0 for made in posts)
    for tracker in [writer, *replicas]:
        tracker.close()


def test_claim_skips_rows_locked_elsewhere(postgres_url):
    tracker = Tracker(postgres_url)
    subscribe(tracker, GENERAL)
    for number in range(2):
        tracker.track(f"run-{number}", researcher="alice", capture=False)
    now = tracker.clock()
    routing.route_events(tracker, now=now)
    first, second = [row.id for row in deliveries(tracker)]
    claimed: list[list[int]] = []

    with tracker.db.engine.connect() as other, other.begin():
        other.execute(
            select(models.Delivery.id)
            .where(models.Delivery.id == first)
            .with_for_update()
        )
        claimer = threading.Thread(
            target=lambda: claimed.append(
                [
                    d.id
                    for d in outbox.claim(
                        tracker.db,
                        [first, second],
                        worker="replica",
                        now=now,
                        lease=dt.timedelta(minutes=1),
                    )
                ]
            )
        )
        claimer.start()
        claimer.join(timeout=10)
        finished = not claimer.is_alive()

    claimer.join()
    tracker.close()
    assert finished
    assert claimed == [[second]]


def test_routing_waits_for_no_one(postgres_url):
    tracker = Tracker(postgres_url)
    subscribe(tracker, GENERAL)
    tracker.track("run", researcher="alice", capture=False)
    results: list[int] = []

    with tracker.db.write() as session:
        # Another dispatcher is routing: it holds the routing lock.
        assert routing._take_routing_lock(session)
        worker = threading.Thread(
            target=lambda: results.append(
                routing.route_events(tracker, now=tracker.clock())
            )
        )
        worker.start()
        worker.join(timeout=10)

    routed_later = routing.route_events(tracker, now=tracker.clock())
    tracker.close()
    assert results == [0]
    assert routed_later == 1
