"""SQLAlchemy ORM models: the tracker's tables.

Every table lives in one metadata so that one Alembic history covers the
whole database, including the tables the bot uses to route notifications
(subscriptions, deliveries, schedules). Those tables hold channel ids and
message timestamps as plain strings; nothing here imports Slack code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

STATUSES = ("running", "completed", "failed", "cancelled")
FINISHED_STATUSES = ("completed", "failed", "cancelled")
VISIBILITIES = ("team", "private")
SOURCES = ("cli", "api", "nemo_run", "slack")
EVENT_KINDS = (
    "created",
    "completed",
    "failed",
    "cancelled",
    "shared",
    "noted",
    "threshold",
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    SQLite has no time zone type, so values are stored as naive UTC and
    given `UTC` back on load; PostgreSQL stores `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware one")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class Experiment(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    researcher: Mapped[str] = mapped_column(String(100))
    team: Mapped[str] = mapped_column(String(100), default="")
    project: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="running")
    visibility: Mapped[str] = mapped_column(String(16), default="team")
    source: Mapped[str] = mapped_column(String(16), default="api")
    created_at: Mapped[dt.datetime]
    started_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    # Seconds from started_at to ended_at, stored when the experiment ends
    # so that a team's mean and median duration read one index.
    # NOTE: a row that another tool ends without tracker.changes.finish has
    # no duration, and the summary and reports leave it out of durations.
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reproducibility: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Lower-cased name, description, notes and failure reason, kept for
    # free-text search.
    search_text: Mapped[str] = mapped_column(Text, default="")

    tags: Mapped[list[Tag]] = relationship(
        cascade="all, delete-orphan", order_by="Tag.tag"
    )
    metrics: Mapped[list[MetricSummary]] = relationship(
        cascade="all, delete-orphan", order_by="MetricSummary.key"
    )
    collaborators: Mapped[list[Collaborator]] = relationship(
        cascade="all, delete-orphan", order_by="Collaborator.added_at"
    )
    notes: Mapped[list[Note]] = relationship(
        cascade="all, delete-orphan", order_by="Note.id"
    )
    artifacts: Mapped[list[Artifact]] = relationship(
        cascade="all, delete-orphan", order_by="Artifact.id"
    )

    __table_args__ = (
        Index("ix_experiments_status_created", "status", "created_at"),
        Index("ix_experiments_team_created", "team", "created_at"),
        Index("ix_experiments_project_created", "project", "created_at"),
        Index("ix_experiments_researcher_created", "researcher", "created_at"),
        Index("ix_experiments_source_created", "source", "created_at"),
        Index("ix_experiments_created", "created_at"),
        Index("ix_experiments_ended", "ended_at"),
        # Reports count a team's experiments by the time they ended.
        Index("ix_experiments_team_ended", "team", "ended_at"),
        # The next three indexes contain every column that the team
        # summary's counts, joins and durations read, so those queries read
        # no table rows. Visibility and researcher serve the viewer's filter.
        Index(
            "ix_experiments_team_groups",
            "team",
            "project",
            "researcher",
            "status",
            "visibility",
        ),
        # Joins from a team's experiments to their tags and metrics, in id
        # order so that the lookups walk the other table's key in order.
        Index(
            "ix_experiments_team_id",
            "team",
            "id",
            "status",
            "visibility",
            "researcher",
        ),
        Index(
            "ix_experiments_team_duration",
            "team",
            "duration_seconds",
            "visibility",
            "researcher",
        ),
        # The latest completed experiments, a report's failures, and the
        # experiments running at a moment (status, no end, created before).
        Index(
            "ix_experiments_team_status_ended",
            "team",
            "status",
            "ended_at",
            "created_at",
        ),
        # A team's private experiments, which a viewer may not see: the
        # summary subtracts their tags and metric keys from the team's counts.
        # With researcher and id the lookup reads no table rows.
        Index(
            "ix_experiments_visibility_team",
            "visibility",
            "team",
            "researcher",
            "id",
        ),
    )


class Tag(Base):
    __tablename__ = "tags"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True)
    # A copy of the experiment's team, so that a team's tag counts read one
    # range of ix_tags_team_tag. No default: every insert must set it, and
    # Tracker.update changes it with the experiment's team.
    team: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_tags_tag", "tag", "experiment_id"),
        Index("ix_tags_team_tag", "team", "tag"),
    )


class MetricPoint(Base):
    """One logged value of a metric: the history behind the summary."""

    __tablename__ = "metric_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE")
    )
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int | None] = mapped_column(BigInteger)
    logged_at: Mapped[dt.datetime]

    __table_args__ = (
        Index("ix_metric_points_experiment_key", "experiment_id", "key", "step"),
    )


class MetricSummary(Base):
    """The latest value of each metric of an experiment."""

    __tablename__ = "metric_summaries"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    step: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime]
    # A copy of the experiment's team, kept as on `Tag.team`.
    team: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        Index("ix_metric_summaries_key_value", "key", "value"),
        Index("ix_metric_summaries_team_key", "team", "key"),
    )


class MetricDirection(Base):
    """Whether a larger or a smaller value of a metric is better.

    `team` is the empty string for the workspace-wide setting; a team's own
    row takes precedence over it.
    """

    __tablename__ = "metric_directions"

    team: Mapped[str] = mapped_column(String(100), primary_key=True, default="")
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    # A value that, once reached in the metric's direction, writes a
    # `threshold` event for the experiment.
    goal: Mapped[float | None] = mapped_column(Float)
    set_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime]


class ConfigVersion(Base):
    __tablename__ = "config_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE")
    )
    version: Mapped[int] = mapped_column(Integer)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    author: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("experiment_id", "version"),)


class ConfigParam(Base):
    """One leaf of the current config, flattened to a dotted key.

    Kept beside the JSON so that `config.lr=0.001` is an indexed lookup on
    every backend instead of JSON extraction over all rows.
    """

    __tablename__ = "config_params"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value_text: Mapped[str] = mapped_column(String(500))
    value_number: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        Index("ix_config_params_key_text", "key", "value_text"),
        Index("ix_config_params_key_number", "key", "value_number"),
    )


class Collaborator(Base):
    __tablename__ = "collaborators"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    handle: Mapped[str] = mapped_column(String(100), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(100), default="")
    added_at: Mapped[dt.datetime]

    __table_args__ = (Index("ix_collaborators_handle", "handle", "experiment_id"),)


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class Artifact(Base):
    __tablename__ = "artifacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    uri: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime]


class Person(Base):
    """A researcher, linked to a Slack user once known."""

    __tablename__ = "people"

    handle: Mapped[str] = mapped_column(String(100), primary_key=True)
    slack_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    email: Mapped[str | None] = mapped_column(String(320), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    team: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime]


class Event(Base):
    """An outbox row: a change someone may want to hear about.

    Written in the same transaction as the change it describes, so an
    event exists if and only if the change was committed. Delivery state
    lives in `deliveries`, one row per (event, target).
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime]
    # Set once the dispatcher has fanned the event out to its targets.
    routed_at: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_events_routed", "routed_at", "id"),)


class Subscription(Base):
    """A channel's standing search: which experiments and events it hears."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    query: Mapped[str] = mapped_column(Text, default="")
    event_kinds: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime]


class Delivery(Base):
    """One (event, target) message: the idempotency record of the outbox.

    `target` is a channel id or `dm:<handle>`, sized for the longest
    handle (100 characters) plus the prefix. The unique constraint is
    what makes a second dispatcher or a restart unable to post twice.
    """

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime]
    last_error: Mapped[str] = mapped_column(Text, default="")
    message_ts: Mapped[str | None] = mapped_column(String(32))
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("event_id", "target"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
    )


class ThreadAnchor(Base):
    """The card message that later events about an experiment reply to."""

    __tablename__ = "thread_anchors"

    experiment_id: Mapped[str] = mapped_column(
        ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True
    )
    channel_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    message_ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]


class Schedule(Base):
    """A recurring team report posted to a channel."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(32), index=True)
    team: Mapped[str] = mapped_column(String(100))
    cadence: Mapped[str] = mapped_column(String(8))
    day: Mapped[int] = mapped_column(Integer)
    hour: Mapped[int] = mapped_column(Integer, default=9)
    minute: Mapped[int] = mapped_column(Integer, default=0)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_by: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[dt.datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ReportDelivery(Base):
    """One posted report: (schedule, period) is delivered at most once."""

    __tablename__ = "report_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE")
    )
    period: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="claimed")
    message_ts: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime]
    # The latest claim; a claim older than the stale limit may be taken over.
    claimed_at: Mapped[dt.datetime]

    __table_args__ = (UniqueConstraint("schedule_id", "period"),)


class Lease(Base):
    """A named lease: the one process that may run the scheduler."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime]


class ProcessedRequest(Base):
    """A Slack request already acted on, so a retry does not act twice."""

    __tablename__ = "processed_requests"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(index=True)
