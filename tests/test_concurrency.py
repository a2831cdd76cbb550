"""Many processes changing shared experiments at once lose nothing."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import func, select

from tracker import Tracker, models

PROCESSES = 8
CHANGES = 200
# Steps each worker logs to the one shared metric.
SHARED_STEPS = 60


def make_changes(url: str, experiment_ids: list[str], worker: int) -> None:
    """Make CHANGES changes, cycling metric, note and share on each experiment."""
    tracker = Tracker(url)
    for index in range(CHANGES):
        experiment_id = experiment_ids[index % len(experiment_ids)]
        kind = index % 3
        if kind == 0:
            tracker.log_metrics(experiment_id, {f"w{worker}": index}, step=index)
        elif kind == 1:
            tracker.add_note(experiment_id, f"worker {worker} change {index}")
        else:
            tracker.share(experiment_id, [f"user{worker}-{index}"])
    tracker.close()


def run_workers(url: str, experiment_ids: list[str]) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=make_changes, args=(url, experiment_ids, worker))
        for worker in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)
    assert [w.exitcode for w in workers] == [0] * PROCESSES


def count(tracker: Tracker, statement) -> int:
    with tracker.db.read() as session:
        return int(session.scalar(statement))


@pytest.mark.slow
def test_parallel_changes_lose_nothing(database_url):
    tracker = Tracker(database_url)
    experiment_ids = [
        tracker.track(f"shared{i}", researcher="lead").id for i in range(4)
    ]

    run_workers(database_url, experiment_ids)

    # Each worker's changes split evenly over metric (index % 3 == 0),
    # note (== 1) and share (== 2): 67, 67 and 66 of 200.
    metrics, notes, shares = 67, 67, 66
    assert count(tracker, select(func.count()).select_from(models.MetricPoint)) == (
        PROCESSES * metrics
    )
    assert count(tracker, select(func.count()).select_from(models.Note)) == (
        PROCESSES * notes
    )
    assert count(tracker, select(func.count()).select_from(models.Collaborator)) == (
        PROCESSES * shares
    )
    events = select(func.count()).select_from(models.Event)
    noted = events.where(models.Event.kind == "noted")
    shared = events.where(models.Event.kind == "shared")
    assert count(tracker, noted) == PROCESSES * notes
    assert count(tracker, shared) == PROCESSES * shares
    summaries = select(func.count()).select_from(models.MetricSummary)
    assert count(tracker, summaries) == PROCESSES * len(experiment_ids)
    # Each worker logs its metric at rising steps, so every summary is the
    # worker's last metric change on that experiment.
    for position, experiment_id in enumerate(experiment_ids):
        last = max(
            i
            for i in range(CHANGES)
            if i % 3 == 0 and i % len(experiment_ids) == position
        )
        expected = {f"w{worker}": float(last) for worker in range(PROCESSES)}
        assert tracker.get(experiment_id).metrics == expected
    tracker.close()


def log_interleaved_steps(url: str, experiment_id: str, worker: int) -> None:
    """Log one shared metric at steps worker, worker + PROCESSES, ..."""
    tracker = Tracker(url)
    for index in range(SHARED_STEPS):
        step = index * PROCESSES + worker
        tracker.log_metrics(experiment_id, {"shared": float(step)}, step=step)
    tracker.close()


@pytest.mark.slow
def test_parallel_steps_never_regress_summary(database_url):
    tracker = Tracker(database_url)
    experiment_id = tracker.track("shared", researcher="lead").id
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=log_interleaved_steps, args=(database_url, experiment_id, worker)
        )
        for worker in range(PROCESSES)
    ]

    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=240)

    assert [w.exitcode for w in workers] == [0] * PROCESSES
    highest = SHARED_STEPS * PROCESSES - 1
    assert tracker.get(experiment_id).metrics == {"shared": float(highest)}
    points = select(func.count()).select_from(models.MetricPoint)
    assert count(tracker, points) == SHARED_STEPS * PROCESSES
    tracker.close()


def test_read_sees_one_snapshot(database_url):
    reader = Tracker(database_url)
    writer = Tracker(database_url)
    writer.track("before", capture=False)
    count = select(func.count()).select_from(models.Experiment)

    with reader.db.read() as session:
        first = session.scalar(count)
        writer.track("during", capture=False)
        second = session.scalar(count)

    assert first == 1
    assert second == 1
    assert reader.count() == 2
    reader.close()
    writer.close()
