"""Routing: fan each new outbox event out to the targets that should hear it.

An event goes to every channel with a subscription that was made before
the event, lists the event's kind and whose query matches the experiment
(evaluated in SQL when routing, so `accuracy>0.9` is tested against the
metrics that a `completed` event brought). Private experiments never go to channels.
A `shared` event also goes to each newly added collaborator as a DM.

Events are routed in id order by one dispatcher at a time: SQLite runs one
write transaction at a time, and on PostgreSQL a transaction-level advisory
lock keeps a second dispatcher out. That keeps delivery ids in event order
within each (experiment, target).

A backlog (after a bulk import, or downtime) is routed in short write
transactions with pauses between them. `/exp` commands run in the same
process and write to the same SQLite file, so a long routing transaction
would make them wait for the write lock and the GIL.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot import outbox
from tracker import models
from tracker.errors import InvalidQuery
from tracker.query import Query, parse
from tracker.search import compile_where

if TYPE_CHECKING:
    from tracker import Tracker

logger = logging.getLogger(__name__)

# Events in the first chunk of a routing run, before their cost is known.
FIRST_CHUNK = 10
MAX_CHUNK = 200
# A transaction takes no further chunk once it has run this long, and its
# chunks are sized from the last chunk's cost per event to end near it.
# A command then waits for the write lock about this long at most.
TRANSACTION_SECONDS = 0.025
# Routing time per dispatcher run; the run delivers after that.
RUN_SECONDS = 1.0
# Between transactions routing sleeps as long as the last one took, at
# least this long, so it holds the write lock at most about half the time.
MIN_PAUSE_SECONDS = 0.005
# Any constant works; it only has to differ from the other advisory locks.
_ROUTING_LOCK_KEY = 7146220816


@dataclass
class _ChunkSizer:
    """Sizes chunks so that a transaction ends near its time budget."""

    seconds_per_event: float | None = None

    def size(self, seconds_left: float) -> int:
        if self.seconds_per_event is None:
            return FIRST_CHUNK
        fits = int(seconds_left / self.seconds_per_event)
        return max(1, min(MAX_CHUNK, fits))

    def measured(self, events: int, seconds: float) -> None:
        if events:
            self.seconds_per_event = max(seconds, 1e-6) / events


def route_events(
    tracker: Tracker,
    *,
    now: dt.datetime,
    limit: int | None = None,
    run_seconds: float = RUN_SECONDS,
    transaction_seconds: float = TRANSACTION_SECONDS,
    timer: Callable[[], float] = time.monotonic,
    pause: Callable[[float], object] = time.sleep,
) -> int:
    """Create the deliveries of unrouted events, oldest first; return how many.

    Routes in transactions of about `transaction_seconds` until no event
    is left, `limit` events are routed or `run_seconds` have passed, and
    calls `pause` between transactions. Returns without waiting when
    another dispatcher is routing.
    """
    if not _has_unrouted(tracker):
        return 0
    started = timer()
    sizer = _ChunkSizer()
    routed = deliveries = transactions = 0
    while limit is None or routed < limit:
        room = None if limit is None else limit - routed
        began = timer()
        events, added, more = _route_transaction(
            tracker, now, room, _Budget(transaction_seconds, timer, sizer)
        )
        routed += events
        deliveries += added
        transactions += 1
        took = timer() - began
        if not more or timer() - started >= run_seconds:
            break
        pause(max(took, MIN_PAUSE_SECONDS))
    if routed:
        logger.info(
            "routed %d events to %d deliveries in %d transactions",
            routed,
            deliveries,
            transactions,
        )
    return routed


@dataclass
class _Budget:
    """The time one routing transaction may take, and how to size its chunks."""

    seconds: float
    timer: Callable[[], float]
    sizer: _ChunkSizer


def _route_transaction(
    tracker: Tracker, now: dt.datetime, limit: int | None, budget: _Budget
) -> tuple[int, int, bool]:
    """Route events in one write transaction until its budget or `limit` is used.

    Returns the numbers of events routed and deliveries added, and whether
    events may be left. Routes nothing when another dispatcher holds the
    routing lock.
    """
    started = budget.timer()
    routed = deliveries = 0
    more = False
    with tracker.db.write() as session:
        if not _take_routing_lock(session):
            return 0, 0, False
        subscriptions = session.scalars(
            select(models.Subscription).order_by(models.Subscription.id)
        ).all()
        after = 0
        while limit is None or routed < limit:
            chunk_started = budget.timer()
            size = budget.sizer.size(budget.seconds - (chunk_started - started))
            if limit is not None:
                size = min(size, limit - routed)
            events = session.scalars(
                select(models.Event)
                .where(models.Event.routed_at.is_(None), models.Event.id > after)
                .order_by(models.Event.id)
                .limit(size)
            ).all()
            if events:
                deliveries += _route_chunk(session, events, subscriptions, now)
                routed += len(events)
                budget.sizer.measured(len(events), budget.timer() - chunk_started)
            if len(events) < size:
                break
            after = events[-1].id
            if budget.timer() - started >= budget.seconds:
                more = True
                break
    return routed, deliveries, more


def _route_chunk(
    session: Session,
    events: Sequence[models.Event],
    subscriptions: Sequence[models.Subscription],
    now: dt.datetime,
) -> int:
    """Add the deliveries of `events`, mark them routed; return how many."""
    targets = _targets(session, events, subscriptions, now)
    for event in events:
        for target in targets.get(event.id, []):
            session.add(
                models.Delivery(
                    event_id=event.id,
                    target=target,
                    state=outbox.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    last_error="",
                )
            )
        event.routed_at = now
    # Written now, so that the chunk's measured cost includes the writes.
    session.flush()
    return sum(len(found) for found in targets.values())


def _has_unrouted(tracker: Tracker) -> bool:
    """Check with a read first, so an idle poll takes no SQLite write lock."""
    statement = select(models.Event.id).where(models.Event.routed_at.is_(None)).limit(1)
    with tracker.db.read() as session:
        return session.scalar(statement) is not None


def _take_routing_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.scalar(select(func.pg_try_advisory_xact_lock(_ROUTING_LOCK_KEY)))
    )


def _targets(
    session: Session,
    events: Sequence[models.Event],
    subscriptions: Sequence[models.Subscription],
    now: dt.datetime,
) -> dict[int, list[str]]:
    """Map event ids to their targets, channels first, without repeats."""
    visible = _team_visible(session, {event.experiment_id for event in events})
    targets: dict[int, dict[str, None]] = {event.id: {} for event in events}
    for subscription in subscriptions:
        query = _parsed(subscription)
        if query is None:
            continue
        kinds = set(subscription.event_kinds.split(","))
        heard = [
            event
            for event in events
            if event.kind in kinds
            and event.experiment_id in visible
            and event.created_at >= subscription.created_at
        ]
        matching = _matching(session, query, {e.experiment_id for e in heard}, now)
        for event in heard:
            if event.experiment_id in matching:
                targets[event.id][subscription.channel_id] = None
    for event in events:
        if event.kind == "shared":
            for handle in _added(event):
                targets[event.id][outbox.dm_target(handle)] = None
    return {event_id: list(found) for event_id, found in targets.items() if found}


def _parsed(subscription: models.Subscription) -> Query | None:
    try:
        return parse(subscription.query)
    except InvalidQuery as exc:
        # The query parsed when it was saved; a later grammar change broke it.
        logger.warning(
            "skipping subscription %s of channel %s: %s",
            subscription.id,
            subscription.channel_id,
            exc,
        )
        return None


def _team_visible(session: Session, experiment_ids: Iterable[str]) -> set[str]:
    rows = session.scalars(
        select(models.Experiment.id).where(
            models.Experiment.id.in_(list(experiment_ids)),
            models.Experiment.visibility != "private",
        )
    )
    return set(rows)


def _matching(
    session: Session, query: Query, experiment_ids: set[str], now: dt.datetime
) -> set[str]:
    """Return the experiments among `experiment_ids` that the query matches."""
    if not experiment_ids:
        return set()
    if query.where is None:
        return experiment_ids
    statement = select(models.Experiment.id).where(
        models.Experiment.id.in_(list(experiment_ids)),
        compile_where(query.where, now=now),
    )
    return set(session.scalars(statement))


def _added(event: models.Event) -> list[str]:
    return [str(handle) for handle in (event.payload or {}).get("added", [])]
