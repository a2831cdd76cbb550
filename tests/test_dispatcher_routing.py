"""Routing a backlog in short transactions: id order, each event once.

Each test runs on SQLite and on PostgreSQL. The timer is fake and moves
by a fixed cost per routed event, so the time bounds are tested without
measuring real time.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot import routing
from tests.dispatcher_harness import GENERAL, ML_TEAM, deliveries, subscribe, unrouted
from tracker import models

EVENTS = 107
# What routing one event costs on the fake timer: about 1 ms, a power of
# two so that the fake times add up without rounding.
EVENT_SECONDS = 2.0**-10


class FakeTimer:
    """A timer that moves only when routing does work."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def timer(monkeypatch) -> FakeTimer:
    """A fake timer charged EVENT_SECONDS per routed event."""
    fake = FakeTimer()
    real = routing._route_chunk

    def costed(session, events, subscriptions, now):
        fake.now += EVENT_SECONDS * len(events)
        return real(session, events, subscriptions, now)

    monkeypatch.setattr(routing, "_route_chunk", costed)
    return fake


def transaction_sizes(monkeypatch) -> list[int]:
    """Record how many events each routing transaction routes."""
    sizes: list[int] = []
    real = routing._route_transaction

    def counted(*args, **kwargs):
        result = real(*args, **kwargs)
        sizes.append(result[0])
        return result

    monkeypatch.setattr(routing, "_route_transaction", counted)
    return sizes


def track_many(tracker, count: int) -> None:
    for number in range(count):
        tracker.track(f"run-{number}", researcher="alice", capture=False)


def event_ids(tracker) -> list[int]:
    with tracker.db.read() as session:
        return list(session.scalars(select(models.Event.id).order_by(models.Event.id)))


def test_backlog_routes_in_short_transactions(tracker, clock, timer, monkeypatch):
    subscribe(tracker, GENERAL)
    track_many(tracker, EVENTS)
    sizes = transaction_sizes(monkeypatch)
    pauses: list[float] = []

    routed = routing.route_events(
        tracker,
        now=clock.now,
        transaction_seconds=25 * EVENT_SECONDS,
        run_seconds=60,
        timer=timer,
        pause=pauses.append,
    )

    assert routed == EVENTS
    assert unrouted(tracker) == 0
    assert sum(sizes) == EVENTS
    assert max(sizes) == 25
    # The last transaction may find nothing left, after one that was full.
    assert 0 not in sizes[:-1]
    assert len(pauses) == len(sizes) - 1
    assert all(pause >= routing.MIN_PAUSE_SECONDS for pause in pauses)


def test_slow_events_route_one_at_a_time(tracker, clock, timer, monkeypatch):
    subscribe(tracker, GENERAL)
    track_many(tracker, 30)
    sizes = transaction_sizes(monkeypatch)

    routing.route_events(
        tracker,
        now=clock.now,
        transaction_seconds=EVENT_SECONDS / 2,
        timer=timer,
        pause=lambda seconds: None,
    )

    assert sizes[0] == routing.FIRST_CHUNK
    assert set(sizes[1:-1]) == {1}
    assert sum(sizes) == 30


def test_backlog_deliveries_follow_event_order(tracker, clock, timer):
    subscribe(tracker, GENERAL)
    subscribe(tracker, ML_TEAM)
    track_many(tracker, EVENTS)

    routing.route_events(
        tracker,
        now=clock.now,
        transaction_seconds=0,
        timer=timer,
        pause=lambda seconds: None,
    )

    rows = deliveries(tracker)
    assert len(rows) == 2 * EVENTS
    assert [row.event_id for row in rows] == sorted(row.event_id for row in rows)
    pairs = [(row.event_id, row.target) for row in rows]
    assert len(set(pairs)) == len(pairs)
    assert {row.event_id for row in rows} == set(event_ids(tracker))


def test_run_time_bound_leaves_rest_for_later(tracker, clock, timer):
    subscribe(tracker, GENERAL)
    track_many(tracker, EVENTS)

    first = routing.route_events(
        tracker,
        now=clock.now,
        transaction_seconds=0,
        run_seconds=0,
        timer=timer,
        pause=lambda seconds: None,
    )
    left_after_first = unrouted(tracker)
    # No time bound, so a slow machine cannot leave events for a third run.
    second = routing.route_events(
        tracker, now=clock.now, run_seconds=3600, pause=lambda seconds: None
    )

    assert first == routing.FIRST_CHUNK
    assert left_after_first == EVENTS - routing.FIRST_CHUNK
    assert second == EVENTS - routing.FIRST_CHUNK
    assert len(deliveries(tracker)) == EVENTS


def test_limit_caps_events_routed(tracker, clock):
    subscribe(tracker, GENERAL)
    track_many(tracker, 5)

    routed = routing.route_events(tracker, now=clock.now, limit=3)

    assert routed == 3
    assert unrouted(tracker) == 2
    assert [row.event_id for row in deliveries(tracker)] == event_ids(tracker)[:3]
