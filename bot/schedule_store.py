"""Report schedules and the delivery rows that make each report post once.

A `report_deliveries` row per (schedule, period) is claimed before
anything is sent. The claim is an insert that ignores a conflict on the
unique (schedule_id, period) key, in its own transaction: of two
processes that reach the same firing, one inserts and sends, and the
other finds the row and skips. The row's `state` then records the outcome:

    claimed         a process is sending it; after STALE_CLAIM it is
                    presumed dead and the row may be claimed again
    delivered       the message is posted (`error` notes missing charts)
    not_in_channel  the bot cannot post or upload there; the owner was
                    told, and the catch-up retries until the next firing
    failed          Slack refused for a reason that may pass; retried
    unknown         Slack may or may not have posted (a timeout or 5xx);
                    never retried, because a retry could post twice

`claimed_at` is the time of the latest claim, so the staleness of a
claim is measured from it; `created_at` stays the time of the first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.schedule_rules import ScheduleRecord
from tracker import models
from tracker.errors import InvalidInput, PermissionDenied, StorageError

if TYPE_CHECKING:
    from tracker import Tracker

CLAIMED = "claimed"
DELIVERED = "delivered"
NOT_IN_CHANNEL = "not_in_channel"
FAILED = "failed"
UNKNOWN = "unknown"
# Far longer than a report takes (a few seconds), so a live sender is
# never overtaken. Still, a crash delays a report by minutes only.
STALE_CLAIM = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Claim:
    """The right to send one (schedule, period) report, held by one process."""

    delivery_id: int
    schedule_id: int
    period: str
    # Set when an earlier attempt posted the message but not the charts.
    message_ts: str | None
    # Whether an earlier attempt already asked the owner to invite the bot.
    owner_notified: bool


# -- schedules ---------------------------------------------------------------


def save_schedule(
    tracker: Tracker,
    *,
    channel_id: str,
    team: str,
    cadence: str,
    day: int,
    hour: int,
    minute: int,
    timezone: str,
    created_by: str,
) -> tuple[ScheduleRecord, bool]:
    """Add a schedule, or change the channel's schedule for the same team
    and cadence. Returns the schedule and whether it is new.
    """
    now = tracker.clock()
    with tracker.db.write() as session:
        row = session.scalars(
            select(models.Schedule).where(
                models.Schedule.channel_id == channel_id,
                models.Schedule.team == team,
                models.Schedule.cadence == cadence,
                models.Schedule.active.is_(True),
            )
        ).first()
        created = row is None
        if row is None:
            row = models.Schedule(
                channel_id=channel_id,
                team=team,
                cadence=cadence,
                created_by=created_by,
                created_at=now,
                active=True,
            )
            session.add(row)
        row.day, row.hour, row.minute, row.timezone = day, hour, minute, timezone
        session.flush()
        return ScheduleRecord.from_model(row), created


def get_schedule(tracker: Tracker, schedule_id: int) -> ScheduleRecord | None:
    with tracker.db.read() as session:
        row = session.get(models.Schedule, schedule_id)
        return ScheduleRecord.from_model(row) if row is not None else None


def active_schedules(
    tracker: Tracker, channel_id: str | None = None
) -> list[ScheduleRecord]:
    statement = select(models.Schedule).where(models.Schedule.active.is_(True))
    if channel_id is not None:
        statement = statement.where(models.Schedule.channel_id == channel_id)
    with tracker.db.read() as session:
        rows = session.scalars(statement.order_by(models.Schedule.id)).all()
        return [ScheduleRecord.from_model(row) for row in rows]


def deactivate_schedule(
    tracker: Tracker,
    schedule_id: int,
    *,
    channel_id: str,
    user_id: str,
    is_admin: bool,
) -> ScheduleRecord:
    """Turn a schedule of this channel off; its owner or an admin may do so."""
    with tracker.db.write() as session:
        row = session.get(models.Schedule, schedule_id, with_for_update=True)
        if row is None or not row.active or row.channel_id != channel_id:
            raise InvalidInput(
                f"This channel has no report schedule {schedule_id}. List them "
                "with `/exp schedules`."
            )
        if row.created_by and row.created_by != user_id and not is_admin:
            raise PermissionDenied(
                f"Schedule {schedule_id} belongs to <@{row.created_by}>: ask them "
                "or an expbot admin to remove it."
            )
        row.active = False
        return ScheduleRecord.from_model(row)


# -- deliveries --------------------------------------------------------------


def claim_delivery(
    tracker: Tracker,
    schedule_id: int,
    period: str,
    *,
    retry_failed: bool,
    retry_not_in_channel: bool,
) -> Claim | None:
    """Claim the (schedule, period) report for this process, or return None.

    None means another process has a live claim, the report went out,
    its outcome is unknown, or its retries are over.
    """
    now = tracker.clock()
    with tracker.db.write() as session:
        if _insert_ignored(session, schedule_id, period, now):
            row = _delivery(session, schedule_id, period)
            return Claim(row.id, schedule_id, period, None, False)

        row = _delivery(session, schedule_id, period)
        if not _may_claim(row, now, retry_failed, retry_not_in_channel):
            return None
        owner_notified = row.state == NOT_IN_CHANNEL
        row.state = CLAIMED
        row.claimed_at = now
        return Claim(row.id, schedule_id, period, row.message_ts, owner_notified)


def record_posted(tracker: Tracker, claim: Claim, message_ts: str) -> None:
    """Store the message ts at once, so a retry uploads only the charts."""
    with tracker.db.write() as session:
        row = session.get(models.ReportDelivery, claim.delivery_id)
        if row is not None:
            row.message_ts = message_ts


def finish_delivery(
    tracker: Tracker,
    claim: Claim,
    state: str,
    *,
    message_ts: str | None = None,
    error: str = "",
) -> None:
    with tracker.db.write() as session:
        row = session.get(models.ReportDelivery, claim.delivery_id)
        if row is None:
            return
        row.state = state
        if message_ts is not None:
            row.message_ts = message_ts
        row.error = error[:2000]


def delivery_state(tracker: Tracker, schedule_id: int, period: str) -> str | None:
    with tracker.db.read() as session:
        return session.scalar(
            select(models.ReportDelivery.state).where(
                models.ReportDelivery.schedule_id == schedule_id,
                models.ReportDelivery.period == period,
            )
        )


def _insert_ignored(
    session: Session, schedule_id: int, period: str, now: dt.datetime
) -> bool:
    """Insert a claimed row unless one exists, and return whether it did."""
    values = {
        "schedule_id": schedule_id,
        "period": period,
        "state": CLAIMED,
        "error": "",
        "created_at": now,
        "claimed_at": now,
    }
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "sqlite":
        statement = sqlite.insert(models.ReportDelivery).on_conflict_do_nothing()
    elif dialect == "postgresql":
        statement = postgresql.insert(models.ReportDelivery).on_conflict_do_nothing()
    else:
        raise StorageError(
            f"Report deliveries need SQLite or PostgreSQL, not {dialect}: set "
            "EXPBOT_DATABASE_URL to one of them."
        )
    # RETURNING yields the row only when it was inserted; rowcount is -1
    # for this statement with psycopg, so it cannot tell.
    inserted = session.execute(
        statement.values(**values).returning(models.ReportDelivery.id)
    ).scalar_one_or_none()
    return inserted is not None


def _delivery(session: Session, schedule_id: int, period: str) -> models.ReportDelivery:
    row = session.scalars(
        select(models.ReportDelivery)
        .where(
            models.ReportDelivery.schedule_id == schedule_id,
            models.ReportDelivery.period == period,
        )
        .with_for_update()
    ).one()
    return row


def _may_claim(
    row: models.ReportDelivery,
    now: dt.datetime,
    retry_failed: bool,
    retry_not_in_channel: bool,
) -> bool:
    if row.state == CLAIMED:
        return now - row.claimed_at >= STALE_CLAIM
    if row.state == FAILED:
        return retry_failed
    if row.state == NOT_IN_CHANNEL:
        return retry_not_in_channel
    return False
