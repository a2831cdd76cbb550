"""store the experiment's team on tags and metric_summaries

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 21:00:00.000000

The team summary counts a team's tags and metric keys. With the team
copied onto each row, an index on (team, tag) or (team, key) holds one
range per team, so the counts read that range instead of joining each of
the team's experiments to its rows.

The column is added as nullable, filled with one UPDATE per table, and
then made NOT NULL. On SQLite that last step rebuilds the table (batch
mode), because SQLite cannot add a NOT NULL column without a default,
and a default would hide a write path that forgets the team.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (table, index name, indexed columns)
TEAM_COPIES: tuple[tuple[str, str, list[str]], ...] = (
    ("tags", "ix_tags_team_tag", ["team", "tag"]),
    ("metric_summaries", "ix_metric_summaries_team_key", ["team", "key"]),
)
PRIVATE_INDEX = "ix_experiments_visibility_team"
PRIVATE_COLUMNS = ["visibility", "team", "researcher", "id"]


def upgrade() -> None:
    for table, index, columns in TEAM_COPIES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("team", sa.String(100), nullable=True))
        copy_team(op.get_bind(), table)
        # The index is built after the backfill, so it updates no index entry.
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("team", existing_type=sa.String(100), nullable=False)
            batch_op.create_index(index, columns, unique=False)
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.create_index(PRIVATE_INDEX, PRIVATE_COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("experiments", schema=None) as batch_op:
        batch_op.drop_index(PRIVATE_INDEX)
    for table, index, _ in reversed(TEAM_COPIES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(index)
            batch_op.drop_column("team")


def copy_team(connection: sa.Connection, table: str) -> None:
    """Set `team` on every row of `table` from its experiment, in one UPDATE."""
    experiments = sa.table(
        "experiments", sa.column("id", sa.String(36)), sa.column("team", sa.String)
    )
    rows = sa.table(
        table, sa.column("experiment_id", sa.String(36)), sa.column("team", sa.String)
    )
    team_of_experiment = (
        sa.select(experiments.c.team)
        .where(experiments.c.id == rows.c.experiment_id)
        .scalar_subquery()
    )
    connection.execute(rows.update().values(team=team_of_experiment))
