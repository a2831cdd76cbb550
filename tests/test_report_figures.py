"""Every figure of a monthly report, worked out by hand on a fixture team.

The team is described in `tests/report_fixtures.py`; the comments here
give the arithmetic. Each test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_SERVER, FakeClock
from tests.report_fixtures import TEAM, build_team, utc
from tracker import Tracker
from tracker.directions import MAXIMIZE, MINIMIZE
from tracker.errors import InvalidInput
from tracker.reports import (
    FIGURES,
    GroupCounts,
    TeamReport,
    monthly_report,
    weekly_report,
)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def built(request, tmp_path_factory, postgres_available) -> Iterator[tuple]:
    """The fixture team, built once per backend for the read-only tests."""
    clock = FakeClock(utc(10, 1))
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('report') / 'expbot.db'}"
        with closing(Tracker(url, clock=clock)) as tracker:
            yield tracker, clock, build_team(tracker, clock)
        return
    if postgres_available:
        pytest.skip(postgres_available)
    with postgres_schema() as url, closing(Tracker(url, clock=clock)) as tracker:
        yield tracker, clock, build_team(tracker, clock)


@pytest.fixture
def team(built):
    tracker, clock, team = built
    saved = clock.now
    yield team
    clock.now = saved


@pytest.fixture
def report_tracker(built) -> Tracker:
    return built[0]


@pytest.fixture
def november(report_tracker: Tracker, team) -> TeamReport:
    return monthly_report(report_tracker, TEAM, 2026, 11)


@contextmanager
def postgres_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_november_counts_by_date(november: TeamReport) -> None:
    # created in November: N1..N7 = 7 (S was created on 31 October)
    assert november.value("created") == 7
    # ended in November as completed: S (1 Nov), N1, N2, N7 = 4;
    # N6 ended on 2 December
    assert november.value("completed") == 4
    # failed: N3; cancelled: N4
    assert november.value("failed") == 1
    assert november.value("cancelled") == 1
    # running on 1 Dec 00:00: N5 (never ended) and N6 (ended 2 Dec) = 2
    assert november.value("running") == 2
    # creators: alice, bob, carol, dan
    assert november.value("researchers") == 4


def test_november_completion_rate_and_durations(november: TeamReport) -> None:
    # 4 completed / (4 + 1 failed + 1 cancelled)
    assert november.value("completion_rate") == pytest.approx(4 / 6)
    # durations of the 6 that ended, in seconds: N4 1800, N3 3600,
    # N1 10800, N7 14400, S 21600, N2 86400
    # median = (10800 + 14400) / 2 = 12600
    assert november.value("median_duration") == pytest.approx(12600)
    # mean = 138600 / 6 = 23100
    assert november.value("mean_duration") == pytest.approx(23100)


def test_november_collaboration_and_coverage(november: TeamReport) -> None:
    # shared by 1 Dec: N1 (bob), N4 (bob, carol); N5's share is on 2 Dec
    assert november.value("shared") == 2
    # 3 collaborators over 7 experiments created
    assert november.value("collaborators_per_experiment") == pytest.approx(3 / 7)
    # a commit: N1, N2 (dirty), N4, N7; N6's commit is "", N5 has none
    assert november.value("git_commit_coverage") == pytest.approx(4 / 7)
    # a commit and a clean tree: N1, N4, N7
    assert november.value("clean_tree_coverage") == pytest.approx(3 / 7)
    # a description or a note by 1 Dec: N1, N2 (note), N6, N7; N4's
    # description is blank and N5's note is from 2 Dec
    assert november.value("documentation_coverage") == pytest.approx(4 / 7)


def test_october_figures_for_comparison(november: TeamReport) -> None:
    expected_previous = {
        "created": 3,  # O1, O2, S
        "completed": 1,  # O1; S ended on 1 November
        "failed": 1,  # O2
        "cancelled": 0,
        "running": 1,  # S on 1 Nov 00:00
        "completion_rate": 1 / 2,
        "median_duration": 5400,  # (7200 + 3600) / 2
        "mean_duration": 5400,
        "researchers": 3,
        "shared": 0,
        "collaborators_per_experiment": 0.0,
        "git_commit_coverage": 1 / 3,  # O1
        "clean_tree_coverage": 1 / 3,
        "documentation_coverage": 1 / 3,  # O1's description
    }
    for key, value in expected_previous.items():
        assert november.figure(key).previous == pytest.approx(value), key


def test_changes_against_october(november: TeamReport) -> None:
    assert november.figure("created").change == 4  # 7 - 3
    assert november.figure("failed").change == 0  # 1 - 1
    assert november.figure("median_duration").change == pytest.approx(7200)
    # 4/6 - 1/2
    assert november.figure("completion_rate").change == pytest.approx(1 / 6)


def test_every_figure_is_reported(november: TeamReport) -> None:
    assert [figure.key for figure in november.figures] == [s.key for s in FIGURES]


def test_best_respects_directions(november: TeamReport) -> None:
    best = {metric.metric: metric for metric in november.best}
    # accuracy and loss come from S, N1, N2 (3 each), score from N1, N2;
    # N7 is private and X1 is another team's
    assert list(best) == ["accuracy", "loss", "score"]
    assert best["accuracy"].direction == MAXIMIZE
    assert [leader.value for leader in best["accuracy"].leaders] == [0.95, 0.90, 0.85]
    assert best["loss"].direction == MINIMIZE
    assert [leader.value for leader in best["loss"].leaders] == [0.2, 0.25, 0.30]


def test_best_honours_team_direction(november: TeamReport, team) -> None:
    score = next(metric for metric in november.best if metric.metric == "score")
    # The team set `score` to minimize; S's -inf summary is left out.
    assert score.direction == MINIMIZE
    assert [leader.experiment_id for leader in score.leaders] == [
        team.ids["N2"],
        team.ids["N1"],
    ]
    assert score.reported_by == 2


def test_best_names_the_spanning_experiment(november: TeamReport, team) -> None:
    accuracy = november.best[0]
    assert accuracy.leaders[0].experiment_id == team.ids["S"]
    assert accuracy.leaders[0].researcher == "carol"


def test_projects_counted_by_date(november: TeamReport) -> None:
    # mt: created N1, N4, N6; ended S, N1 (completed), N4 (cancelled);
    # running N6. asr: N2 completed, N3 failed. lm: N7. "": N5 running.
    assert list(november.projects) == [
        GroupCounts("mt", created=3, completed=2, cancelled=1, running=1),
        GroupCounts("asr", created=2, completed=1, failed=1),
        GroupCounts("lm", created=1, completed=1),
        GroupCounts("", created=1, running=1),
    ]


def test_researchers_counted_by_date(november: TeamReport) -> None:
    # carol's completed run is S, created in October.
    assert list(november.researchers) == [
        GroupCounts("bob", created=2, completed=1, failed=1),
        GroupCounts("alice", created=2, completed=1, cancelled=1),
        GroupCounts("carol", created=2, completed=1, running=2),
        GroupCounts("dan", created=1, completed=1),
    ]


def test_failures_list_reasons(november: TeamReport, team) -> None:
    assert november.failures_total == 1
    assert november.failures[0].experiment_id == team.ids["N3"]
    assert november.failures[0].reason == "CUDA out of memory"


def test_weeks_split_by_status(november: TeamReport) -> None:
    counts = [
        (bucket.label, {k: v for k, v in bucket.counts.items() if v})
        for bucket in november.buckets
    ]
    assert counts == [
        ("1 Nov", {}),
        ("2-8 Nov", {"completed": 2, "failed": 1}),  # N1, N2, N3
        ("9-15 Nov", {"completed": 1, "cancelled": 1}),  # N7, N4
        ("16-22 Nov", {"running": 1}),  # N5
        ("23-29 Nov", {"running": 1}),  # N6 ended after the month
        ("30 Nov", {}),
    ]


def test_october_counts_spanning_experiment(report_tracker: Tracker, team) -> None:
    october = monthly_report(report_tracker, TEAM, 2026, 10)
    # S is created and still running at October's end.
    assert october.value("created") == 3
    assert october.value("running") == 1
    assert october.value("completed") == 1


def test_empty_month_has_undefined_rates(report_tracker: Tracker, team) -> None:
    report = monthly_report(report_tracker, TEAM, 2026, 8)
    assert report.value("created") == 0
    assert report.value("completion_rate") is None
    assert report.value("median_duration") is None
    assert report.value("documentation_coverage") is None
    assert report.value("collaborators_per_experiment") is None
    assert report.best == ()
    assert report.projects == ()


def test_only_running_team(tracker: Tracker, clock: FakeClock) -> None:
    clock.now = utc(11, 3)
    for name in ("a", "b"):
        tracker.track(name, team="rl", researcher="eve", capture=False)
    clock.now = utc(12, 2)
    report = monthly_report(tracker, "rl", 2026, 11)
    assert report.value("running") == 2
    assert report.value("completion_rate") is None
    assert report.value("mean_duration") is None
    assert report.best == ()
    assert report.failures == ()


def test_month_so_far_cuts_at_now(built, team) -> None:
    tracker, clock, _ = built
    clock.now = utc(11, 4, 12)
    report = monthly_report(tracker, TEAM, 2026, 11)
    # By 4 Nov 12:00: created N1, N2; ended S, N1, N2.
    assert report.complete is False
    assert report.value("created") == 2
    assert report.value("completed") == 3


def test_future_month_is_rejected(tracker: Tracker, clock: FakeClock) -> None:
    clock.now = utc(11, 4)
    with pytest.raises(InvalidInput, match="2027-01"):
        monthly_report(tracker, TEAM, 2027, 1)


def test_iso_week_report(report_tracker: Tracker, team) -> None:
    report = weekly_report(report_tracker, TEAM, 2026, 45)
    # Week 45 is Mon 2 Nov - Sun 8 Nov: created N1, N2, N3; ended N1, N2
    # (completed) and N3 (failed).
    assert report.period.label == "2026-W45"
    assert report.value("created") == 3
    assert report.value("completed") == 2
    assert report.value("failed") == 1
    # Week 44 (26 Oct - 1 Nov): created S; S completed on 1 Nov.
    assert report.figure("created").previous == 1
    assert report.figure("completed").previous == 1
    assert [bucket.label for bucket in report.buckets][0] == "Mon 2"


def test_report_to_dict_is_json_ready(november: TeamReport) -> None:
    data = json.loads(json.dumps(november.to_dict()))
    assert data["figures"]["completion_rate"]["previous"] == 0.5
    assert data["period"]["label"] == "2026-11"
    assert data["failures"][0]["ended_at"] == "2026-11-05T10:00:00+00:00"


def test_tracker_report_method(report_tracker: Tracker, team) -> None:
    report = report_tracker.report(TEAM, 2026, 11, "UTC")
    assert report.value("created") == 7
