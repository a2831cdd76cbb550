"""The Alembic history creates exactly the schema the ORM models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tracker import Tracker
from tracker.db import current_revision, head_revision, make_engine, upgrade
from tracker.models import Base


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
