"""add experiments.duration_seconds and the team summary's indexes

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04 18:30:00.000000

The backfill computes each ended experiment's duration in Python, as
`tracker.changes.finish` does, so that the stored value is exact to the
microsecond on every backend. SQLite's julianday() arithmetic would be
off in the fifth decimal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import tracker.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKFILL_BATCH = 2000

INDEXES: tuple[tuple[str, list[str]], ...] = (
    (
        "ix_experiments_team_groups",
        ["team", "project", "researcher", "status", "visibility"],
    ),
    ("ix_experiments_team_id", ["team", "id", "status", "visibility", "researcher"]),
    (
        "ix_experiments_team_duration",
        ["team", "duration_seconds", "visibility", "researcher"],
    ),
    (
        "ix_experiments_team_status_ended",
        ["team", "status", "ended_at", "created_at"],
    ),
)


def upgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("duration_seconds", sa.Float(), nullable=True))
    backfill_durations(op.get_bind())
    # The indexes are built after the backfill, so it updates no index entry.
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        for name, columns in INDEXES:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        for name, _ in reversed(INDEXES):
            batch_op.drop_index(name)
        batch_op.drop_column("duration_seconds")


def backfill_durations(connection: sa.Connection) -> None:
    """Set duration_seconds on every experiment that has a start and an end."""
    experiments = sa.table(
        "experiments",
        sa.column("id", sa.String(36)),
        sa.column("started_at", tracker.models.UTCDateTime(timezone=True)),
        sa.column("ended_at", tracker.models.UTCDateTime(timezone=True)),
        sa.column("duration_seconds", sa.Float()),
    )
    rows = connection.execute(
        sa.select(experiments.c.id, experiments.c.started_at, experiments.c.ended_at)
        .where(
            experiments.c.started_at.is_not(None),
            experiments.c.ended_at.is_not(None),
        )
        .order_by(experiments.c.id)
    ).all()
    update = (
        experiments.update()
        .where(experiments.c.id == sa.bindparam("row_id"))
        .values(duration_seconds=sa.bindparam("seconds"))
    )
    for first in range(0, len(rows), BACKFILL_BATCH):
        batch = rows[first : first + BACKFILL_BATCH]
        connection.execute(
            update,
            [
                {"row_id": row_id, "seconds": (ended - started).total_seconds()}
                for row_id, started, ended in batch
            ],
        )
