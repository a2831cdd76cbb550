"""The metric names that experiments have logged, for hints on misspelled names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select

from tracker.grammar import plural_form
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


# Known names that a hint lists, and that suggestions are drawn from.
KNOWN_METRICS_LISTED = 8
KNOWN_METRICS_COMPARED = 500


def unknown_metrics_hint(
    tracker: Tracker, names: Iterable[str], *, viewer: str | None = None
) -> str:
    """Describe those of `names` that no experiment has, with close known names.

    Returns "" when every name is known. Suggestions come from the
    KNOWN_METRICS_COMPARED names that the most experiments have.
    """
    missing = missing_metrics(tracker, names, viewer=viewer)
    if not missing:
        return ""
    known = known_metrics(tracker, KNOWN_METRICS_COMPARED, viewer=viewer)
    quoted = ", ".join(f"`{name}`" for name in missing)
    noun = "metric" if len(missing) == 1 else plural_form("metric")
    text = f"No experiment has the {noun} {quoted}."
    if not known:
        return text + " None has logged a metric yet."
    close = [
        match
        for name in missing
        for match in difflib.get_close_matches(name, known, n=3)
    ]
    if close:
        suggested = " or ".join(f"`{name}`" for name in dict.fromkeys(close))
        text += f" Did you mean {suggested}?"
    listed = ", ".join(f"`{name}`" for name in known[:KNOWN_METRICS_LISTED])
    more = ", ..." if len(known) > KNOWN_METRICS_LISTED else ""
    return f"{text} Known metrics: {listed}{more}."


def _visible(statement: Select[Any], viewer: str | None) -> Select[Any]:
    if viewer is None:
        return statement
    return statement.join(
        Experiment, Experiment.id == MetricSummary.experiment_id
    ).where(visible_to(viewer))
