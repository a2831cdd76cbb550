"""The demo month: deterministic for a seed, and varied enough to explore."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import demo
from tracker import Tracker, people


def open_demo(path: Path, seed: int = demo.DEFAULT_SEED) -> Tracker:
    tracker = Tracker(f"sqlite:///{path}", clock=demo.Clock())
    demo.fill(tracker, seed)
    return tracker


def content(tracker: Tracker) -> list[tuple[object, ...]]:
    """Everything but ids and real-time stamps, in a stable order."""
    records = tracker.search("sort:name", limit=1000)
    return [
        (
            r.name,
            r.status,
            r.researcher,
            r.project,
            r.visibility,
            r.source,
            r.tags,
            r.metrics,
            sorted(r.config.items()),
            r.reason,
            r.collaborators,
            tuple(n.text for n in r.notes),
        )
        for r in records
    ]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracker]:
    tracker = open_demo(tmp_path_factory.mktemp("demo") / "expbot.db")
    yield tracker
    tracker.close()


def test_demo_same_seed_same_month(month: Tracker, tmp_path: Path) -> None:
    again = open_demo(tmp_path / "again.db")
    try:
        assert content(again) == content(month)
    finally:
        again.close()


def test_demo_seed_changes_plans() -> None:
    now = demo.Clock().now
    first = list(demo._plans(random.Random(1), now))
    second = list(demo._plans(random.Random(2), now))
    assert [p.config for p in first] != [p.config for p in second]


def test_demo_has_every_status(month: Tracker) -> None:
    counts = month.summary().by_status
    for status in ("running", "completed", "failed", "cancelled"):
        assert counts.get(status, 0) > 0, status


def test_demo_failures_have_reasons(month: Tracker) -> None:
    failed = month.search("status:failed", limit=100)
    assert failed
    assert all(record.reason for record in failed)


def test_demo_spans_projects_and_teams(month: Tracker) -> None:
    records = month.search("", limit=1000)
    assert len({r.project for r in records}) == len(demo.PROJECTS)
    assert {r.team for r in records} == set(demo.RESEARCHERS.values())


def test_demo_has_shared_noted_private_runs(month: Tracker) -> None:
    records = month.search("", limit=1000)
    assert any(r.collaborators for r in records)
    assert any(r.notes for r in records)
    assert any(r.visibility == "private" for r in records)


def test_demo_sweep_varies_learning_rate(month: Tracker) -> None:
    sweep = month.search("tag:sweep project:mt-transformer", limit=100)
    assert len({r.config["lr"] for r in sweep}) == 4


def test_demo_metrics_logged_over_steps(month: Tracker) -> None:
    record = month.search("status:completed", limit=1)[0]
    history = month.metric_history(record.id, "train/loss")
    steps = [point.step for point in history]
    assert len(steps) == demo.STEPS
    assert steps == sorted(steps)
    assert history[-1].value < history[0].value


def test_demo_spans_about_a_month(month: Tracker) -> None:
    records = month.search("sort:created", limit=1000)
    span = max(r.created_at for r in records) - min(r.created_at for r in records)
    assert 20 <= span.days <= demo.DAYS + 1


def test_demo_people_have_teams(month: Tracker) -> None:
    for handle, team in demo.RESEARCHERS.items():
        person = people.by_handle(month, handle)
        assert person is not None
        assert person.team == team
