"""`Tracker.search` records, directions and counts on SQLite and PostgreSQL.

The search builds records from plain rows instead of ORM objects, so
these tests hold it to what `ExperimentRecord.from_model` builds.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import FakeClock
from tracker import Tracker
from tracker.errors import InvalidInput, StorageError
from tracker.lookup import EAGER_OPTIONS, load_records
from tracker.models import Experiment
from tracker.records import ExperimentRecord


def full_experiment(tracker: Tracker, clock: FakeClock, name: str) -> str:
    """Record an experiment with rows in every related table."""
    record = tracker.track(
        name,
        description="every kind of related row",
        config={"lr": 0.001, "model": {"layers": 12}},
        # Upper case sorts before lower case in Python but not in every
        # collation, so these catch a sort left to the database.
        tags=["zeta", "Alpha", "beta", "_x"],
        team="nlp",
        project="mt",
        researcher="alice",
        collaborators=["zed", "Bob", "carol"],
        custom={"ticket": "ML-1"},
        capture=False,
    )
    clock.advance(minutes=1)
    tracker.log_metrics(record.id, {"val/loss": 0.4, "Accuracy": 0.8}, step=1)
    clock.advance(minutes=1)
    tracker.add_note(record.id, "second thoughts", author="zed")
    clock.advance(minutes=1)
    tracker.add_note(record.id, "first note written later", author="alice")
    tracker.add_artifacts(record.id, ["s3://bucket/z.ckpt", "s3://bucket/a.ckpt"])
    clock.advance(minutes=1)
    tracker.complete(
        record.id, {"bleu": 31.5, "accuracy": 0.1 + 0.2}, artifacts=["s3://b/c"]
    )
    return record.id


def orm_records(tracker: Tracker, ids: list[str]) -> list[ExperimentRecord]:
    with tracker.db.read() as session:
        rows = session.scalars(
            select(Experiment).where(Experiment.id.in_(ids)).options(*EAGER_OPTIONS)
        ).all()
        by_id = {row.id: ExperimentRecord.from_model(row) for row in rows}
    return [by_id[identifier] for identifier in ids]


def test_search_records_equal_orm_records(tracker: Tracker, clock: FakeClock) -> None:
    first = full_experiment(tracker, clock, "full one")
    clock.advance(hours=1)
    second = full_experiment(tracker, clock, "full two")
    clock.advance(hours=1)
    bare = tracker.track("bare", researcher="dave", capture=False).id
    clock.advance(hours=1)
    failed = tracker.track("failed", tags=["x"], capture=False).id
    tracker.fail(failed, "out of memory")

    found = tracker.search("")

    assert [record.id for record in found] == [failed, bare, second, first]
    assert found == orm_records(tracker, [failed, bare, second, first])
    assert [tracker.get(record.id) for record in found] == found


def test_search_record_children_in_model_order(
    tracker: Tracker, clock: FakeClock
) -> None:
    identifier = full_experiment(tracker, clock, "full")

    (record,) = tracker.search("full")

    assert record.tags == ("Alpha", "_x", "beta", "zeta")
    assert list(record.metrics) == ["Accuracy", "accuracy", "bleu", "val/loss"]
    assert record.collaborators == ("Bob", "carol", "zed")
    assert [note.text for note in record.notes] == [
        "second thoughts",
        "first note written later",
    ]
    assert record.artifacts == ("s3://bucket/z.ckpt", "s3://bucket/a.ckpt", "s3://b/c")
    assert record == tracker.get(identifier)


# Values that the raw column decoding in `load_records` could read
# differently from SQLAlchemy's result processing.
HOSTILE_CONFIGS = [
    {"nested": {"a": None, "b": [None, {"c": None}]}, "snow": "☃ \u2028"},
    {"tiny": 1e-300, "negative_zero": -0.0, "past_2_53": 2**53 + 1},
    {"text": "{}", "empty": {}},
    {"long": "x" * 100_000},
]


def test_search_records_survive_hostile_values(
    tracker: Tracker, clock: FakeClock
) -> None:
    new_york = ZoneInfo("America/New_York")
    # 01:30 happens twice in New York on 2026-11-01, and fold=1 picks the second.
    starts = [
        dt.datetime(2026, 11, 1, 1, 30, tzinfo=new_york),
        dt.datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=new_york),
        dt.datetime(2026, 3, 8, 6, 59, 59, 999999, tzinfo=dt.UTC),
        None,
    ]
    ids = []
    for index, config in enumerate(HOSTILE_CONFIGS):
        clock.advance(minutes=1)
        clock.now = clock.now.replace(microsecond=0).astimezone(new_york)
        record = tracker.track(
            f"hostile {index}",
            config=config,
            custom={"copy": config},
            started_at=starts[index],
            capture=False,
        )
        tracker.add_note(record.id, "at a whole second")
        clock.advance(microseconds=1)
        tracker.add_note(record.id, "one microsecond later")
        tracker.log_metrics(record.id, {"loss": 5e-324, "gain": -0.0})
        ids.append(record.id)
    tracker.complete(ids[0], {"big": 1.7976931348623157e308})

    found = tracker.search("", limit=200)
    times = [
        moment
        for record in found
        for moment in (record.created_at, record.started_at, record.ended_at)
        if moment is not None
    ]

    assert found == orm_records(tracker, [record.id for record in found])
    assert sorted(record.id for record in found) == sorted(ids)
    assert {moment.tzinfo for moment in times} == {dt.UTC}
    assert [record.config for record in reversed(found)] == HOSTILE_CONFIGS


def test_load_records_keeps_order_skips_missing(
    tracker: Tracker, clock: FakeClock
) -> None:
    first = tracker.track("one", capture=False).id
    second = tracker.track("two", capture=False).id
    missing = "00000000-0000-4000-8000-000000000000"

    with tracker.db.read() as session:
        connection = session.connection()
        records = load_records(connection, [second, missing, first])
        empty = load_records(connection, [])

    assert [record.id for record in records] == [second, first]
    assert empty == []


def test_search_sees_direction_set_elsewhere(
    database_url: str, clock: FakeClock
) -> None:
    searcher = Tracker(database_url, clock=clock)
    other = Tracker(database_url, clock=clock)
    try:
        low = searcher.track("low", capture=False).id
        searcher.complete(low, {"score": 0.1})
        high = searcher.track("high", capture=False).id
        searcher.complete(high, {"score": 0.9})
        before = [r.id for r in searcher.search("sort:score")]

        # The clock does not move, so the two settings differ only in the
        # direction itself, not in their updated_at.
        other.set_metric_direction("score", "min")
        after = [r.id for r in searcher.search("sort:score")]
        other.set_metric_direction("score", "max")
        restored = [r.id for r in searcher.search("sort:score")]
    finally:
        searcher.close()
        other.close()

    assert before == [high, low]
    assert after == [low, high]
    assert restored == [high, low]


def test_search_ignores_team_direction(tracker: Tracker) -> None:
    low = tracker.track("low", team="nlp", capture=False).id
    tracker.complete(low, {"score": 0.1})
    high = tracker.track("high", team="nlp", capture=False).id
    tracker.complete(high, {"score": 0.9})

    tracker.set_metric_direction("score", "min", team="nlp")

    assert [r.id for r in tracker.search("sort:score")] == [high, low]


def test_count_stops_at_limit(tracker: Tracker) -> None:
    for index in range(5):
        tracker.track(f"run {index}", tags=["sweep"], capture=False)
    tracker.track("other", capture=False)

    assert tracker.count("tag:sweep") == 5
    assert tracker.count("tag:sweep", limit=3) == 3
    assert tracker.count("tag:sweep", limit=5) == 5
    assert tracker.count("tag:sweep", limit=100) == 5
    assert tracker.count("tag:sweep sort:score", limit=4) == 4
    assert tracker.count("tag:none", limit=3) == 0


@pytest.mark.parametrize("query", ["", "sort:score", "sort:-created"])
def test_count_without_a_filter_counts_every_experiment(
    tracker: Tracker, query: str
) -> None:
    for index in range(3):
        tracker.track(f"run {index}", capture=False)

    assert tracker.count(query) == 3
    assert tracker.count(query, limit=2) == 2


@pytest.mark.parametrize("limit", [0, -1, 2.5, "10", True])
def test_count_rejects_invalid_limit(tracker: Tracker, limit: object) -> None:
    with pytest.raises(InvalidInput, match="Invalid count limit"):
        tracker.count("", limit=limit)  # type: ignore[arg-type]


def test_leaderboard_records_equal_orm_records(
    tracker: Tracker, clock: FakeClock
) -> None:
    first = full_experiment(tracker, clock, "full one")
    clock.advance(hours=1)
    second = full_experiment(tracker, clock, "full two")
    tracker.set_metric_direction("bleu", "min")

    entries = tracker.leaderboard("accuracy")

    assert [entry.rank for entry in entries] == [1, 2]
    assert [entry.value for entry in entries] == [0.1 + 0.2, 0.1 + 0.2]
    # Equal values rank by id.
    assert [entry.experiment for entry in entries] == orm_records(
        tracker, sorted([first, second])
    )


def test_search_database_error_is_storage_error(sqlite_tracker: Tracker) -> None:
    sqlite_tracker.track("orphaned", capture=False)
    with sqlite_tracker.db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE artifacts")

    with pytest.raises(StorageError, match="no such table: artifacts"):
        sqlite_tracker.search("orphaned")
