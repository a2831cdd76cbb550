"""Metric writes: summaries, goals, batches, lifecycle and permissions.

Every test runs on SQLite and on PostgreSQL, because the summary upsert
is a different INSERT ... ON CONFLICT construct on each.
"""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import select

from tracker import ExperimentNotFound, InvalidInput, PermissionDenied, models


def summaries(tracker, experiment_id):
    """Return {metric: (value, step)} as stored."""
    with tracker.db.read() as session:
        rows = session.execute(
            select(
                models.MetricSummary.key,
                models.MetricSummary.value,
                models.MetricSummary.step,
            ).where(models.MetricSummary.experiment_id == experiment_id)
        )
        return {key: (value, step) for key, value, step in rows}


def thresholds(tracker, experiment_id):
    return [
        (e.payload["metric"], e.payload["value"])
        for e in tracker.events(limit=1000)
        if e.experiment_id == experiment_id and e.kind == "threshold"
    ]


def row_counts(tracker):
    tables = (models.MetricPoint, models.MetricSummary, models.Event)
    with tracker.db.read() as session:
        return {t.__tablename__: len(session.scalars(select(t)).all()) for t in tables}


@pytest.fixture
def running(tracker):
    return tracker.track("run", researcher="alice", capture=False)


# -- the summary rule ---------------------------------------------------------


def test_summary_keeps_higher_step(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.5}, step=10)
    tracker.log_metrics(running.id, {"loss": 0.9}, step=2)

    assert summaries(tracker, running.id) == {"loss": (0.5, 10)}


def test_summary_takes_equal_step(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.5}, step=10)
    tracker.log_metrics(running.id, {"loss": 0.4}, step=10)

    assert summaries(tracker, running.id) == {"loss": (0.4, 10)}


def test_stepless_point_replaces_higher_step(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.5}, step=10)
    tracker.log_metrics(running.id, {"loss": 0.7})

    assert summaries(tracker, running.id) == {"loss": (0.7, None)}


def test_point_after_stepless_summary_replaces(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.7})
    tracker.log_metrics(running.id, {"loss": 0.3}, step=1)

    assert summaries(tracker, running.id) == {"loss": (0.3, 1)}


def test_batch_out_of_order_steps(tracker, running):
    tracker.log_metrics_batch(
        running.id,
        [(3, {"loss": 0.3}), (7, {"loss": 0.7}), (5, {"loss": 0.5})],
    )

    assert summaries(tracker, running.id) == {"loss": (0.7, 7)}
    history = tracker.metric_history(running.id, "loss")
    assert [(p.step, p.value) for p in history] == [(3, 0.3), (7, 0.7), (5, 0.5)]


def test_batch_below_stored_step_keeps_summary(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.9}, step=10)

    tracker.log_metrics_batch(running.id, [(4, {"loss": 0.4}), (6, {"loss": 0.6})])

    assert summaries(tracker, running.id) == {"loss": (0.9, 10)}
    assert len(tracker.metric_history(running.id, "loss")) == 3


def test_batch_stepless_then_lower_step(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.9}, step=10)

    # The step-less point replaces step 10; step 5 then follows it.
    tracker.log_metrics_batch(running.id, [(None, {"loss": 0.7}), (5, {"loss": 0.5})])

    assert summaries(tracker, running.id) == {"loss": (0.5, 5)}


def test_batch_keys_move_independently(tracker, running):
    tracker.log_metrics(running.id, {"loss": 0.9, "accuracy": 0.1}, step=4)

    tracker.log_metrics_batch(
        running.id,
        [(2, {"loss": 0.8, "bleu": 0.2}), (6, {"accuracy": 0.6})],
    )

    assert summaries(tracker, running.id) == {
        "loss": (0.9, 4),
        "accuracy": (0.6, 6),
        "bleu": (0.2, 2),
    }


def test_batch_matches_one_call_per_step(tracker):
    """Random batches leave the summaries and events of step-by-step calls."""
    tracker.set_metric_direction("loss", "min", goal=0.3)
    tracker.set_metric_direction("accuracy", "max", goal=0.7)
    generator = random.Random(11)
    batched = tracker.track("batched", researcher="alice", capture=False)
    single = tracker.track("single", researcher="alice", capture=False)

    for _ in range(15):
        batch = []
        for _ in range(generator.randint(1, 6)):
            step = generator.choice([None, *range(12)])
            keys = generator.sample(["loss", "accuracy", "bleu"], 2)
            values = {k: round(generator.random(), 2) for k in keys}
            batch.append((step, values))
        tracker.log_metrics_batch(batched.id, batch)
        for step, values in batch:
            tracker.log_metrics(single.id, values, step=step)

    assert summaries(tracker, batched.id) == summaries(tracker, single.id)
    assert thresholds(tracker, batched.id) == thresholds(tracker, single.id)
    assert thresholds(tracker, batched.id)


# -- goals and threshold events -----------------------------------------------


def test_goal_crossed_in_batch_one_event(tracker, running):
    tracker.set_metric_direction("val/loss", "min", goal=0.2)

    tracker.log_metrics_batch(
        running.id,
        [(1, {"val/loss": 0.5}), (2, {"val/loss": 0.19}), (3, {"val/loss": 0.1})],
    )

    assert thresholds(tracker, running.id) == [("val/loss", 0.19)]


def test_goal_older_point_no_event(tracker, running):
    tracker.set_metric_direction("accuracy", "max", goal=0.9)
    tracker.log_metrics(running.id, {"accuracy": 0.5}, step=10)

    tracker.log_metrics_batch(running.id, [(3, {"accuracy": 0.95})])

    assert thresholds(tracker, running.id) == []
    assert summaries(tracker, running.id) == {"accuracy": (0.5, 10)}


def test_goal_already_reached_no_event(tracker, running):
    tracker.set_metric_direction("accuracy", "max", goal=0.9)
    tracker.log_metrics(running.id, {"accuracy": 0.92}, step=1)

    tracker.log_metrics_batch(running.id, [(2, {"accuracy": 0.95})])

    assert thresholds(tracker, running.id) == [("accuracy", 0.92)]


def test_team_goal_overrides_workspace(tracker):
    tracker.set_metric_direction("accuracy", "max", goal=0.5)
    tracker.set_metric_direction("accuracy", "max", team="vision", goal=0.9)
    vision = tracker.track("v", researcher="alice", team="vision", capture=False)
    other = tracker.track("o", researcher="alice", team="nlp", capture=False)

    tracker.log_metrics(vision.id, {"accuracy": 0.6}, step=1)
    tracker.log_metrics(other.id, {"accuracy": 0.6}, step=1)

    assert thresholds(tracker, vision.id) == []
    assert thresholds(tracker, other.id) == [("accuracy", 0.6)]


def test_complete_metrics_cross_goal(tracker, running):
    tracker.set_metric_direction("accuracy", "max", goal=0.9)

    tracker.complete(running.id, {"accuracy": 0.93})

    kinds = [e.kind for e in tracker.events() if e.experiment_id == running.id]
    assert kinds == ["created", "threshold", "completed"]
    assert tracker.events()[-1].payload == {"accuracy": 0.93}


# -- lifecycle and updated_at ---------------------------------------------------


def test_finished_experiment_takes_metrics(tracker, running, clock):
    tracker.complete(running.id, {"accuracy": 0.8})
    clock.advance(minutes=5)

    tracker.log_metrics(running.id, {"accuracy": 0.85}, step=1)
    tracker.log_metrics_batch(running.id, [(2, {"eval/bleu": 0.3})])

    record = tracker.get(running.id)
    assert record.status == "completed"
    assert record.metrics == {"accuracy": 0.85, "eval/bleu": 0.3}
    assert record.updated_at == clock.now
    kinds = [e.kind for e in tracker.events() if e.experiment_id == running.id]
    assert kinds == ["created", "completed"]


def test_batch_bumps_updated_at(tracker, running, clock):
    clock.advance(seconds=30)

    tracker.log_metrics_batch(running.id, [(1, {"loss": 0.5})])

    assert tracker.get(running.id).updated_at == clock.now


def test_batch_by_id_prefix(tracker, running):
    tracker.log_metrics_batch(running.id[:8], [(1, {"loss": 0.5})])

    assert tracker.get(running.id).metrics == {"loss": 0.5}


def test_run_block_logs_batch(tracker):
    with tracker.run("loop", researcher="alice", capture=False) as run:
        run.log_metrics_batch([(1, {"loss": 0.9}), (2, {"loss": 0.4})])

    record = tracker.get(run.id)
    assert record.metrics == {"loss": 0.4}
    assert record.status == "completed"


# -- the records that writes return -------------------------------------------


def test_end_records_match_get(tracker, running):
    tracker.share(running.id, ["bob"])
    tracker.tag(running.id, add=["nlp", "bert"])
    tracker.add_note(running.id, "first try")
    other = tracker.track("other", researcher="alice", capture=False)

    done = tracker.complete(running.id, {"accuracy": 0.9}, artifacts=["s3://m/1"])
    failed = tracker.fail(other.id, "CUDA out of memory")

    assert done == tracker.get(running.id)
    assert done.artifacts == ("s3://m/1",)
    assert done.notes[0].text == "first try"
    assert failed == tracker.get(other.id)
    assert failed.reason == "CUDA out of memory"


def test_track_record_matches_get(tracker):
    record = tracker.track(
        "full",
        description="all fields",
        config={"lr": 0.1, "model": {"depth": 12}},
        tags=["b", "a"],
        team="vision",
        project="p",
        researcher="alice",
        collaborators=["bob", "alice", "bob"],
        custom={"ticket": "x"},
        capture=False,
    )

    assert record == tracker.get(record.id)
    assert record.collaborators == ("bob",)
    assert tracker.search("config.model.depth=12")[0].id == record.id


# -- permissions ---------------------------------------------------------------


def test_stranger_cannot_log(tracker, running):
    before = row_counts(tracker)

    with pytest.raises(PermissionDenied, match="alice"):
        tracker.log_metrics(running.id, {"loss": 0.5}, actor="mallory")
    with pytest.raises(PermissionDenied, match="alice"):
        tracker.log_metrics_batch(running.id, [(1, {"loss": 0.5})], actor="mallory")

    assert row_counts(tracker) == before


def test_private_hidden_from_stranger_log(tracker):
    secret = tracker.track(
        "secret", researcher="alice", visibility="private", capture=False
    )

    with pytest.raises(ExperimentNotFound):
        tracker.log_metrics(secret.id, {"loss": 0.5}, actor="mallory")


def test_owner_and_collaborator_can_log(tracker, running):
    tracker.share(running.id, ["bob"])

    tracker.log_metrics(running.id, {"loss": 0.5}, step=1, actor="alice")
    tracker.log_metrics_batch(running.id, [(2, {"loss": 0.4})], actor="bob")

    assert summaries(tracker, running.id) == {"loss": (0.4, 2)}


def test_stranger_cannot_end(tracker, running):
    with pytest.raises(PermissionDenied):
        tracker.complete(running.id, actor="mallory")

    assert tracker.complete(running.id, actor="boss", as_admin=True).status == (
        "completed"
    )


# -- invalid input writes nothing ------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "named"),
    [
        ([(1, {"loss": 0.5}), (2, {"loss": math.nan})], "Batch entry 1: .*nan"),
        ([(1, {"loss": 0.5}), (-1, {"loss": 0.4})], "Batch entry 1: .*-1"),
        ([(1, {"loss": 0.5}), (2, {"9lives": 1.0})], "9lives"),
        ([(1, {"loss": 0.5}), (2.5, {"loss": 0.4})], "2.5"),
        ([(1, {"loss": 0.5}), (2, ["loss", 0.4])], "mapping"),
        ([(1, {"loss": 0.5}), {"loss": 0.4}], "pair"),
        ([(1, {"loss": 0.5}, "extra")], "pair"),
        ({1: {"loss": 0.5}}, "list of"),
        ("1 loss 0.5", "list of"),
    ],
)
def test_invalid_batch_writes_nothing(tracker, running, batch, named):
    tracker.log_metrics(running.id, {"loss": 0.9}, step=0)
    before = row_counts(tracker)

    with pytest.raises(InvalidInput, match=named):
        tracker.log_metrics_batch(running.id, batch)

    assert row_counts(tracker) == before


def test_oversized_batch_rejected(tracker, running, monkeypatch):
    monkeypatch.setattr("tracker.validation.MAX_POINTS_PER_BATCH", 5)
    batch = [(step, {"a": 1.0, "b": 2.0}) for step in range(3)]

    with pytest.raises(InvalidInput, match="more than 5 points"):
        tracker.log_metrics_batch(running.id, batch)

    assert tracker.metric_history(running.id) == []


def test_empty_batch_bumps_updated_at(tracker, running, clock):
    clock.advance(seconds=5)

    tracker.log_metrics_batch(running.id, [])

    assert tracker.get(running.id).updated_at == clock.now
    assert tracker.metric_history(running.id) == []
