"""The Alembic history creates exactly the schema the ORM models describe."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from tracker import Tracker
from tracker.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from tracker.models import Base, UTCDateTime


def test_migrations_match_models(database_url):
    engine = make_engine(database_url)
    upgrade(engine)

    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)

    assert differences == []
    engine.dispose()


def test_first_use_creates_schema(sqlite_url):
    tracker = Tracker(sqlite_url)

    assert current_revision(tracker.db.engine) == head_revision()
    assert "experiments" in inspect(tracker.db.engine).get_table_names()
    tracker.close()


def test_sqlite_uses_wal_and_foreign_keys(sqlite_url):
    tracker = Tracker(sqlite_url)

    with tracker.db.engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()

    assert journal == "wal"
    assert foreign_keys == 1
    assert timeout >= 1000
    tracker.close()


# Tables as they are at revision 0002, before tags and metric_summaries
# store a team. The models describe the newest schema, so they cannot
# write these rows.
_AT_0002 = sa.MetaData()
_EXPERIMENTS_0002 = sa.Table(
    "experiments",
    _AT_0002,
    *(
        sa.Column(name, sa.String)
        for name in (
            "id", "name", "description", "researcher", "team", "project",
            "status", "visibility", "source", "reason", "search_text",
        )
    ),
    *(
        sa.Column(name, UTCDateTime(timezone=True))
        for name in ("created_at", "updated_at")
    ),
    *(sa.Column(name, sa.JSON) for name in ("config", "custom", "reproducibility")),
    sa.Column("config_version", sa.Integer),
)  # fmt: skip
_TAGS_0002 = sa.Table(
    "tags", _AT_0002, sa.Column("experiment_id", sa.String), sa.Column("tag", sa.String)
)
_SUMMARIES_0002 = sa.Table(
    "metric_summaries",
    _AT_0002,
    sa.Column("experiment_id", sa.String),
    sa.Column("key", sa.String),
    sa.Column("value", sa.Float),
    sa.Column("updated_at", UTCDateTime(timezone=True)),
)


def _experiment_0002(identifier: str, team: str) -> dict[str, object]:
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    return {
        "id": identifier, "name": identifier, "description": "",
        "researcher": "alice", "team": team, "project": "", "status": "running",
        "visibility": "team", "source": "api", "reason": "", "search_text": "",
        "created_at": now, "updated_at": now, "config": {}, "custom": {},
        "reproducibility": {}, "config_version": 1,
    }  # fmt: skip


def test_upgrade_copies_team_to_tags_and_metrics(database_url):
    engine = make_engine(database_url)
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
        connection.execute(
            _EXPERIMENTS_0002.insert(),
            [_experiment_0002("e-nlp", "nlp"), _experiment_0002("e-cv", "vision")],
        )
        connection.execute(
            _TAGS_0002.insert(),
            [
                {"experiment_id": "e-nlp", "tag": "x"},
                {"experiment_id": "e-nlp", "tag": "y"},
                {"experiment_id": "e-cv", "tag": "x"},
            ],
        )
        connection.execute(
            _SUMMARIES_0002.insert().values(updated_at=now),
            [
                {"experiment_id": "e-nlp", "key": "loss", "value": 0.5},
                {"experiment_id": "e-cv", "key": "loss", "value": 0.4},
            ],
        )

    upgrade(engine)

    with engine.connect() as connection:
        tags = connection.execute(
            sa.text("SELECT experiment_id, tag, team FROM tags ORDER BY 1, 2")
        ).all()
        summaries = connection.execute(
            sa.text("SELECT experiment_id, key, team FROM metric_summaries ORDER BY 1")
        ).all()
    assert current_revision(engine) == head_revision()
    assert [tuple(row) for row in tags] == [
        ("e-cv", "x", "vision"),
        ("e-nlp", "x", "nlp"),
        ("e-nlp", "y", "nlp"),
    ]
    assert [tuple(row) for row in summaries] == [
        ("e-cv", "loss", "vision"),
        ("e-nlp", "loss", "nlp"),
    ]
    engine.dispose()


def test_team_copy_is_required(database_url):
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            _EXPERIMENTS_0002.insert(), [_experiment_0002("e-nlp", "nlp")]
        )

    # An insert without a team fails instead of storing a default.
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            _TAGS_0002.insert(), [{"experiment_id": "e-nlp", "tag": "x"}]
        )
    engine.dispose()


def test_downgrade_to_0002_drops_team_copies(database_url):
    engine = make_engine(database_url)
    upgrade(engine)

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0002")

    columns = {c["name"] for c in inspect(engine).get_columns("tags")}
    assert "team" not in columns
    assert current_revision(engine) == "0002"
    engine.dispose()
