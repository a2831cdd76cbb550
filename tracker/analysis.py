"""Team summary, experiment comparison and metric leaderboards, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Float, Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from tracker import configs, models, validation
from tracker.directions import MINIMIZE, is_better
from tracker.errors import InvalidInput
from tracker.query import And, Field, Not, Or, Query
from tracker.records import (
    BestResult,
    Comparison,
    ExperimentRecord,
    LeaderboardEntry,
    MetricComparison,
    ProjectProgress,
    Summary,
)

if TYPE_CHECKING:
    from tracker.api import Tracker

TOP_TAGS = 20
TOP_METRICS = 5
LATEST_COMPLETED = 5
MAX_COMPARED = 10


def visible_to(viewer: str | None) -> ColumnElement[bool]:
    """Rows a viewer may see: team-visible ones, or private ones they are in."""
    if viewer is None:
        return models.Experiment.id.is_not(None)
    collaborates = (
        select(models.Collaborator.experiment_id)
        .where(
            models.Collaborator.experiment_id == models.Experiment.id,
            models.Collaborator.handle == viewer,
        )
        .exists()
    )
    return or_(
        models.Experiment.visibility == "team",
        models.Experiment.researcher == viewer,
        collaborates,
    )


def duration_seconds(dialect: str) -> ColumnElement[float]:
    """Seconds from started to ended, as the backend computes them."""
    started, ended = models.Experiment.started_at, models.Experiment.ended_at
    if dialect == "sqlite":
        return (func.julianday(ended) - func.julianday(started)) * 86400.0
    return func.extract("epoch", ended - started).cast(Float)


def completion_rate(counts: dict[str, int]) -> float | None:
    """Completed over all that ended; None when nothing has ended yet."""
    ended = counts.get("completed", 0) + counts.get("failed", 0)
    ended += counts.get("cancelled", 0)
    if ended == 0:
        return None
    return counts.get("completed", 0) / ended


def duration_stats(
    session: Session, scope: ColumnElement[bool], dialect: str
) -> tuple[float | None, float | None]:
    """Return mean and median duration of ended experiments in `scope`."""
    seconds = duration_seconds(dialect)
    ended = and_(
        scope,
        models.Experiment.ended_at.is_not(None),
        models.Experiment.started_at.is_not(None),
    )
    count, mean = session.execute(
        select(func.count(), func.avg(seconds)).where(ended)
    ).one()
    if not count:
        return None, None
    # The median is the middle row (or the mean of the two middle rows) of
    # the durations in order, fetched with OFFSET instead of loading all.
    middle = select(seconds).where(ended).order_by(seconds)
    offset = (count - 1) // 2
    take = 2 if count % 2 == 0 else 1
    values = session.scalars(middle.offset(offset).limit(take)).all()
    median = sum(float(v) for v in values) / len(values)
    return float(mean), median


def summarize(tracker: Tracker, *, team: str | None, viewer: str | None) -> Summary:
    scope = visible_to(viewer)
    if team is not None:
        scope = and_(scope, models.Experiment.team == team)
    dialect = tracker.db.dialect
    with tracker.db.read() as session:
        counts = _count_by(session, models.Experiment.status, scope)
        by_status = {status: counts.get(status, 0) for status in models.STATUSES}
        mean, median = duration_stats(session, scope, dialect)
        return Summary(
            team=team,
            total=sum(counts.values()),
            by_status=by_status,
            completion_rate=completion_rate(by_status),
            mean_duration_seconds=mean,
            median_duration_seconds=median,
            researchers=_count_by(session, models.Experiment.researcher, scope),
            projects=_project_progress(session, scope),
            tags=_top_tags(session, scope),
            best=best_per_metric(tracker, session, scope, team or ""),
            latest_completed=_latest_completed(session, scope),
        )


def _count_by(
    session: Session, column: Any, scope: ColumnElement[bool]
) -> dict[str, int]:
    rows = session.execute(
        select(column, func.count()).where(scope).group_by(column).order_by(column)
    )
    return {key: count for key, count in rows}


def _project_progress(
    session: Session, scope: ColumnElement[bool]
) -> list[ProjectProgress]:
    status = models.Experiment.status
    counts = [func.sum(case((status == s, 1), else_=0)) for s in models.STATUSES]
    rows = session.execute(
        select(models.Experiment.project, func.count(), *counts)
        .where(scope)
        .group_by(models.Experiment.project)
        .order_by(func.count().desc(), models.Experiment.project)
    )
    return [
        ProjectProgress(project, total, int(r), int(c), int(f), int(x))
        for project, total, r, c, f, x in rows
    ]


def _top_tags(session: Session, scope: ColumnElement[bool]) -> dict[str, int]:
    rows = session.execute(
        select(models.Tag.tag, func.count())
        .join(models.Experiment, models.Experiment.id == models.Tag.experiment_id)
        .where(scope)
        .group_by(models.Tag.tag)
        .order_by(func.count().desc(), models.Tag.tag)
        .limit(TOP_TAGS)
    )
    return {tag: count for tag, count in rows}


def _latest_completed(
    session: Session, scope: ColumnElement[bool]
) -> list[ExperimentRecord]:
    from tracker.lookup import EAGER_OPTIONS

    rows = session.scalars(
        select(models.Experiment)
        .where(scope, models.Experiment.status == "completed")
        .order_by(models.Experiment.ended_at.desc(), models.Experiment.id)
        .limit(LATEST_COMPLETED)
        .options(*EAGER_OPTIONS)
    )
    return [ExperimentRecord.from_model(row) for row in rows]


def best_per_metric(
    tracker: Tracker,
    session: Session,
    scope: ColumnElement[bool],
    team: str,
    limit: int = TOP_METRICS,
) -> list[BestResult]:
    """Return the best completed experiment for each of the most logged metrics.

    Only completed experiments count as results: a failed or cancelled run
    can stop at a lucky value that it never reached at the end.
    """
    direction_of = tracker.directions(team)
    summary = models.MetricSummary
    scope = and_(scope, models.Experiment.status == "completed")
    keys = session.scalars(
        select(summary.key)
        .join(models.Experiment, models.Experiment.id == summary.experiment_id)
        .where(scope)
        .group_by(summary.key)
        .order_by(func.count().desc(), summary.key)
        .limit(limit)
    ).all()
    results = []
    for key in keys:
        direction = direction_of(key)
        order = summary.value.asc() if direction == MINIMIZE else summary.value.desc()
        row = session.execute(
            select(summary.value, models.Experiment.id, models.Experiment.name)
            .join(models.Experiment, models.Experiment.id == summary.experiment_id)
            .where(scope, summary.key == key)
            .order_by(order, models.Experiment.id)
            .limit(1)
        ).one()
        results.append(BestResult(key, direction, row[0], row[1], row[2]))
    return results


def compare(
    tracker: Tracker, identifiers: Sequence[str], *, viewer: str | None
) -> Comparison:
    """Return differing config keys and metrics side by side, best marked."""
    if len(identifiers) < 2:
        raise InvalidInput("Name at least two experiment ids to compare.")
    if len(identifiers) > MAX_COMPARED:
        raise InvalidInput(
            f"{len(identifiers)} experiments given; compare at most {MAX_COMPARED}."
        )
    records = tracker.get_many(identifiers, viewer=viewer)
    ids = list(dict.fromkeys(r.id for r in records))
    if len(ids) < 2:
        raise InvalidInput("The ids name the same experiment; give two different ones.")
    records = [next(r for r in records if r.id == i) for i in ids]
    direction_of = tracker.directions()
    differences = configs.diff({r.id: r.config for r in records})
    metrics = []
    for key in sorted({k for r in records for k in r.metrics}):
        direction = direction_of.for_team(records[0].team)(key)
        values = {r.id: r.metrics.get(key) for r in records}
        metrics.append(
            MetricComparison(key, direction, values, _best(values, direction))
        )
    return Comparison(records, differences, metrics)


def _best(values: dict[str, float | None], direction: str) -> str | None:
    best_id, best_value = None, None
    for identifier, value in values.items():
        if value is None:
            continue
        if best_value is None or is_better(value, best_value, direction):
            best_id, best_value = identifier, value
    return best_id


def names_status(node: Any) -> bool:
    """Return whether a parsed query has a `status:` term anywhere."""
    if isinstance(node, Field):
        return node.name == "status"
    if isinstance(node, Not):
        return names_status(node.operand)
    if isinstance(node, And | Or):
        return any(names_status(operand) for operand in node.operands)
    return False


def only_completed(query: Query) -> Query:
    completed = Field("status", "completed")
    where = completed if query.where is None else And((query.where, completed))
    return Query(where, query.sort)


def leaderboard(
    tracker: Tracker,
    metric: str,
    query: str,
    *,
    limit: int,
    viewer: str | None,
) -> list[LeaderboardEntry]:
    """Rank experiments with `metric` that match `query`, best first.

    Only completed experiments are ranked unless the query names a status
    itself, as in `status:running`, the same rule as the summary's best.
    """
    from tracker.lookup import EAGER_OPTIONS
    from tracker.query import parse
    from tracker.search import select_experiments

    metric = validation.metric_name(metric)
    limit = max(1, min(int(limit), 100))
    direction = tracker.directions()(metric)
    summary = models.MetricSummary
    parsed = parse(query)
    if not names_status(parsed.where):
        parsed = parse(
            f"({query}) status:completed" if query.strip() else "status:completed"
        )
    matching: Select[Any] = select_experiments(
        parsed,
        now=tracker.clock(),
        direction_of=tracker.directions(),
        viewer=viewer,
        limit=None,
        offset=0,
    )
    ids = matching.order_by(None).with_only_columns(models.Experiment.id)
    order = summary.value.asc() if direction == MINIMIZE else summary.value.desc()
    statement = (
        select(models.Experiment, summary.value)
        .join(summary, summary.experiment_id == models.Experiment.id)
        .where(summary.key == metric, models.Experiment.id.in_(ids))
        .order_by(order, models.Experiment.id)
        .limit(limit)
        .options(*EAGER_OPTIONS)
    )
    with tracker.db.read() as session:
        rows = session.execute(statement).unique().all()
        return [
            LeaderboardEntry(rank, value, ExperimentRecord.from_model(row))
            for rank, (row, value) in enumerate(rows, start=1)
        ]
