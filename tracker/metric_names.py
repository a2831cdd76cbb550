"""The metric names that experiments have logged, for hints on misspelled names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from tracker.models import Experiment, MetricSummary
from tracker.search import visible_to

if TYPE_CHECKING:
    from tracker.api import Tracker


def known_metrics(
    tracker: Tracker, limit: int = 10, *, viewer: str | None = None
) -> list[str]:
    """Return up to `limit` metric names, those of the most experiments first.

    With a `viewer` handle, only experiments the viewer may see count, so
    the names of others' private experiments stay hidden.
    """
    experiments = func.count(MetricSummary.experiment_id)
    statement = _visible(select(MetricSummary.key), viewer)
    statement = (
        statement.group_by(MetricSummary.key)
        .order_by(experiments.desc(), MetricSummary.key)
        .limit(limit)
    )
    with tracker.db.read() as session:
        return list(session.scalars(statement))


def missing_metrics(
    tracker: Tracker, names: Iterable[str], *, viewer: str | None = None
) -> list[str]:
    """Return those of `names` that no experiment (visible to `viewer`) has."""
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    statement = _visible(
        select(MetricSummary.key).distinct().where(MetricSummary.key.in_(wanted)),
        viewer,
    )
    with tracker.db.read() as session:
        found = set(session.scalars(statement))
    return [name for name in wanted if name not in found]


def _visible(statement: Select[Any], viewer: str | None) -> Select[Any]:
    if viewer is None:
        return statement
    return statement.join(
        Experiment, Experiment.id == MetricSummary.experiment_id
    ).where(visible_to(viewer))
