"""Team summary, experiment comparison and metric leaderboards, in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    and_,
    func,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

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
    return or_(
        models.Experiment.visibility == "team",
        models.Experiment.researcher == viewer,
        _collaborates(viewer),
    )


def _collaborates(viewer: str) -> ColumnElement[bool]:
    """Return the condition that `viewer` is a collaborator on the experiment."""
    return (
        select(models.Collaborator.experiment_id)
        .where(
            models.Collaborator.experiment_id == models.Experiment.id,
            models.Collaborator.handle == viewer,
        )
        .exists()
    )


def completion_rate(counts: dict[str, int]) -> float | None:
    """Completed over all that ended; None when nothing has ended yet."""
    ended = counts.get("completed", 0) + counts.get("failed", 0)
    ended += counts.get("cancelled", 0)
    if ended == 0:
        return None
    return counts.get("completed", 0) / ended


def duration_stats(
    session: Session, scope: ColumnElement[bool]
) -> tuple[float | None, float | None]:
    """Return mean and median duration of ended experiments in `scope`."""
    seconds = models.Experiment.duration_seconds
    ended = and_(scope, seconds.is_not(None))
    count, mean = session.execute(
        select(func.count(), func.avg(seconds)).where(ended)
    ).one()
    if not count:
        return None, None
    # The median is the middle row (or the mean of the two middle rows) of
    # the durations in index order, fetched with OFFSET instead of loading all.
    middle = select(seconds).where(ended).order_by(seconds)
    offset = (count - 1) // 2
    take = 2 if count % 2 == 0 else 1
    values: list[float] = []
    for value in session.scalars(middle.offset(offset).limit(take)):
        assert value is not None, "the query keeps non-null durations only"
        values.append(float(value))
    return float(mean), sum(values) / len(values)


@dataclass(frozen=True)
class _GroupCount:
    project: str
    researcher: str
    status: str
    count: int


def hidden_from(viewer: str | None, team: str | None) -> Select[Any] | None:
    """Select the ids of the private experiments that `viewer` may not see.

    These are the private experiments of `team` (of every team when it is
    None) that the viewer neither owns nor collaborates on. SQLite reads
    them through ix_experiments_visibility_team. Returns None without a
    viewer, because then no experiment is hidden.
    """
    if viewer is None:
        return None
    experiment = models.Experiment
    hidden = select(experiment.id).where(
        experiment.visibility == "private",
        experiment.researcher != viewer,
        ~_collaborates(viewer),
    )
    if team is not None:
        hidden = hidden.where(experiment.team == team)
    return hidden


def summary_scope(team: str | None, viewer: str | None) -> ColumnElement[bool]:
    """Return the condition on experiments of `team` that `viewer` may see."""
    scope = visible_to(viewer)
    if team is not None:
        scope = and_(scope, models.Experiment.team == team)
    return scope


def summarize(tracker: Tracker, *, team: str | None, viewer: str | None) -> Summary:
    scope = summary_scope(team, viewer)
    with tracker.db.read() as session:
        groups = _group_counts(session, scope)
        counts = _total_by(groups, "status")
        by_status = {status: counts.get(status, 0) for status in models.STATUSES}
        mean, median = duration_stats(session, scope)
        return Summary(
            team=team,
            total=sum(counts.values()),
            by_status=by_status,
            completion_rate=completion_rate(by_status),
            mean_duration_seconds=mean,
            median_duration_seconds=median,
            researchers=_total_by(groups, "researcher"),
            projects=_project_progress(groups),
            tags=_top_tags(session, team, viewer),
            best=best_per_metric(tracker, session, team=team, viewer=viewer),
            latest_completed=_latest_completed(session, scope),
        )


def _group_counts(session: Session, scope: ColumnElement[bool]) -> list[_GroupCount]:
    """Count experiments per (project, researcher, status) in one index scan.

    The status, researcher and project figures are all sums of these rows.
    """
    E = models.Experiment
    rows = session.execute(
        select(E.project, E.researcher, E.status, func.count())
        .where(scope)
        .group_by(E.project, E.researcher, E.status)
    )
    return [_GroupCount(p, r, s, int(c)) for p, r, s, c in rows]


def _total_by(groups: list[_GroupCount], attribute: str) -> dict[str, int]:
    """Sum the counts per value of one attribute, keys in code point order.

    Sorting here, not in SQL, gives the same order on every backend
    whatever the database's collation.
    """
    totals: dict[str, int] = {}
    for group in groups:
        key = getattr(group, attribute)
        totals[key] = totals.get(key, 0) + group.count
    return dict(sorted(totals.items()))


def _project_progress(groups: list[_GroupCount]) -> list[ProjectProgress]:
    by_project: dict[str, dict[str, int]] = {}
    for group in groups:
        counts = by_project.setdefault(group.project, {})
        counts[group.status] = counts.get(group.status, 0) + group.count
    progress = [
        ProjectProgress(
            project,
            sum(counts.values()),
            counts.get("running", 0),
            counts.get("completed", 0),
            counts.get("failed", 0),
            counts.get("cancelled", 0),
        )
        for project, counts in by_project.items()
    ]
    progress.sort(key=lambda p: (-p.total, p.project))
    return progress


def _top_tags(session: Session, team: str | None, viewer: str | None) -> dict[str, int]:
    counts = count_experiments_by(session, models.Tag.tag, team, viewer)
    return dict(_most_common(counts.items(), TOP_TAGS))


def count_experiments_by(
    session: Session,
    column: InstrumentedAttribute[str],
    team: str | None,
    viewer: str | None,
) -> dict[str, int]:
    """Count the experiments per value of a tag or metric key column.

    `column` is `Tag.tag` or `MetricSummary.key`. The count covers all of
    the team's rows, read from the (team, tag) or (team, key) index, or all
    rows when `team` is None. It then subtracts the rows of the private
    experiments that the viewer may not see, which are few, instead of
    joining every row to its experiment to check who may see it. Values
    whose count drops to zero are left out.
    """
    table = column.class_
    statement = select(column, func.count()).group_by(column)
    in_team = statement if team is None else statement.where(table.team == team)
    counted: Select[str, int] | CompoundSelect[str, int] = in_team
    hidden = hidden_from(viewer, team)
    if hidden is not None:
        # No condition on the row's team here: SQLite would then read the
        # team's index range again instead of looking up the hidden ids.
        subtracted = (
            select(column, -func.count())
            .where(table.experiment_id.in_(hidden))
            .group_by(column)
        )
        # Both parts must read one snapshot, or a private experiment that
        # left the team between them is counted and never subtracted. One
        # statement ensures that even outside a REPEATABLE READ transaction.
        counted = union_all(in_team, subtracted)
    counts: dict[str, int] = {}
    for value, count in session.execute(counted):
        counts[value] = counts.get(value, 0) + int(count)
    return {value: count for value, count in counts.items() if count > 0}


def _most_common(rows: Iterable[Any], limit: int) -> list[tuple[str, int]]:
    """Return the `limit` (name, count) pairs with the highest count.

    Ties go to the name first in code point order. Sorting in Python keeps
    that order the same on every backend, and the rows are one per distinct
    name, so there are few of them.
    """
    pairs = [(str(name), int(count)) for name, count in rows]
    pairs.sort(key=lambda pair: (-pair[1], pair[0]))
    return pairs[:limit]


def _latest_completed(
    session: Session, scope: ColumnElement[bool]
) -> list[ExperimentRecord]:
    from tracker.lookup import load_records

    ids = session.scalars(
        select(models.Experiment.id)
        .where(scope, models.Experiment.status == "completed")
        .order_by(models.Experiment.ended_at.desc(), models.Experiment.id)
        .limit(LATEST_COMPLETED)
    ).all()
    return load_records(session.connection(), ids)


def best_per_metric(
    tracker: Tracker,
    session: Session,
    *,
    team: str | None,
    viewer: str | None,
    limit: int = TOP_METRICS,
) -> list[BestResult]:
    """Return the best completed experiment for each of the most logged metrics.

    The metrics are ranked by how many of the experiments in scope (the
    team's experiments that `viewer` may see) have a value for them,
    whatever their status, with ties broken by name. Only completed
    experiments count as results: a failed or cancelled run can stop at a
    lucky value that it never reached at the end. A metric that no
    completed experiment in scope has is skipped and the next one takes its
    place, so the result has `limit` entries unless fewer metrics qualify.
    """
    direction_of = tracker.directions(team or "")
    counts = count_experiments_by(session, models.MetricSummary.key, team, viewer)
    completed = and_(
        summary_scope(team, viewer), models.Experiment.status == "completed"
    )
    best: list[tuple[str, float, str]] = []
    for key, _ in _most_common(counts.items(), len(counts)):
        found = _best_value(session, completed, key, direction_of(key))
        if found is None:
            continue
        best.append((key, *found))
        if len(best) == limit:
            break
    ids = [experiment_id for _, _, experiment_id in best]
    names: dict[str, str] = {}
    if ids:
        rows = session.execute(
            select(models.Experiment.id, models.Experiment.name).where(
                models.Experiment.id.in_(ids)
            )
        )
        names = {experiment_id: name for experiment_id, name in rows}
    return [
        BestResult(key, direction_of(key), value, experiment_id, names[experiment_id])
        for key, value, experiment_id in best
    ]


def _best_value(
    session: Session, scope: ColumnElement[bool], key: str, direction: str
) -> tuple[float, str] | None:
    """Return (value, experiment id) of the best value of `key` within `scope`.

    Returns None when no experiment in scope has the key. The query walks
    the (key, value) index from the best value and checks each experiment
    with EXISTS, so it stops at the first one in scope. As a join, SQLite
    would read all of the team's completed experiments and sort them
    instead.
    """
    summary = models.MetricSummary
    order = summary.value.asc() if direction == MINIMIZE else summary.value.desc()
    in_scope = (
        select(models.Experiment.id)
        .where(models.Experiment.id == summary.experiment_id, scope)
        .exists()
    )
    found = session.execute(
        select(summary.value, summary.experiment_id)
        .where(summary.key == key, in_scope)
        .order_by(order, summary.experiment_id)
        .limit(1)
    ).first()
    if found is None:
        return None
    return found.value, found.experiment_id


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
    from tracker.lookup import load_records
    from tracker.query import parse
    from tracker.search import select_experiments

    metric = validation.metric_name(metric)
    try:
        limit = max(1, min(int(limit), 100))
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            f"Invalid leaderboard limit {limit!r}: pass a whole number from 1 to 100."
        ) from None
    direction_of = tracker.directions()
    direction = direction_of(metric)
    summary = models.MetricSummary
    parsed = parse(query)
    if parsed.sort:
        raise InvalidInput(
            f"A leaderboard is ranked by {metric}, so its query cannot sort: "
            f"remove the sort: term from `{query}`."
        )
    if not names_status(parsed.where):
        parsed = only_completed(parsed)
    matching: Select[Any] = select_experiments(
        parsed,
        now=tracker.clock(),
        direction_of=direction_of,
        viewer=viewer,
        limit=None,
        offset=0,
    )
    ids = matching.order_by(None).with_only_columns(models.Experiment.id)
    order = summary.value.asc() if direction == MINIMIZE else summary.value.desc()
    statement = (
        select(models.Experiment.id, summary.value)
        .join(summary, summary.experiment_id == models.Experiment.id)
        .where(summary.key == metric, models.Experiment.id.in_(ids))
        .order_by(order, models.Experiment.id)
        .limit(limit)
    )
    with tracker.db.read() as session:
        connection = session.connection()
        ranked = connection.execute(statement).all()
        records = load_records(connection, [row.id for row in ranked])
    return [
        LeaderboardEntry(rank, row.value, record)
        for rank, (row, record) in enumerate(zip(ranked, records, strict=True), 1)
    ]
