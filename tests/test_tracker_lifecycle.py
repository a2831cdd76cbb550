"""The Tracker API on a real database: lifecycle, events, metrics, configs."""

from __future__ import annotations

import sys

import pytest
from sqlalchemy import text

from tracker import (
    AmbiguousId,
    ExperimentNotFound,
    InvalidInput,
    InvalidTransition,
    PermissionDenied,
    Tracker,
    models,
)


def kinds(tracker, experiment_id):
    return [e.kind for e in tracker.events() if e.experiment_id == experiment_id]


def test_track_records_running_experiment(tracker, clock):
    record = tracker.track(
        "bert-base",
        config={"lr": 0.001},
        tags=["nlp", "bert"],
        team="nlp",
        project="mt",
        researcher="alice",
    )

    assert record.status == "running"
    assert record.created_at == clock.now
    assert record.started_at == clock.now
    assert record.tags == ("bert", "nlp")
    assert record.config == {"lr": 0.001}
    assert tracker.get(record.id) == record
    assert kinds(tracker, record.id) == ["created"]


def test_track_captures_reproducibility_facts(tracker):
    record = tracker.track("repro", researcher="alice")

    assert record.reproducibility["python"]
    assert record.reproducibility["host"]
    assert isinstance(record.reproducibility["argv"], list)


def test_complete_sets_end_and_event(tracker, clock):
    record = tracker.track("run", researcher="alice")
    clock.advance(minutes=90)

    done = tracker.complete(record.id, {"accuracy": 0.93}, artifacts=["s3://m/1"])

    assert done.status == "completed"
    assert done.ended_at == clock.now
    assert done.duration.total_seconds() == 90 * 60
    assert done.metrics == {"accuracy": 0.93}
    assert done.artifacts == ("s3://m/1",)
    assert kinds(tracker, record.id) == ["created", "completed"]


@pytest.mark.parametrize("action", ["complete", "fail", "cancel"])
def test_finished_experiment_rejects_second_end(tracker, action):
    record = tracker.track("run", researcher="alice")
    tracker.complete(record.id)

    with pytest.raises(InvalidTransition, match="already completed"):
        getattr(tracker, action)(record.id)

    assert tracker.get(record.id).status == "completed"
    assert kinds(tracker, record.id) == ["created", "completed"]


def test_fail_keeps_reason(tracker):
    record = tracker.track("run", researcher="alice")

    failed = tracker.fail(record.id, "CUDA out of memory")

    assert failed.status == "failed"
    assert failed.reason == "CUDA out of memory"
    assert tracker.events()[-1].payload == {"reason": "CUDA out of memory"}


def test_share_keeps_status_and_skips_present(tracker):
    record = tracker.track("run", researcher="alice")
    tracker.complete(record.id)

    shared = tracker.share(record.id, ["bob", "carol", "alice"])
    again = tracker.share(record.id, ["bob"])

    assert shared.status == "completed"
    assert shared.collaborators == ("bob", "carol")
    assert again.collaborators == ("bob", "carol")
    shared_events = [e for e in tracker.events() if e.kind == "shared"]
    assert [e.payload["added"] for e in shared_events] == [["bob", "carol"]]


def test_every_change_bumps_updated(tracker, clock):
    record = tracker.track("run", researcher="alice")
    stamps = []
    for change in (
        lambda: tracker.log_metrics(record.id, {"loss": 1.0}),
        lambda: tracker.tag(record.id, add=["x"]),
        lambda: tracker.add_note(record.id, "hello"),
        lambda: tracker.share(record.id, ["bob"]),
        lambda: tracker.update(record.id, description="new"),
        lambda: tracker.complete(record.id),
    ):
        clock.advance(seconds=1)
        change()
        stamps.append(tracker.get(record.id).updated_at)

    assert stamps == sorted(stamps)
    assert len(set(stamps)) == len(stamps)


def test_duration_ignores_updates_after_end(tracker, clock):
    record = tracker.track("run", researcher="alice")
    clock.advance(hours=1)
    tracker.complete(record.id)
    clock.advance(hours=5)

    noted = tracker.add_note(record.id, "late note")

    assert noted.duration.total_seconds() == 3600


def test_summary_follows_highest_step(tracker):
    record = tracker.track("run", researcher="alice")

    tracker.log_metrics(record.id, {"loss": 0.5}, step=10)
    tracker.log_metrics(record.id, {"loss": 0.9}, step=2)

    assert tracker.get(record.id).metrics == {"loss": 0.5}
    history = tracker.metric_history(record.id, "loss")
    assert [(p.step, p.value) for p in history] == [(10, 0.5), (2, 0.9)]


def test_config_change_makes_version(tracker):
    record = tracker.track("run", config={"lr": 0.1, "bs": 32}, researcher="alice")

    tracker.update(record.id, config={"lr": 0.01, "bs": 32})
    tracker.update(record.id, config={"lr": 0.01, "bs": 32})

    history = tracker.config_history(record.id)
    assert [v.version for v in history] == [1, 2]
    assert tracker.config_diff(record.id, 1, 2) == {"lr": {"v1": 0.1, "v2": 0.01}}


def test_goal_reached_writes_threshold_event(tracker):
    tracker.set_metric_direction("val/loss", "min", goal=0.2)
    record = tracker.track("run", researcher="alice")

    tracker.log_metrics(record.id, {"val/loss": 0.5}, step=1)
    tracker.log_metrics(record.id, {"val/loss": 0.19}, step=2)
    tracker.log_metrics(record.id, {"val/loss": 0.1}, step=3)

    thresholds = [e for e in tracker.events() if e.kind == "threshold"]
    assert len(thresholds) == 1
    assert thresholds[0].payload["value"] == 0.19


def test_id_prefix_resolves_unique(tracker):
    record = tracker.track("run", researcher="alice")

    assert tracker.get(record.id[:6]).id == record.id
    assert tracker.get(record.id[:8].upper()).id == record.id


def test_id_prefix_ambiguous_lists_candidates(tracker, clock):
    record = tracker.track("run", researcher="alice")
    # Random UUIDs almost never share 6 characters, so insert a twin.
    filler = "ff" if record.id[6:8] != "ff" else "00"
    twin = record.id[:6] + filler + record.id[8:]
    with tracker.db.write() as session:
        session.add(
            models.Experiment(
                id=twin,
                name="twin",
                researcher="alice",
                created_at=clock.now,
                updated_at=clock.now,
            )
        )

    with pytest.raises(AmbiguousId) as caught:
        tracker.get(record.id[:6])

    assert sorted(caught.value.candidates) == sorted([record.id, twin])
    assert "more than one experiment" in str(caught.value)
    # Either twin may be another person's private experiment.
    assert twin not in str(caught.value)
    assert record.id not in str(caught.value)
    assert tracker.get(record.id[:8]).id == record.id


def test_short_prefix_is_invalid(tracker):
    with pytest.raises(InvalidInput, match="at least 6"):
        tracker.get("3f2a")


def test_unknown_id_not_found(tracker):
    with pytest.raises(ExperimentNotFound, match="3f2a9c00"):
        tracker.get("3f2a9c00")


def test_private_hidden_from_others(tracker):
    record = tracker.track("secret", researcher="alice", visibility="private")
    tracker.share(record.id, ["bob"])

    assert tracker.get(record.id, viewer="bob").id == record.id
    with pytest.raises(ExperimentNotFound):
        tracker.get(record.id, viewer="mallory")
    assert tracker.search("", viewer="mallory") == []
    assert [r.id for r in tracker.search("", viewer="alice")] == [record.id]


def test_change_by_stranger_denied(tracker):
    record = tracker.track("run", researcher="alice")

    with pytest.raises(PermissionDenied, match="alice"):
        tracker.add_note(record.id, "hi", author="mallory")

    assert tracker.add_note(record.id, "hi", author="boss", as_admin=True).notes
    assert kinds(tracker, record.id) == ["created", "noted"]


def test_run_block_completes_and_fails(tracker):
    with tracker.run("good", researcher="alice") as run:
        run.log_metrics({"accuracy": 0.8}, step=1)

    with pytest.raises(ZeroDivisionError), tracker.run("bad", researcher="alice"):
        raise ZeroDivisionError("division by zero")

    good, bad = tracker.search("sort:name")
    assert (good.name, good.status) == ("bad", "failed")
    assert "ZeroDivisionError" in good.reason
    assert (bad.name, bad.status) == ("good", "completed")


@pytest.mark.parametrize("code", [0, None])
def test_run_block_completes_on_clean_exit(tracker, code):
    with pytest.raises(SystemExit), tracker.run("done", researcher="alice") as run:
        sys.exit(code)

    record = tracker.get(run.id)
    assert record.status == "completed"
    assert record.reason == ""


@pytest.mark.parametrize("code", [1, "out of memory"])
def test_run_block_fails_on_error_exit(tracker, code):
    with pytest.raises(SystemExit), tracker.run("died", researcher="alice") as run:
        sys.exit(code)

    record = tracker.get(run.id)
    assert record.status == "failed"
    assert repr(code) in record.reason


def test_run_block_cancels_on_interrupt(tracker):
    with (
        pytest.raises(KeyboardInterrupt),
        tracker.run("stopped", researcher="alice") as run,
    ):
        raise KeyboardInterrupt

    assert tracker.get(run.id).status == "cancelled"


def test_summary_counts_and_rate(tracker, clock):
    for index, end in enumerate(["complete", "complete", "fail", None]):
        record = tracker.track(f"r{index}", researcher="alice", project="p")
        clock.advance(minutes=10 * (index + 1))
        if end:
            getattr(tracker, end)(record.id)

    summary = tracker.summary()

    assert summary.total == 4
    assert summary.by_status == {
        "running": 1,
        "completed": 2,
        "failed": 1,
        "cancelled": 0,
    }
    assert summary.completion_rate == pytest.approx(2 / 3)
    # Durations are 10, 20 and 30 minutes.
    assert summary.median_duration_seconds == pytest.approx(1200)
    assert summary.mean_duration_seconds == pytest.approx(1200)
    assert summary.projects[0].total == 4


def test_summary_undefined_rate_when_running(tracker):
    tracker.track("r", researcher="alice")

    assert tracker.summary().completion_rate is None


def test_compare_shows_only_differences(tracker):
    a = tracker.track("a", config={"lr": 0.1, "bs": 32}, researcher="alice")
    b = tracker.track("b", config={"lr": 0.2, "bs": 32}, researcher="alice")
    tracker.complete(a.id, {"val/loss": 0.3, "accuracy": 0.9})
    tracker.complete(b.id, {"val/loss": 0.2, "accuracy": 0.8})

    comparison = tracker.compare([a.id, b.id])

    assert comparison.config_differences == {"lr": {a.id: 0.1, b.id: 0.2}}
    best = {m.metric: m.best_id for m in comparison.metrics}
    assert best == {"accuracy": a.id, "val/loss": b.id}


def test_leaderboard_respects_direction(tracker):
    ids = []
    for loss in (0.5, 0.1, 0.3):
        record = tracker.track(f"loss{loss}", researcher="alice", project="p")
        tracker.complete(record.id, {"val/loss": loss})
        ids.append(record.id)

    board = tracker.leaderboard("val/loss", "project:p")

    assert [e.value for e in board] == [0.1, 0.3, 0.5]
    assert [e.rank for e in board] == [1, 2, 3]


def test_current_returns_active_run(tracker):
    from tracker import current

    with tracker.run("active", researcher="alice") as run:
        current().log_metrics({"loss": 0.4}, step=1)
        inner = current()

    assert inner is run
    assert tracker.get(run.id).metrics == {"loss": 0.4}


def test_free_text_finds_failure_reason(tracker):
    record = tracker.track("resnet", researcher="alice")
    tracker.track("other", researcher="alice")

    tracker.fail(record.id, "Corrupt shard 17 in the training set")

    assert [r.id for r in tracker.search('"corrupt shard"')] == [record.id]


def test_leaderboard_ranks_completed_by_default(tracker):
    done = tracker.track("done", researcher="alice")
    tracker.complete(done.id, {"accuracy": 0.7})
    lucky = tracker.track("lucky", researcher="alice")
    tracker.log_metrics(lucky.id, {"accuracy": 0.99})
    tracker.cancel(lucky.id)
    running = tracker.track("running", researcher="alice")
    tracker.log_metrics(running.id, {"accuracy": 0.9})

    default = tracker.leaderboard("accuracy")
    live = tracker.leaderboard("accuracy", "status:running")

    assert [e.experiment.name for e in default] == ["done"]
    assert [e.experiment.name for e in live] == ["running"]
    assert [b.experiment_name for b in tracker.summary().best] == ["done"]


def test_leaderboard_query_keeps_or_terms(tracker):
    # `a OR b` combined with the completed filter must stay one group.
    for name, tag, end in [("nlp", "nlp", "complete"), ("asr", "asr", "cancel")]:
        record = tracker.track(name, researcher="alice", tags=[tag])
        tracker.log_metrics(record.id, {"accuracy": 0.8})
        getattr(tracker, end)(record.id)

    entries = tracker.leaderboard("accuracy", "tag:nlp OR tag:asr")

    assert [e.experiment.name for e in entries] == ["nlp"]


def test_leaderboard_rejects_sort_term(tracker):
    with pytest.raises(InvalidInput, match="remove the sort: term") as caught:
        tracker.leaderboard("accuracy", "tag:nlp sort:name")

    assert "(" not in str(caught.value)


def test_private_history_hidden_from_others(tracker):
    record = tracker.track("secret", researcher="alice", visibility="private")
    tracker.log_metrics(record.id, {"loss": 0.5}, step=1)

    assert len(tracker.metric_history(record.id, viewer="alice")) == 1
    with pytest.raises(ExperimentNotFound):
        tracker.metric_history(record.id, viewer="mallory")
    with pytest.raises(ExperimentNotFound):
        tracker.config_history(record.id, viewer="mallory")


@pytest.mark.postgres
def test_id_prefix_under_icu_collation(postgres_url):
    tracker = Tracker(postgres_url)
    record = tracker.track("icu", researcher="alice")
    with tracker.db.write() as session:
        # Under ICU, `~` and `:` sort before digits, unlike in C.
        session.execute(
            text(
                "ALTER TABLE experiments ALTER COLUMN id "
                'TYPE varchar(36) COLLATE "en-US-x-icu"'
            )
        )

    assert tracker.get(record.id[:6]).id == record.id
    assert tracker.get(record.id[:9]).id == record.id
    tracker.close()


def test_teams_lists_each_once(tracker):
    tracker.track("a", researcher="alice", team="speech", capture=False)
    tracker.track("b", researcher="bob", team="nlp", visibility="private")
    tracker.track("c", researcher="carol", team="nlp", capture=False)

    assert tracker.teams() == ["nlp", "speech"]
