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
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
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

ROUTE_BATCH = 500
# Any constant works; it only has to differ from the other advisory locks.
_ROUTING_LOCK_KEY = 7146220816


def route_events(
    tracker: Tracker, *, now: dt.datetime, limit: int = ROUTE_BATCH
) -> int:
    """Create the deliveries of up to `limit` unrouted events; return how many.

    Returns 0 without waiting when another dispatcher is routing.
    """
    if not _has_unrouted(tracker):
        return 0
    with tracker.db.write() as session:
        if not _take_routing_lock(session):
            return 0
        events = session.scalars(
            select(models.Event)
            .where(models.Event.routed_at.is_(None))
            .order_by(models.Event.id)
            .limit(limit)
        ).all()
        if not events:
            return 0
        subscriptions = session.scalars(
            select(models.Subscription).order_by(models.Subscription.id)
        ).all()
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
        count = sum(len(found) for found in targets.values())
    logger.info("routed %d events to %d deliveries", len(events), count)
    return len(events)


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
