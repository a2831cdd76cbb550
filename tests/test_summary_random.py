"""The team summary against a brute-force count over every experiment record.

The summary counts tags and metric keys from copies of the team stored on
each tag and metric summary row, and subtracts what a viewer may not see.
These tests build random experiments with private ones, collaborators,
team changes and metrics that only running experiments have, and compare
every figure with one worked out in Python from the records.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from statistics import mean, median

import pytest
from sqlalchemy import event, func, select

from tests.conftest import FakeClock
from tracker import Tracker, models
from tracker.analysis import LATEST_COMPLETED, TOP_METRICS, TOP_TAGS
from tracker.directions import MINIMIZE
from tracker.records import BestResult, ExperimentRecord, ProjectProgress, Summary

TEAMS = ("nlp", "vision", "speech")
PEOPLE = ("alice", "bob", "carol", "dan", "erin")
PROJECTS = ("mt", "asr", "lm")
# More tags than the summary lists, so that its top-tags cut matters.
TAG_NAMES = tuple(f"t{index:02d}" for index in range(TOP_TAGS + 10))
# More metrics than the summary lists. Values come from a short list, so
# that ties on the best value occur and the experiment id breaks them.
METRIC_NAMES = ("accuracy", "loss", "f1", "bleu", "wer", "recall", "precision")
VALUES = (0.1, 0.2, 0.3, 0.5, 0.8)
# Logged by every running experiment and by no other, so it ranks high by
# count but has no completed result: the summary must skip it.
RUNNING_ONLY_METRIC = "draft_loss"
VIEWERS = (None, "alice", "bob", "zoe")


def _random_metrics(rng: random.Random) -> dict[str, float]:
    names = rng.sample(METRIC_NAMES, rng.randint(1, 4))
    return {name: rng.choice(VALUES) for name in names}


def _build(tracker: Tracker, clock: FakeClock, rng: random.Random) -> None:
    """Record random experiments, changing tags, teams and visibility on the way."""
    tracker.set_metric_direction("loss", "min", team="nlp")
    tracker.set_metric_direction("wer", "min")
    for index in range(60):
        researcher = rng.choice(PEOPLE)
        others = [person for person in PEOPLE if person != researcher]
        record = tracker.track(
            f"run-{index}",
            researcher=researcher,
            team=rng.choice(TEAMS),
            project=rng.choice(PROJECTS),
            tags=rng.sample(TAG_NAMES, rng.randint(0, 6)),
            visibility="private" if rng.random() < 0.35 else "team",
            collaborators=rng.sample(others, rng.randint(0, 2)),
        )
        clock.advance(minutes=rng.randint(1, 90))
        if rng.random() < 0.6:
            tracker.log_metrics(record.id, _random_metrics(rng), step=1)
        if rng.random() < 0.3:
            tracker.update(record.id, team=rng.choice(TEAMS))
        if rng.random() < 0.3:
            steps = [(2, _random_metrics(rng)), (3, _random_metrics(rng))]
            tracker.log_metrics_batch(record.id, steps)
        if rng.random() < 0.3:
            tracker.tag(
                record.id,
                add=rng.sample(TAG_NAMES, 2),
                remove=rng.sample(TAG_NAMES, 3),
            )
        if rng.random() < 0.15:
            tracker.update(record.id, visibility=rng.choice(("team", "private")))
        _end(tracker, record.id, rng)
        clock.advance(minutes=rng.randint(1, 30))


def _end(tracker: Tracker, experiment_id: str, rng: random.Random) -> None:
    ending = rng.choice(("complete", "complete", "fail", "cancel", "running"))
    if ending == "complete":
        tracker.complete(experiment_id, _random_metrics(rng))
    elif ending == "running":
        tracker.log_metrics(experiment_id, {RUNNING_ONLY_METRIC: rng.choice(VALUES)})
    else:
        getattr(tracker, ending)(experiment_id, "stopped")
    if rng.random() < 0.2:
        # A team change after the end moves the final metrics too.
        tracker.update(experiment_id, team=rng.choice(TEAMS))


@pytest.fixture(params=[11, 29])
def random_tracker(request, tracker: Tracker, clock: FakeClock) -> Tracker:
    _build(tracker, clock, random.Random(request.param))
    return tracker


def _all_records(tracker: Tracker) -> list[ExperimentRecord]:
    records = tracker.search(limit=1000)
    assert len(records) < 1000, "the page must hold every experiment"
    return records


def _in_scope(
    records: Sequence[ExperimentRecord], team: str | None, viewer: str | None
) -> list[ExperimentRecord]:
    return [
        record
        for record in records
        if (team is None or record.team == team)
        and (viewer is None or record.can_be_seen_by(viewer))
    ]


def _ranked(counts: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))


def _expected_best(
    tracker: Tracker, records: Sequence[ExperimentRecord], team: str | None
) -> list[BestResult]:
    direction_of = tracker.directions(team or "")
    key_counts = Counter(key for record in records for key in record.metrics)
    completed = [record for record in records if record.status == "completed"]
    best = []
    for key, _ in _ranked(key_counts):
        having = [record for record in completed if key in record.metrics]
        if not having:
            continue
        direction = direction_of(key)
        sign = 1 if direction == MINIMIZE else -1
        winner = min(having, key=lambda r: (sign * r.metrics[key], r.id))
        best.append(
            BestResult(key, direction, winner.metrics[key], winner.id, winner.name)
        )
        if len(best) == TOP_METRICS:
            break
    return best


def _expected_projects(records: Sequence[ExperimentRecord]) -> list[ProjectProgress]:
    progress = []
    for project in {record.project for record in records}:
        status = Counter(r.status for r in records if r.project == project)
        progress.append(
            ProjectProgress(
                project,
                status.total(),
                status["running"],
                status["completed"],
                status["failed"],
                status["cancelled"],
            )
        )
    return sorted(progress, key=lambda p: (-p.total, p.project))


def _latest_ids(records: Sequence[ExperimentRecord]) -> list[str]:
    completed = [record for record in records if record.status == "completed"]
    # Newest end first, then by id. Every completed record has an end.
    completed.sort(key=lambda r: (-r.ended_at.timestamp(), r.id))
    return [record.id for record in completed[:LATEST_COMPLETED]]


def _figures(summary: Summary) -> dict[str, object]:
    return {
        "total": summary.total,
        "by_status": summary.by_status,
        "researchers": summary.researchers,
        "projects": summary.projects,
        "tags": list(summary.tags.items()),
        "best": summary.best,
        "latest_completed": [record.id for record in summary.latest_completed],
    }


def _expected_figures(
    tracker: Tracker, records: Sequence[ExperimentRecord], team: str | None
) -> dict[str, object]:
    tag_counts = Counter(tag for record in records for tag in record.tags)
    researchers = Counter(record.researcher for record in records)
    return {
        "total": len(records),
        "by_status": {
            status: sum(r.status == status for r in records)
            for status in models.STATUSES
        },
        "researchers": dict(sorted(researchers.items())),
        "projects": _expected_projects(records),
        # A list, so that the order of the top tags is compared too.
        "tags": _ranked(tag_counts)[:TOP_TAGS],
        "best": _expected_best(tracker, records, team),
        "latest_completed": _latest_ids(records),
    }


def test_summary_matches_brute_force(random_tracker):
    everything = _all_records(random_tracker)

    # One data set serves every scope, because building it is the slow part.
    for team in [*TEAMS, None, "nobody"]:
        for viewer in VIEWERS:
            records = _in_scope(everything, team, viewer)
            summary = random_tracker.summary(team=team, viewer=viewer)
            actual = _figures(summary)
            expected = _expected_figures(random_tracker, records, team)
            for figure, value in expected.items():
                assert actual[figure] == value, f"{figure}, {team=}, {viewer=}"
            durations = [r.duration.total_seconds() for r in records if r.duration]
            mean_seconds = mean(durations) if durations else None
            median_seconds = median(durations) if durations else None
            assert summary.mean_duration_seconds == pytest.approx(mean_seconds)
            assert summary.median_duration_seconds == pytest.approx(median_seconds)


def test_random_data_covers_hard_cases(random_tracker):
    """Guard the generator: without these cases the comparison proves less."""
    records = _all_records(random_tracker)
    private = [r for r in records if r.visibility == "private"]
    running = [r for r in records if r.status == "running"]
    nlp_tags = Counter(tag for r in records if r.team == "nlp" for tag in r.tags)

    assert any(r.researcher != "bob" and "bob" not in r.collaborators for r in private)
    assert any("bob" in r.collaborators for r in private)
    assert any(RUNNING_ONLY_METRIC in r.metrics for r in running)
    assert len(nlp_tags) > TOP_TAGS


def test_team_copies_follow_experiments(random_tracker):
    """Every tag and metric summary row stores its experiment's current team."""
    experiments = models.Experiment
    with random_tracker.db.read() as session:
        for table in (models.Tag, models.MetricSummary):
            rows = session.scalar(select(func.count()).select_from(table))
            stale = session.scalar(
                select(func.count())
                .select_from(table)
                .join(experiments, experiments.id == table.experiment_id)
                .where(table.team != experiments.team)
            )
            assert rows > 0
            assert stale == 0


def test_team_change_moves_summary_counts(tracker):
    moved = tracker.track("moved", team="nlp", tags=["x"], researcher="alice")
    tracker.complete(moved.id, {"accuracy": 0.9})
    tracker.track("stays", team="nlp", tags=["x"], researcher="alice")

    tracker.update(moved.id, team="vision")

    nlp = tracker.summary(team="nlp")
    vision = tracker.summary(team="vision")
    assert nlp.tags == {"x": 1}
    assert nlp.best == []
    assert vision.tags == {"x": 1}
    assert [b.experiment_id for b in vision.best] == [moved.id]


def test_best_skips_metric_without_completed_run(tracker):
    for index in range(3):
        running = tracker.track(f"running-{index}", team="nlp")
        tracker.log_metrics(running.id, {"draft": 0.5})
    done = tracker.track("done", team="nlp")
    tracker.complete(done.id, {"accuracy": 0.9})

    best = tracker.summary(team="nlp").best

    assert [b.metric for b in best] == ["accuracy"]


def test_hidden_private_tags_not_counted(tracker):
    tracker.track("open", team="nlp", tags=["x"], researcher="alice")
    tracker.track(
        "secret",
        team="nlp",
        tags=["x", "secret"],
        researcher="dan",
        visibility="private",
        collaborators=["bob"],
    )

    assert tracker.summary(team="nlp", viewer="carol").tags == {"x": 1}
    assert tracker.summary(team="nlp", viewer="bob").tags == {"secret": 1, "x": 2}
    assert tracker.summary(team="nlp", viewer="dan").tags == {"secret": 1, "x": 2}
    assert tracker.summary(viewer="carol").tags == {"x": 1}


def test_team_move_mid_summary_stays_hidden(database_url, clock):
    """A private experiment that leaves the team while the summary runs stays hidden.

    The summary counts the team's tags and subtracts the hidden ones. When
    the two counts read different snapshots, a private experiment that
    moves to another team between them is counted and never subtracted.
    """
    reader = Tracker(database_url, clock=clock)
    writer = Tracker(database_url, clock=clock)
    secret = writer.track(
        "secret", team="nlp", tags=["secret"], researcher="dan", visibility="private"
    )
    writer.track("open", team="nlp", tags=["x"], researcher="alice")
    moved: list[str] = []

    def move_before_tag_counts(connection, cursor, statement, *args):
        # The hook runs before the statement that reads the hidden
        # experiments' tags. When the team's counts come from an earlier
        # statement, the move commits between the two.
        if not moved and "FROM tags" in statement and "visibility" in statement:
            writer.update(secret.id, team="vision", as_admin=True)
            moved.append(secret.id)

    event.listen(reader.db.engine, "before_cursor_execute", move_before_tag_counts)
    try:
        tags = reader.summary(team="nlp", viewer="carol").tags
    finally:
        event.remove(reader.db.engine, "before_cursor_execute", move_before_tag_counts)
        reader.close()
        writer.close()

    assert moved == [secret.id]
    assert tags == {"x": 1}
