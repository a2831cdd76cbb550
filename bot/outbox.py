"""The delivery side of the outbox: claiming, leasing and recording deliveries.

A delivery is one (event, target) message, where the target is a channel
id or `dm:<researcher handle>`. Its `state` moves through:

    pending    never posted, or Slack rejected the last attempt outright
    sending    an attempt is under way, or its outcome is unknown (a crash,
               a timeout, a 5xx): the next attempt first looks in Slack for
               the message before it posts again
    delivered  Slack accepted it (`message_ts` is the message)
    parked     it failed for good; `expbot outbox retry ID` requeues it
    dropped    an operator gave up on it with `expbot outbox drop ID`

A dispatcher claims deliveries with a lease (`claimed_by`, `claimed_until`).
Every write that follows a claim checks `claimed_by`, so a dispatcher whose
lease ran out and was taken over cannot start another attempt. Deliveries
of one experiment to one target go out in event order: only the earliest
open one of each such thread is claimable, so the card is posted before
the replies in its thread.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tracker import models
from tracker.db import Database
from tracker.errors import InvalidInput

logger = logging.getLogger(__name__)

PENDING = "pending"
SENDING = "sending"
DELIVERED = "delivered"
PARKED = "parked"
DROPPED = "dropped"
OPEN_STATES = (PENDING, SENDING)
STATES = (PENDING, SENDING, DELIVERED, PARKED, DROPPED)

DM_PREFIX = "dm:"
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class Candidate:
    """A delivery that may be claimed now: the first open one of its thread."""

    id: int
    target: str
    kind: str
    state: str


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to this dispatcher, with its event."""

    id: int
    target: str
    state: str
    attempts: int
    event_id: int
    kind: str
    experiment_id: str
    actor: str
    payload: dict[str, Any]
    event_created_at: dt.datetime

    @property
    def is_dm(self) -> bool:
        return self.target.startswith(DM_PREFIX)

    @property
    def outcome_unknown(self) -> bool:
        """Whether an earlier attempt may have reached Slack unrecorded."""
        return self.state == SENDING


def dm_target(handle: str) -> str:
    return DM_PREFIX + handle


def candidates(db: Database, *, now: dt.datetime, window: int) -> list[Candidate]:
    """Return the claimable deliveries among the `window` oldest open ones.

    Open deliveries are read in event order. The first one seen for each
    (experiment, target) is the earliest of its thread; it is a candidate
    when it is due and not leased. Later ones wait for it.
    """
    statement = (
        select(
            models.Delivery.id,
            models.Delivery.target,
            models.Delivery.state,
            models.Delivery.next_attempt_at,
            models.Delivery.claimed_until,
            models.Event.kind,
            models.Event.experiment_id,
        )
        .join(models.Event, models.Event.id == models.Delivery.event_id)
        .where(models.Delivery.state.in_(OPEN_STATES))
        .order_by(models.Delivery.event_id, models.Delivery.id)
        .limit(window)
    )
    with db.read() as session:
        rows = session.execute(statement).all()

    seen: set[tuple[str, str]] = set()
    found: list[Candidate] = []
    for row in rows:
        thread = (row.experiment_id, row.target)
        if thread in seen:
            continue
        seen.add(thread)
        leased = row.claimed_until is not None and row.claimed_until > now
        if row.next_attempt_at <= now and not leased:
            found.append(Candidate(row.id, row.target, row.kind, row.state))
    return found


def claim(
    db: Database,
    ids: Sequence[int],
    *,
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> list[ClaimedDelivery]:
    """Lease the given deliveries to `worker`, skipping any taken meanwhile.

    On PostgreSQL, `FOR UPDATE SKIP LOCKED` lets several dispatchers claim
    at once without waiting on each other's rows; SQLite runs one write
    transaction at a time, so there the re-check alone is enough.
    """
    if not ids:
        return []
    statement = (
        select(models.Delivery, models.Event)
        .join(models.Event, models.Event.id == models.Delivery.event_id)
        .where(
            models.Delivery.id.in_(list(ids)),
            models.Delivery.state.in_(OPEN_STATES),
            models.Delivery.next_attempt_at <= now,
            or_(
                models.Delivery.claimed_until.is_(None),
                models.Delivery.claimed_until <= now,
            ),
        )
        .order_by(models.Delivery.id)
        .with_for_update(of=models.Delivery, skip_locked=True)
    )
    claimed: list[ClaimedDelivery] = []
    with db.write() as session:
        for delivery, event in session.execute(statement):
            delivery.claimed_by = worker
            delivery.claimed_until = now + lease
            claimed.append(_claimed(delivery, event))
    return claimed


def begin_attempt(
    db: Database,
    delivery_ids: Sequence[int],
    *,
    worker: str,
    now: dt.datetime,
    lease: dt.timedelta,
) -> list[int]:
    """Record that an attempt starts; return the ids whose claim still holds.

    The state becomes `sending` before any Slack call, so a crash during
    the call leaves a row that the next claimer must check in Slack first.
    """
    statement = (
        update(models.Delivery)
        .where(
            models.Delivery.id.in_(list(delivery_ids)),
            models.Delivery.claimed_by == worker,
            models.Delivery.state.in_(OPEN_STATES),
        )
        .values(
            state=SENDING,
            attempts=models.Delivery.attempts + 1,
            claimed_until=now + lease,
            next_attempt_at=now,
        )
        .returning(models.Delivery.id)
    )
    with db.write() as session:
        return sorted(session.scalars(statement))


def record_delivered(
    db: Database,
    delivery_ids: Iterable[int],
    *,
    now: dt.datetime,
    message_ts: str,
    anchor: tuple[str, str] | None = None,
) -> None:
    """Mark deliveries delivered by the message `message_ts`.

    `anchor` is (experiment id, channel id) when the message is a card
    that later events of the experiment reply to. Slack has accepted the
    message, so this applies even if the lease ran out meanwhile.
    """
    ids = list(delivery_ids)
    statement = (
        update(models.Delivery)
        .where(models.Delivery.id.in_(ids), models.Delivery.state != DELIVERED)
        .values(
            state=DELIVERED,
            message_ts=message_ts,
            delivered_at=now,
            last_error="",
            claimed_by=None,
            claimed_until=None,
        )
    )
    with db.write() as session:
        session.execute(statement)
        if anchor is not None:
            _store_anchor(session, anchor[0], anchor[1], message_ts, now)


def record_retry(
    db: Database,
    delivery_ids: Sequence[int],
    *,
    worker: str,
    retry_at: dt.datetime,
    error: str,
    outcome_unknown: bool,
) -> None:
    """Release deliveries to be tried again at `retry_at`."""
    state = SENDING if outcome_unknown else PENDING
    _finish_attempt(
        db, delivery_ids, worker, state=state, next_attempt_at=retry_at, error=error
    )


def record_parked(
    db: Database, delivery_ids: Sequence[int], *, worker: str, error: str
) -> None:
    _finish_attempt(db, delivery_ids, worker, state=PARKED, error=error)


def record_skipped(
    db: Database, delivery_ids: Sequence[int], *, worker: str, reason: str
) -> None:
    """Close deliveries that must not be sent, e.g. of a now private experiment."""
    _finish_attempt(db, delivery_ids, worker, state=DROPPED, error=reason)


def release(
    db: Database,
    delivery_ids: Iterable[int],
    *,
    worker: str,
    not_before: dt.datetime | None = None,
) -> None:
    """Give back claims not attempted, due again at `not_before` if given."""
    ids = list(delivery_ids)
    if not ids:
        return
    values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
    if not_before is not None:
        values["next_attempt_at"] = not_before
    statement = (
        update(models.Delivery)
        .where(models.Delivery.id.in_(ids), models.Delivery.claimed_by == worker)
        .values(**values)
    )
    with db.write() as session:
        session.execute(statement)


def anchor_for(db: Database, experiment_id: str, channel_id: str) -> str | None:
    """Return the ts of the experiment's card in the channel, if posted."""
    with db.read() as session:
        row = session.get(models.ThreadAnchor, (experiment_id, channel_id))
        return row.message_ts if row is not None else None


def drop_anchor(db: Database, experiment_id: str, channel_id: str) -> None:
    with db.write() as session:
        row = session.get(models.ThreadAnchor, (experiment_id, channel_id))
        if row is not None:
            session.delete(row)


# -- operator commands ---------------------------------------------------


@dataclass(frozen=True)
class DeliveryRow:
    """A delivery as `expbot outbox` shows it."""

    id: int
    event_id: int
    kind: str
    experiment_id: str
    target: str
    state: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str
    claimed_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "kind": self.kind,
            "experiment_id": self.experiment_id,
            "target": self.target,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt_at": self.next_attempt_at.isoformat(),
            "last_error": self.last_error,
            "claimed_by": self.claimed_by,
        }


def list_deliveries(
    db: Database, states: Sequence[str] = (PENDING, SENDING, PARKED), limit: int = 200
) -> list[DeliveryRow]:
    statement = (
        select(models.Delivery, models.Event)
        .join(models.Event, models.Event.id == models.Delivery.event_id)
        .where(models.Delivery.state.in_(list(states)))
        .order_by(models.Delivery.id)
        .limit(limit)
    )
    with db.read() as session:
        return [
            DeliveryRow(
                id=delivery.id,
                event_id=event.id,
                kind=event.kind,
                experiment_id=event.experiment_id,
                target=delivery.target,
                state=delivery.state,
                attempts=delivery.attempts,
                next_attempt_at=delivery.next_attempt_at,
                last_error=delivery.last_error,
                claimed_by=delivery.claimed_by,
            )
            for delivery, event in session.execute(statement)
        ]


def requeue(
    db: Database, delivery_ids: Sequence[int], *, now: dt.datetime
) -> dict[int, str]:
    """Make parked or waiting deliveries due now; return their new states.

    A delivery that was attempted before comes back as `sending`, so the
    dispatcher checks Slack for an earlier copy before it posts again.
    Nothing changes unless every id can be requeued.
    """
    states: dict[int, str] = {}
    with db.write() as session:
        for delivery_id in delivery_ids:
            row = _operator_target(session, delivery_id, "retry")
            row.state = SENDING if row.attempts > 0 else PENDING
            row.attempts = 0
            row.next_attempt_at = now
            row.claimed_by = None
            row.claimed_until = None
            states[delivery_id] = row.state
    return states


def drop(db: Database, delivery_ids: Sequence[int]) -> None:
    """Mark deliveries dropped so that no dispatcher tries them again.

    Nothing changes unless every id can be dropped.
    """
    with db.write() as session:
        for delivery_id in delivery_ids:
            row = _operator_target(session, delivery_id, "drop")
            row.state = DROPPED
            row.claimed_by = None
            row.claimed_until = None


# -- internals -------------------------------------------------------------


def _claimed(delivery: models.Delivery, event: models.Event) -> ClaimedDelivery:
    return ClaimedDelivery(
        id=delivery.id,
        target=delivery.target,
        state=delivery.state,
        attempts=delivery.attempts,
        event_id=event.id,
        kind=event.kind,
        experiment_id=event.experiment_id,
        actor=event.actor,
        payload=dict(event.payload or {}),
        event_created_at=event.created_at,
    )


def _finish_attempt(
    db: Database,
    delivery_ids: Sequence[int],
    worker: str,
    *,
    state: str,
    error: str,
    next_attempt_at: dt.datetime | None = None,
) -> None:
    values: dict[str, Any] = {
        "state": state,
        "last_error": error[:MAX_ERROR_CHARS],
        "claimed_by": None,
        "claimed_until": None,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    ids = list(delivery_ids)
    statement = (
        update(models.Delivery)
        .where(
            models.Delivery.id.in_(ids),
            models.Delivery.claimed_by == worker,
            models.Delivery.state.in_(OPEN_STATES),
        )
        .values(**values)
    )
    with db.write() as session:
        changed = _rowcount(session, statement)
    if changed < len(ids):
        logger.warning(
            "%d of deliveries %s were taken over before their %s outcome was recorded",
            len(ids) - changed,
            ids,
            state,
        )


def _rowcount(session: Session, statement: Any) -> int:
    result: Any = session.execute(statement)
    return int(result.rowcount)


def _store_anchor(
    session: Session, experiment_id: str, channel_id: str, ts: str, now: dt.datetime
) -> None:
    row = session.get(models.ThreadAnchor, (experiment_id, channel_id))
    if row is None:
        session.add(
            models.ThreadAnchor(
                experiment_id=experiment_id,
                channel_id=channel_id,
                message_ts=ts,
                created_at=now,
            )
        )
    else:
        row.message_ts = ts


def _operator_target(
    session: Session, delivery_id: int, action: str
) -> models.Delivery:
    row = session.get(models.Delivery, delivery_id, with_for_update=True)
    if row is None:
        raise InvalidInput(
            f"No delivery {delivery_id}. List them with `expbot outbox list`."
        )
    if row.state == DELIVERED:
        raise InvalidInput(
            f"Delivery {delivery_id} was already delivered; nothing to {action}."
        )
    return row
