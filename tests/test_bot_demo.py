"""The demo month: deterministic for a seed, and varied enough to explore."""

from __future__ import annotations

import datetime as dt
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
    sweep = month.search("tag:sweep project:mt", limit=100)
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
    assert 20 <= span.days <= demo.DAYS + demo.PREVIOUS_MONTH_DAYS + 1


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 12, 31, 23, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2027, 3, 15, 12, 0, tzinfo=dt.UTC),
    ],
)
def test_demo_starts_in_previous_month(now: dt.datetime) -> None:
    first_of_month = now.replace(day=1, hour=0, minute=0)

    start = demo.month_start(now)

    assert first_of_month - start >= dt.timedelta(days=demo.PREVIOUS_MONTH_DAYS)
    assert now - start >= dt.timedelta(days=demo.DAYS)


def test_demo_baseline_note_only_completed(month: Tracker) -> None:
    noted = month.search(f'"{demo.BASELINE_NOTE}"', limit=100)

    assert noted
    assert {record.status for record in noted} == {"completed"}


def test_demo_notes_fit_the_outcome(month: Tracker) -> None:
    for record in month.search("", limit=1000):
        unfit = {
            note.text
            for status, notes in demo.NOTES.items()
            if status != record.status
            for note in record.notes
            if note.text in notes
        }
        assert unfit == set(), record.name


def test_demo_logs_example_metric_names(month: Tracker) -> None:
    logged = {key for r in month.search("", limit=1000) for key in r.metrics}

    assert {"accuracy", "bleu", "wer", "val/loss"} <= logged
    assert not {key for key in logged if key.startswith(("test/", "val/acc"))}


def test_demo_people_have_teams(month: Tracker) -> None:
    for handle, team in demo.RESEARCHERS.items():
        person = people.by_handle(month, handle)
        assert person is not None
        assert person.team == team
