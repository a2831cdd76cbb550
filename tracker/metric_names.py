"""The metric names that experiments have logged, for hints on misspelled names."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from tracker.grammar import plural_form
from tracker.models import Experiment, MetricSummary
from tracker.search import visible_to

if TYPE_CHECKING:
    from tracker.api import Tracker


# Names read for `known_metrics`, in the database's sort order. A tracker
# with more distinct names lists only the first ones.
NAMES_READ = 2000
# Experiments counted per name before counting stops.
COUNT_CAP = 200


def known_metrics(
    tracker: Tracker, limit: int = 10, *, viewer: str | None = None
) -> list[str]:
    """Return up to `limit` metric names, those of the most experiments first.

    With a `viewer` handle, only experiments the viewer may see count, so
    the names of others' private experiments stay hidden. Counting stops at
    COUNT_CAP experiments per name, so names above it tie and come in name
    order. A GROUP BY over every summary took 1.2 s at 100,000 experiments.
    """
    with tracker.db.read() as session:
        counts = [
            (session.scalar(_count_with(name, viewer)) or 0, name)
            for name in _names(session)
        ]
    ranked = sorted((-count, name) for count, name in counts if count)
    return [name for _, name in ranked[:limit]]


def _names(session: Session) -> list[str]:
    """Return up to NAMES_READ distinct metric names in the database's order.

    Each step seeks the (key, value) index past the previous name, so the
    cost grows with the number of names, not with the number of summaries.
    """
    names: list[str] = []
    while len(names) < NAMES_READ:
        statement = select(func.min(MetricSummary.key))
        if names:
            statement = statement.where(MetricSummary.key > names[-1])
        name = session.scalar(statement)
        if name is None:
            break
        names.append(name)
    return names


def _count_with(name: str, viewer: str | None) -> Select[Any]:
    experiments = select(MetricSummary.experiment_id).where(MetricSummary.key == name)
    capped = _visible(experiments, viewer).limit(COUNT_CAP).subquery()
    return select(func.count()).select_from(capped)


def missing_metrics(
    tracker: Tracker, names: Iterable[str], *, viewer: str | None = None
) -> list[str]:
    """Return those of `names` that no experiment (visible to `viewer`) has.

    Each name is looked up with LIMIT 1, which stops at the first visible
    experiment. A DISTINCT over the join read every experiment with the
    name: 440 ms for a metric of 100,000 experiments, on every sorted search.
    """
    wanted = list(dict.fromkeys(names))
    if not wanted:
        return []
    with tracker.db.read() as session:
        return [
            name for name in wanted if session.scalar(_first_with(name, viewer)) is None
        ]


def _first_with(name: str, viewer: str | None) -> Select[Any]:
    statement = select(MetricSummary.experiment_id).where(MetricSummary.key == name)
    return _visible(statement, viewer).limit(1)


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
