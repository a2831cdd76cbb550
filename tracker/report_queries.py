"""The SQL behind a team report: counts, group-bys and durations.

Every function takes a `Window`: one team's experiments between `start`
(inclusive) and `cutoff` (exclusive, the period's end or now if sooner).
Each query is a single aggregate or a short ranked list, so a report
costs a few dozen indexed queries however many experiments the team has.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from tracker import models
from tracker.directions import MINIMIZE

E = models.Experiment

# Every finite float lies in this range, and NaN (which PostgreSQL sorts
# above every number) and the infinities do not. Validation rejects them,
# but a row written by other tools must still not win a leaderboard.
_FINITE_MIN = -1.0e308
_FINITE_MAX = 1.0e308


@dataclass(frozen=True)
class Window:
    team: str
    start: dt.datetime
    cutoff: dt.datetime


def _created(window: Window) -> ColumnElement[bool]:
    return and_(
        E.team == window.team,
        E.created_at >= window.start,
        E.created_at < window.cutoff,
    )


def _ended(window: Window) -> ColumnElement[bool]:
    return and_(
        E.team == window.team,
        E.ended_at.is_not(None),
        E.ended_at >= window.start,
        E.ended_at < window.cutoff,
    )


def status_at(moment: dt.datetime) -> ColumnElement[Any]:
    """Return the status an experiment had at `moment` (running if not yet ended)."""
    ended_before = and_(E.ended_at.is_not(None), E.ended_at < moment)
    return case((ended_before, E.status), else_=literal("running"))


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def cohort_figures(session: Session, window: Window) -> dict[str, int]:
    """Count the experiments created in the window and their coverage."""
    commit = func.coalesce(E.reproducibility["git_commit"].as_string(), "")
    has_commit = commit != ""
    clean = and_(has_commit, E.reproducibility["git_dirty"].as_boolean() == false())

    has_note = exists().where(
        models.Note.experiment_id == E.id, models.Note.created_at < window.cutoff
    )
    documented = or_(func.trim(E.description) != "", has_note)
    shared = exists().where(
        models.Collaborator.experiment_id == E.id,
        models.Collaborator.added_at < window.cutoff,
    )

    row = session.execute(
        select(
            func.count(),
            func.count(func.distinct(E.researcher)),
            _count_if(shared),
            _count_if(has_commit),
            _count_if(clean),
            _count_if(documented),
        ).where(_created(window))
    ).one()
    collaborators = session.scalar(
        select(func.count())
        .select_from(models.Collaborator)
        .join(E, E.id == models.Collaborator.experiment_id)
        .where(_created(window), models.Collaborator.added_at < window.cutoff)
    )

    keys = (
        "created",
        "researchers",
        "shared",
        "git_commit",
        "clean_tree",
        "documented",
    )
    figures = {key: int(value) for key, value in zip(keys, row, strict=True)}
    figures["collaborators"] = int(collaborators or 0)
    return figures


def outcome_counts(session: Session, window: Window) -> dict[str, int]:
    """Count experiments that ended in the window, by final status."""
    rows = session.execute(
        select(E.status, func.count()).where(_ended(window)).group_by(E.status)
    ).all()
    counts = dict.fromkeys(models.FINISHED_STATUSES, 0)
    counts.update({status: int(count) for status, count in rows})
    return counts


def open_at(team: str, moment: dt.datetime, *columns: Any) -> CompoundSelect:
    """Select `columns` of the team's experiments open at `moment`.

    Open means created before `moment` and not ended by it. The two parts
    are disjoint (no end time, or an end at or after `moment`) and each
    reads an index range: the experiments running now, and those that
    ended after `moment`. A single OR would make SQLite read every
    experiment the team created before `moment`. A row whose status is
    running has no end time, because ending sets both together.
    """
    created_before = and_(E.team == team, E.created_at < moment)
    still_running = select(*columns).where(
        created_before, E.status == "running", E.ended_at.is_(None)
    )
    ended_later = select(*columns).where(created_before, E.ended_at >= moment)
    return union_all(still_running, ended_later)


def running_at(session: Session, team: str, moment: dt.datetime) -> int:
    """Count the team's experiments created before `moment` and not ended by it."""
    rows = open_at(team, moment, E.id).subquery()
    total = session.scalar(select(func.count()).select_from(rows))
    return int(total or 0)


def durations(session: Session, window: Window) -> tuple[float | None, float | None]:
    """Return (mean, median) seconds from start to end of experiments ended.

    Experiments without a start time, or whose start is after their end
    (a clock skew on the training host), are left out.
    """
    # A period's ended experiments are few, so the durations are fetched
    # and reduced here. The WHERE clause names only the window, which keeps
    # the query on the (team, ended_at) index, and math.fsum makes the mean
    # the same on every backend.
    rows = session.scalars(select(E.duration_seconds).where(_ended(window)))
    seconds = sorted(value for value in rows if value is not None and value >= 0)
    if not seconds:
        return None, None
    count = len(seconds)
    middle = seconds[(count - 1) // 2 : count // 2 + 1]
    return math.fsum(seconds) / count, math.fsum(middle) / len(middle)


def group_counts(
    session: Session, window: Window, column: Any
) -> dict[str, dict[str, int]]:
    """Count per value of `column`: created, ended by status, running at cutoff."""
    groups: dict[str, dict[str, int]] = {}

    def add(rows: Sequence[Any], key: str | None = None) -> None:
        for name, status, count in rows:
            counts = groups.setdefault(name, {})
            counts[key or status] = counts.get(key or status, 0) + int(count)

    add(
        session.execute(
            select(column, literal("created"), func.count())
            .where(_created(window))
            .group_by(column)
        ).all(),
        "created",
    )
    add(
        session.execute(
            select(column, E.status, func.count())
            .where(_ended(window))
            .group_by(column, E.status)
        ).all()
    )
    running = open_at(window.team, window.cutoff, column.label("name")).subquery()
    add(
        session.execute(
            select(running.c.name, literal("running"), func.count()).group_by(
                running.c.name
            )
        ).all(),
        "running",
    )
    return groups


def created_by_bucket(
    session: Session,
    window: Window,
    bounds: Sequence[tuple[dt.datetime, dt.datetime]],
) -> list[dict[str, int]]:
    """Count experiments created in each (start, end) bucket by status at cutoff."""
    if not bounds:
        return []
    index = case(
        *[
            (and_(E.created_at >= start, E.created_at < end), position)
            for position, (start, end) in enumerate(bounds)
        ],
        else_=-1,
    )
    status = status_at(window.cutoff)
    rows = session.execute(
        select(index, status, func.count())
        .where(_created(window))
        .group_by(index, status)
    ).all()
    buckets: list[dict[str, int]] = [dict.fromkeys(models.STATUSES, 0) for _ in bounds]
    for position, state, count in rows:
        if 0 <= position < len(buckets):
            buckets[position][state] += int(count)
    return buckets


def _completed_team_visible(window: Window) -> ColumnElement[bool]:
    return and_(_ended(window), E.status == "completed", E.visibility == "team")


def main_metrics(session: Session, window: Window, limit: int) -> list[tuple[str, int]]:
    """Return the metric names most often reported by experiments completed.

    Only team-visible experiments count, because the report names them.
    """
    summary = models.MetricSummary
    rows = session.execute(
        select(summary.key, func.count())
        .join(E, E.id == summary.experiment_id)
        .where(
            _completed_team_visible(window),
            summary.value.between(_FINITE_MIN, _FINITE_MAX),
        )
        .group_by(summary.key)
        .order_by(func.count().desc(), summary.key)
        .limit(limit)
    ).all()
    return [(key, int(count)) for key, count in rows]


def metric_leaders(
    session: Session, window: Window, metric: str, direction: str, limit: int
) -> list[tuple[float, str, str, str]]:
    """Return (value, id, name, researcher) of the best experiments on `metric`."""
    summary = models.MetricSummary
    best_first = summary.value.asc() if direction == MINIMIZE else summary.value.desc()
    statement = (
        select(summary.value, E.id, E.name, E.researcher)
        .join(E, E.id == summary.experiment_id)
        .where(
            _completed_team_visible(window),
            summary.key == metric,
            summary.value.between(_FINITE_MIN, _FINITE_MAX),
        )
        # Ties go to the experiment that got there first.
        .order_by(best_first, E.ended_at, E.id)
        .limit(limit)
    )
    return [
        (float(value), experiment_id, name, researcher)
        for value, experiment_id, name, researcher in session.execute(statement)
    ]


def failures(
    session: Session, window: Window, limit: int
) -> tuple[list[models.Experiment], int]:
    """Return the first `limit` team-visible failures of the window, and their total."""
    condition = and_(_ended(window), E.status == "failed", E.visibility == "team")
    total = session.scalar(select(func.count()).where(condition)) or 0
    rows = session.scalars(
        select(E).where(condition).order_by(E.ended_at, E.id).limit(limit)
    ).all()
    return list(rows), int(total)
