"""Every figure of the team summary, worked out by hand, with and without a viewer.

Team `nlp`, times from the `clock` fixture (2 November 2026 09:00 UTC):

  A  alice mt   completed after 1h,  tags x y, accuracy 0.80, loss 0.50
  B  alice mt   completed after 3h,  tags x,   accuracy 0.90, loss 0.40
  C  bob   asr  failed after 2h,     tags y z
  D  bob   asr  cancelled after 4h,  tags z
  E  carol mt   running,             tags x
  P  dan   lm   completed after 10h, PRIVATE, shared with bob,
                tags x q, accuracy 0.99, loss 0.10
  Other team: O  erin cv  completed after 5h, tags x, accuracy 1.0

`loss` is set to minimize for the team.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FakeClock
from tracker import Tracker

TEAM = "nlp"


def _add(
    tracker: Tracker,
    clock: FakeClock,
    name: str,
    researcher: str,
    project: str,
    tags: list[str],
    hours: float | None,
    end: str = "complete",
    metrics: dict[str, float] | None = None,
    **options: Any,
) -> str:
    record = tracker.track(
        name,
        researcher=researcher,
        project=project,
        tags=tags,
        team=options.pop("team", TEAM),
        **options,
    )
    if hours is None:
        return record.id
    clock.advance(hours=hours)
    if end == "complete":
        tracker.complete(record.id, metrics or {})
    else:
        getattr(tracker, end)(record.id, "stopped")
    # Each experiment starts one hour after the previous one ended.
    clock.advance(hours=1)
    return record.id


@pytest.fixture
def team(tracker: Tracker, clock: FakeClock) -> dict[str, str]:
    tracker.set_metric_direction("loss", "min", team=TEAM)
    ids = {
        "A": _add(
            tracker, clock, "A", "alice", "mt", ["x", "y"], 1,
            metrics={"accuracy": 0.80, "loss": 0.50},
        ),
        "B": _add(
            tracker, clock, "B", "alice", "mt", ["x"], 3,
            metrics={"accuracy": 0.90, "loss": 0.40},
        ),
        "C": _add(tracker, clock, "C", "bob", "asr", ["y", "z"], 2, end="fail"),
        "D": _add(tracker, clock, "D", "bob", "asr", ["z"], 4, end="cancel"),
        "P": _add(
            tracker, clock, "P", "dan", "lm", ["x", "q"], 10,
            metrics={"accuracy": 0.99, "loss": 0.10},
            visibility="private", collaborators=["bob"],
        ),
        "O": _add(
            tracker, clock, "O", "erin", "cv", ["x"], 5,
            metrics={"accuracy": 1.0}, team="cv",
        ),
    }  # fmt: skip
    ids["E"] = _add(tracker, clock, "E", "carol", "mt", ["x"], None)
    return ids


def test_summary_counts_include_private(tracker, team):
    summary = tracker.summary(team=TEAM)

    assert summary.total == 6
    assert summary.by_status == {
        "running": 1,
        "completed": 3,
        "failed": 1,
        "cancelled": 1,
    }
    assert summary.completion_rate == pytest.approx(3 / 5)
    assert summary.researchers == {"alice": 2, "bob": 2, "carol": 1, "dan": 1}
    assert list(summary.researchers) == ["alice", "bob", "carol", "dan"]


def test_summary_project_progress(tracker, team):
    projects = tracker.summary(team=TEAM).projects

    assert [p.project for p in projects] == ["mt", "asr", "lm"]
    mt, asr, lm = projects
    assert (mt.total, mt.running, mt.completed, mt.failed, mt.cancelled) == (
        3,
        1,
        2,
        0,
        0,
    )
    assert (asr.total, asr.failed, asr.cancelled) == (2, 1, 1)
    assert (lm.total, lm.completed) == (1, 1)


def test_summary_durations_mean_median(tracker, team):
    summary = tracker.summary(team=TEAM)

    # Ended: 1h, 3h, 2h, 4h and 10h; the running one has no duration.
    assert summary.mean_duration_seconds == pytest.approx(4 * 3600)
    assert summary.median_duration_seconds == 3 * 3600


def test_summary_median_of_even_count(tracker, team):
    # carol is no collaborator of P, so she does not see it.
    summary = tracker.summary(team=TEAM, viewer="carol")

    # Ended and visible: 1h, 3h, 2h, 4h; the middle two are 2h and 3h.
    assert summary.median_duration_seconds == 2.5 * 3600
    assert summary.mean_duration_seconds == pytest.approx(2.5 * 3600)


def test_summary_top_tags_ties_by_name(tracker, team):
    tags = tracker.summary(team=TEAM).tags

    assert tags == {"x": 4, "y": 2, "z": 2, "q": 1}
    assert list(tags) == ["x", "y", "z", "q"]


def test_summary_best_per_metric(tracker, team):
    best = {b.metric: b for b in tracker.summary(team=TEAM).best}

    assert set(best) == {"accuracy", "loss"}
    assert best["accuracy"].experiment_name == "P"
    assert best["accuracy"].value == pytest.approx(0.99)
    assert best["loss"].direction == "min"
    assert best["loss"].experiment_name == "P"
    assert best["loss"].value == pytest.approx(0.10)


def test_summary_latest_completed_order(tracker, team):
    latest = tracker.summary(team=TEAM).latest_completed

    assert [record.name for record in latest] == ["P", "B", "A"]


def test_summary_viewer_hides_private(tracker, team):
    summary = tracker.summary(team=TEAM, viewer="carol")

    assert summary.total == 5
    assert "dan" not in summary.researchers
    assert summary.tags == {"x": 3, "y": 2, "z": 2}
    best = {b.metric: b.experiment_name for b in summary.best}
    assert best == {"accuracy": "B", "loss": "B"}
    assert [record.name for record in summary.latest_completed] == ["B", "A"]


def test_summary_viewer_sees_shared(tracker, team):
    summary = tracker.summary(team=TEAM, viewer="bob")

    assert summary.total == 6
    assert summary.researchers["dan"] == 1
    assert summary.tags["q"] == 1
    assert {b.metric: b.experiment_name for b in summary.best} == {
        "accuracy": "P",
        "loss": "P",
    }


def test_summary_of_empty_team(tracker, team):
    summary = tracker.summary(team="nobody")

    assert summary.total == 0
    assert summary.mean_duration_seconds is None
    assert summary.median_duration_seconds is None
    assert summary.tags == {}
    assert summary.best == []
    assert summary.projects == []


def test_summary_all_teams(tracker, team):
    summary = tracker.summary()

    assert summary.total == 7
    assert summary.tags["x"] == 5
    best = {b.metric: b.experiment_name for b in summary.best}
    assert best["accuracy"] == "O"
