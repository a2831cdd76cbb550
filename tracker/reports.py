"""Team reports: what a team did in a calendar month or an ISO week.

Each figure is counted by the date that answers its question, and
`FIGURES` states which one:

- `created`: experiments whose creation time falls in the period, and the
  figures about that cohort (researchers, sharing, reproducibility and
  documentation coverage).
- `ended`: experiments whose end time falls in the period (completed,
  failed, cancelled, completion rate, durations, best results, failures).
- `at_end`: the state at the period's end (experiments still running).

So an experiment created on 31 October and completed on 2 November counts
as created and running at the end in October, and as completed (with its
whole duration) in November. Figures never use today's state for a past
period: a report regenerated later shows the same numbers, except that a
change made after the period with a back-dated time, such as a
collaborator, is seen as of its own time.

Counts include private experiments; named lists (best results, failures)
show team-visible experiments only, because a report is posted to a
channel.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from tracker import models, validation
from tracker import report_queries as queries
from tracker.directions import Directions
from tracker.errors import InvalidInput
from tracker.report_periods import Period, month_period, week_period

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from tracker.api import Tracker

COUNT = "count"
RATIO = "ratio"
SECONDS = "seconds"
NUMBER = "number"

CREATED = "created"
ENDED = "ended"
AT_END = "at_end"

MAX_METRICS = 5
MAX_LEADERS = 5
MAX_FAILURES = 20


@dataclass(frozen=True)
class FigureSpec:
    key: str
    label: str
    unit: str
    basis: str
    definition: str


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "created",
        "Experiments created",
        COUNT,
        CREATED,
        "experiments created in the period",
    ),
    FigureSpec(
        "completed",
        "Completed",
        COUNT,
        ENDED,
        "experiments that ended in the period as completed",
    ),
    FigureSpec(
        "failed",
        "Failed",
        COUNT,
        ENDED,
        "experiments that ended in the period as failed",
    ),
    FigureSpec(
        "cancelled",
        "Cancelled",
        COUNT,
        ENDED,
        "experiments that ended in the period as cancelled",
    ),
    FigureSpec(
        "running",
        "Running at period end",
        COUNT,
        AT_END,
        "experiments created before the period's end and not ended by it",
    ),
    FigureSpec(
        "completion_rate",
        "Completion rate",
        RATIO,
        ENDED,
        "completed / (completed + failed + cancelled) among experiments "
        "ended in the period; undefined when none ended",
    ),
    FigureSpec(
        "median_duration",
        "Median duration",
        SECONDS,
        ENDED,
        "median time from start to end of experiments ended in the period",
    ),
    FigureSpec(
        "mean_duration",
        "Mean duration",
        SECONDS,
        ENDED,
        "mean time from start to end of experiments ended in the period",
    ),
    FigureSpec(
        "researchers",
        "Active researchers",
        COUNT,
        CREATED,
        "researchers who created an experiment in the period",
    ),
    FigureSpec(
        "shared",
        "Shared experiments",
        COUNT,
        CREATED,
        "experiments created in the period with a collaborator by its end",
    ),
    FigureSpec(
        "collaborators_per_experiment",
        "Collaborators per experiment",
        NUMBER,
        CREATED,
        "collaborators added by the period's end per experiment created; "
        "undefined when none was created",
    ),
    FigureSpec(
        "git_commit_coverage",
        "With a git commit",
        RATIO,
        CREATED,
        "share of experiments created whose git commit was captured",
    ),
    FigureSpec(
        "clean_tree_coverage",
        "From a clean git tree",
        RATIO,
        CREATED,
        "share of experiments created whose commit was captured with no "
        "uncommitted changes",
    ),
    FigureSpec(
        "documentation_coverage",
        "Documented",
        RATIO,
        CREATED,
        "share of experiments created with a description or a note",
    ),
)
_SPECS = {spec.key: spec for spec in FIGURES}


@dataclass(frozen=True)
class Figure:
    """One figure of a report beside its value in the previous period."""

    key: str
    label: str
    unit: str
    basis: str
    value: float | None
    previous: float | None

    @property
    def change(self) -> float | None:
        """Return value - previous, or None when either is undefined."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "change": self.change}


@dataclass(frozen=True)
class Leader:
    rank: int
    value: float
    experiment_id: str
    name: str
    researcher: str


@dataclass(frozen=True)
class MetricBest:
    """The best completed experiments on one metric, best first by direction."""

    metric: str
    direction: str
    reported_by: int
    leaders: tuple[Leader, ...]


@dataclass(frozen=True)
class GroupCounts:
    """A project's or researcher's created, ended and running counts."""

    name: str
    created: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    running: int = 0


@dataclass(frozen=True)
class Failure:
    experiment_id: str
    name: str
    researcher: str
    project: str
    reason: str
    ended_at: dt.datetime


@dataclass(frozen=True)
class BucketCounts:
    """Experiments created in a slice of the period, by status at its end."""

    label: str
    start: dt.datetime
    end: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamReport:
    team: str
    period: Period
    previous_period: Period
    generated_at: dt.datetime
    # The period's end, or the generation time for a period not yet over.
    as_of: dt.datetime
    figures: tuple[Figure, ...]
    best: tuple[MetricBest, ...]
    projects: tuple[GroupCounts, ...]
    researchers: tuple[GroupCounts, ...]
    failures: tuple[Failure, ...]
    failures_total: int
    buckets: tuple[BucketCounts, ...]

    @property
    def complete(self) -> bool:
        return self.as_of >= self.period.end

    def figure(self, key: str) -> Figure:
        for figure in self.figures:
            if figure.key == key:
                return figure
        raise KeyError(key)

    def value(self, key: str) -> float | None:
        return self.figure(key).value

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict: timestamps as ISO 8601 strings."""
        return {
            "team": self.team,
            "period": self.period.to_dict(),
            "previous_period": self.previous_period.to_dict(),
            "generated_at": self.generated_at.isoformat(),
            "as_of": self.as_of.isoformat(),
            "complete": self.complete,
            "figures": {figure.key: figure.to_dict() for figure in self.figures},
            "best": [asdict(best) for best in self.best],
            "projects": [asdict(group) for group in self.projects],
            "researchers": [asdict(group) for group in self.researchers],
            "failures": [
                {**asdict(failure), "ended_at": failure.ended_at.isoformat()}
                for failure in self.failures
            ],
            "failures_total": self.failures_total,
            "buckets": [
                {
                    "label": bucket.label,
                    "start": bucket.start.isoformat(),
                    "end": bucket.end.isoformat(),
                    "counts": dict(bucket.counts),
                }
                for bucket in self.buckets
            ],
        }


# The name the Tracker API documents for `Tracker.report`'s result.
MonthlyReport = TeamReport


def monthly_report(
    tracker: Tracker, team: str, year: int, month: int, tz: str = "UTC"
) -> TeamReport:
    """Build the report of one calendar month in the time zone `tz`."""
    return build_report(tracker, team, month_period(year, month, tz))


def weekly_report(
    tracker: Tracker, team: str, year: int, week: int, tz: str = "UTC"
) -> TeamReport:
    """Build the report of ISO week `week` (Monday to Sunday) in `tz`."""
    return build_report(tracker, team, week_period(year, week, tz))


def build_report(tracker: Tracker, team: str, period: Period) -> TeamReport:
    team = validation.label(team, "team")
    now = tracker.clock()
    if now < period.start:
        raise InvalidInput(
            f"The period {period.label} has not started yet: pick one that "
            "starts before today."
        )
    window = queries.Window(team, period.start, min(period.end, now))
    previous = period.previous()
    previous_window = queries.Window(team, previous.start, previous.end)
    direction_of = tracker.directions(team)

    with tracker.db.read() as session:
        current = figure_values(session, window)
        before = figure_values(session, previous_window)
        best = _best_results(session, window, direction_of)
        projects = _groups(session, window, models.Experiment.project)
        researchers = _groups(session, window, models.Experiment.researcher)
        failed_rows, failures_total = queries.failures(session, window, MAX_FAILURES)
        failures = tuple(_failure(row) for row in failed_rows)
        buckets = _buckets(session, window, period)

    return TeamReport(
        team=team,
        period=period,
        previous_period=previous,
        generated_at=now,
        as_of=window.cutoff,
        figures=tuple(
            Figure(
                spec.key,
                spec.label,
                spec.unit,
                spec.basis,
                current[spec.key],
                before[spec.key],
            )
            for spec in FIGURES
        ),
        best=best,
        projects=projects,
        researchers=researchers,
        failures=failures,
        failures_total=failures_total,
        buckets=buckets,
    )


def figure_values(session: Session, window: queries.Window) -> dict[str, float | None]:
    """Compute every figure in `FIGURES` for one window."""
    cohort = queries.cohort_figures(session, window)
    outcomes = queries.outcome_counts(session, window)
    mean, median = queries.durations(session, window)
    created = cohort["created"]
    ended = sum(outcomes.values())
    values: dict[str, float | None] = {
        "created": created,
        "completed": outcomes["completed"],
        "failed": outcomes["failed"],
        "cancelled": outcomes["cancelled"],
        "running": queries.running_at(session, window.team, window.cutoff),
        "completion_rate": ratio(outcomes["completed"], ended),
        "median_duration": median,
        "mean_duration": mean,
        "researchers": cohort["researchers"],
        "shared": cohort["shared"],
        "collaborators_per_experiment": ratio(cohort["collaborators"], created),
        "git_commit_coverage": ratio(cohort["git_commit"], created),
        "clean_tree_coverage": ratio(cohort["clean_tree"], created),
        "documentation_coverage": ratio(cohort["documented"], created),
    }
    assert values.keys() == _SPECS.keys(), "every figure needs a value"
    return values


def ratio(part: int, whole: int) -> float | None:
    """Return part / whole, or None (undefined, shown as n/a) when whole is 0."""
    if whole == 0:
        return None
    return part / whole


def _best_results(
    session: Session, window: queries.Window, direction_of: Directions
) -> tuple[MetricBest, ...]:
    results = []
    for metric, reported_by in queries.main_metrics(session, window, MAX_METRICS):
        direction = direction_of(metric)
        rows = queries.metric_leaders(session, window, metric, direction, MAX_LEADERS)
        leaders = tuple(
            Leader(rank, value, experiment_id, name, researcher)
            for rank, (value, experiment_id, name, researcher) in enumerate(rows, 1)
            if math.isfinite(value)
        )
        if leaders:
            results.append(MetricBest(metric, direction, reported_by, leaders))
    return tuple(results)


def _groups(
    session: Session, window: queries.Window, column: Any
) -> tuple[GroupCounts, ...]:
    counts = queries.group_counts(session, window, column)
    groups = [GroupCounts(name, **values) for name, values in counts.items()]
    groups.sort(key=lambda g: (-g.created, -(g.completed + g.failed), g.name))
    return tuple(groups)


def _failure(row: models.Experiment) -> Failure:
    assert row.ended_at is not None, "a failed experiment has an end time"
    return Failure(
        experiment_id=row.id,
        name=row.name,
        researcher=row.researcher,
        project=row.project,
        reason=row.reason,
        ended_at=row.ended_at,
    )


def _buckets(
    session: Session, window: queries.Window, period: Period
) -> tuple[BucketCounts, ...]:
    slices = period.buckets()
    bounds = [(bucket.start, bucket.end) for bucket in slices]
    counts = queries.created_by_bucket(session, window, bounds)
    return tuple(
        BucketCounts(bucket.label, bucket.start, bucket.end, bucket_counts)
        for bucket, bucket_counts in zip(slices, counts, strict=True)
    )
