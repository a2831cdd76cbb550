"""The stored duration_seconds: set at every end, and backfilled by migration."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from tracker import Tracker, models
from tracker.db import alembic_config, current_revision, make_engine, upgrade
from tracker.nemo.records import finish as finish_from_nemo
from tracker.nemo.states import Outcome


def _stored_duration(tracker: Tracker, experiment_id: str) -> float | None:
    with tracker.db.read() as session:
        row = session.get(models.Experiment, experiment_id)
        assert row is not None
        return row.duration_seconds


@pytest.mark.parametrize("end", ["complete", "fail", "cancel"])
def test_duration_set_on_end(tracker, clock, end):
    record = tracker.track("run", researcher="alice")
    clock.advance(minutes=90, seconds=1.5)
    getattr(tracker, end)(record.id)

    assert _stored_duration(tracker, record.id) == 90 * 60 + 1.5


def test_duration_none_while_running(tracker):
    record = tracker.track("run", researcher="alice")

    assert _stored_duration(tracker, record.id) is None


@pytest.mark.parametrize("end", ["complete", "fail", "cancel"])
def test_duration_from_imported_times(tracker, clock, end):
    started = clock.now - dt.timedelta(days=3)
    ended = started + dt.timedelta(hours=5, microseconds=250)
    record = tracker.track("imported", researcher="alice", started_at=started)
    getattr(tracker, end)(record.id, ended_at=ended)

    assert _stored_duration(tracker, record.id) == 5 * 3600 + 0.00025


def test_duration_zero_when_end_precedes_start(tracker, clock):
    # An end time before the start is moved to the start.
    record = tracker.track("skewed", researcher="alice")
    tracker.complete(record.id, ended_at=clock.now - dt.timedelta(minutes=5))

    assert _stored_duration(tracker, record.id) == 0.0


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_duration_from_nemo_run(tracker, clock, status):
    started = clock.now - dt.timedelta(hours=2)
    record = tracker.track("nemo", researcher="alice", started_at=started)
    ended = started + dt.timedelta(minutes=45)

    finished = finish_from_nemo(tracker, record.id, Outcome(status, "task"), ended)

    assert finished
    assert _stored_duration(tracker, record.id) == 45 * 60


def _insert_at_0001(connection: sa.Connection, rows: list[dict]) -> None:
    experiments = sa.table(
        "experiments",
        *(
            sa.column(name)
            for name in (
                "id",
                "name",
                "description",
                "researcher",
                "team",
                "project",
                "status",
                "visibility",
                "source",
                "reason",
                "config",
                "config_version",
                "custom",
                "reproducibility",
                "search_text",
            )
        ),
        sa.column("created_at", models.UTCDateTime(timezone=True)),
        sa.column("started_at", models.UTCDateTime(timezone=True)),
        sa.column("ended_at", models.UTCDateTime(timezone=True)),
        sa.column("updated_at", models.UTCDateTime(timezone=True)),
    )
    defaults = {
        "description": "",
        "researcher": "alice",
        "team": "nlp",
        "project": "",
        "visibility": "team",
        "source": "api",
        "reason": "",
        "config": "{}",
        "config_version": 1,
        "custom": "{}",
        "reproducibility": "{}",
        "search_text": "",
    }
    connection.execute(experiments.insert(), [{**defaults, **row} for row in rows])


def test_migration_backfills_durations(database_url):
    engine = make_engine(database_url)
    start = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)
    rows = {
        "ended": (start, start + dt.timedelta(hours=2, seconds=0.125)),
        "running": (start, None),
        "no_start": (None, start),
        "skewed": (start, start - dt.timedelta(seconds=30)),
    }
    ids = {name: str(uuid.uuid4()) for name in rows}
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0001")
        _insert_at_0001(
            connection,
            [
                {
                    "id": ids[name],
                    "name": name,
                    "status": "running" if ended is None else "completed",
                    "created_at": start,
                    "started_at": started,
                    "ended_at": ended,
                    "updated_at": start,
                }
                for name, (started, ended) in rows.items()
            ],
        )

    upgrade(engine)

    with engine.connect() as connection:
        result = connection.execute(
            sa.text("SELECT name, duration_seconds FROM experiments")
        )
        stored = {name: seconds for name, seconds in result}
    assert stored["ended"] == 2 * 3600 + 0.125
    assert stored["running"] is None
    assert stored["no_start"] is None
    # Kept as recorded; the report leaves negative durations out.
    assert stored["skewed"] == -30.0
    engine.dispose()


def test_migration_downgrade_drops_column(database_url):
    engine = make_engine(database_url)
    upgrade(engine)

    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")

    assert current_revision(engine) == "0001"
    columns = {c["name"] for c in sa.inspect(engine).get_columns("experiments")}
    assert "duration_seconds" not in columns
    indexes = {i["name"] for i in sa.inspect(engine).get_indexes("experiments")}
    assert "ix_experiments_team_duration" not in indexes
    engine.dispose()
