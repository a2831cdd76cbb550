"""Routing a backlog in short transactions: id order, each event once.

Each test runs on SQLite and on PostgreSQL. The timer is a counter, so
the time bounds are exercised without measuring real time.
"""

from __future__ import annotations

import itertools

from sqlalchemy import select

from bot import routing
from tests.dispatcher_harness import GENERAL, ML_TEAM, deliveries, subscribe, unrouted
from tracker import models

EVENTS = routing.ROUTE_CHUNK * 2 + 7


def step_timer(step: float = 0.01):
    """Return a timer that moves `step` seconds on every call."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


def track_many(tracker, count: int) -> None:
    for number in range(count):
        tracker.track(f"run-{number}", researcher="alice", capture=False)


def event_ids(tracker) -> list[int]:
    with tracker.db.read() as session:
        return list(session.scalars(select(models.Event.id).order_by(models.Event.id)))


def test_backlog_routes_in_short_transactions(tracker, clock):
    subscribe(tracker, GENERAL)
    track_many(tracker, EVENTS)
    pauses: list[float] = []

    routed = routing.route_events(
        tracker,
        now=clock.now,
        transaction_seconds=0,
        run_seconds=60,
        timer=step_timer(),
        pause=pauses.append,
    )

    assert routed == EVENTS
    assert unrouted(tracker) == 0
    # One chunk per transaction, and a pause after each that left events.
    assert len(pauses) == EVENTS // routing.ROUTE_CHUNK
    assert all(pause >= routing.MIN_PAUSE_SECONDS for pause in pauses)


def test_backlog_deliveries_follow_event_order(tracker, clock):
    subscribe(tracker, GENERAL)
    subscribe(tracker, ML_TEAM)
    track_many(tracker, EVENTS)

    routing.route_events(
        tracker,
        now=clock.now,
        transaction_seconds=0,
        timer=step_timer(),
        pause=lambda seconds: None,
    )

    rows = deliveries(tracker)
    assert len(rows) == 2 * EVENTS
    assert [row.event_id for row in rows] == sorted(row.event_id for row in rows)
    pairs = [(row.event_id, row.target) for row in rows]
    assert len(set(pairs)) == len(pairs)
    assert {row.event_id for row in rows} == set(event_ids(tracker))


def test_run_time_bound_leaves_rest_for_later(tracker, clock):
    subscribe(tracker, GENERAL)
    track_many(tracker, EVENTS)

    first = routing.route_events(
        tracker,
        now=clock.now,
        transaction_seconds=0,
        run_seconds=0,
        timer=step_timer(),
        pause=lambda seconds: None,
    )
    left_after_first = unrouted(tracker)
    second = routing.route_events(tracker, now=clock.now)

    assert first == routing.ROUTE_CHUNK
    assert left_after_first == EVENTS - routing.ROUTE_CHUNK
    assert second == EVENTS - routing.ROUTE_CHUNK
    assert len(deliveries(tracker)) == EVENTS


def test_limit_caps_events_routed(tracker, clock):
    subscribe(tracker, GENERAL)
    track_many(tracker, 5)

    routed = routing.route_events(tracker, now=clock.now, limit=3)

    assert routed == 3
    assert unrouted(tracker) == 2
    assert [row.event_id for row in deliveries(tracker)] == event_ids(tracker)[:3]
