"""Writing metric points and summaries with Core statements.

Training loops log at every step, so this path skips the ORM's unit of
work: the points go in as one executemany INSERT, and the summaries as
one upsert per call whose `WHERE` keeps a summary from moving back to a
lower step. Summaries are read back only for metrics with a goal, where
the previous value decides whether a `threshold` event is due.

The summary rule: a summary follows the highest step, and a point without
a step counts as newer than any before it. A batch of several steps ends
with the summaries that logging its steps one call at a time would leave.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tracker import changes, directions, models
from tracker.write_access import table_of

POINTS = table_of(models.MetricPoint)
SUMMARIES = table_of(models.MetricSummary)
DIRECTIONS = table_of(models.MetricDirection)

# One step of a batch: the step (None for none) and its {metric: value}.
StepValues = tuple[int | None, Mapping[str, float]]
Goal = tuple[float, str]


@dataclass(frozen=True)
class Summary:
    value: float
    step: int | None
    # Whether a point without a step came at or before this one in the
    # batch, so that it replaces the stored summary whatever its step.
    forced: bool = False


def record_points(
    connection: Connection,
    experiment: Any,
    steps: Sequence[StepValues],
    now: dt.datetime,
) -> None:
    """Append the points of `steps` and move each metric's summary.

    `experiment` has `id`, `researcher` and `team`, and its row is locked
    (see `write_access.lock_experiment` and `lock_and_touch`).
    """
    rows = [
        {
            "experiment_id": experiment.id,
            "key": key,
            "value": value,
            "step": step,
            "logged_at": now,
        }
        for step, values in steps
        for key, value in values.items()
    ]
    if not rows:
        return
    connection.execute(_INSERT_POINTS, rows)

    latest = batch_summaries(steps)
    goals = metric_goals(connection, experiment.team, list(latest))
    if goals:
        # Before the upsert, because the events depend on the stored values.
        emit_thresholds(connection, experiment, steps, goals, now)
    upsert_summaries(connection, experiment.id, experiment.team, latest, now)


def emit_thresholds(
    connection: Connection,
    experiment: Any,
    steps: Sequence[StepValues],
    goals: Mapping[str, Goal],
    now: dt.datetime,
) -> None:
    """Write a `threshold` event for each point whose summary newly reaches its goal."""
    stored = stored_summaries(connection, experiment.id, list(goals))
    for key, value in threshold_crossings(steps, goals, stored):
        goal, direction = goals[key]
        payload = {"metric": key, "value": value, "goal": goal, "direction": direction}
        changes.emit_event(
            connection, experiment.id, "threshold", experiment.researcher, payload, now
        )


def batch_summaries(steps: Sequence[StepValues]) -> dict[str, Summary]:
    """Return each metric's summary after the batch, as if nothing were stored.

    A later point replaces the one before unless its step is lower. Points
    without a step mark the summary `forced`: from there on the stored
    summary no longer matters, because such a point replaces it.
    """
    latest: dict[str, Summary] = {}
    for step, values in steps:
        for key, value in values.items():
            current = latest.get(key)
            if step is None:
                latest[key] = Summary(value, None, forced=True)
            elif current is None:
                latest[key] = Summary(value, step)
            elif current.step is None or step >= current.step:
                latest[key] = Summary(value, step, current.forced)
    return latest


def upsert_summaries(
    connection: Connection,
    experiment_id: str,
    team: str,
    latest: Mapping[str, Summary],
    now: dt.datetime,
) -> None:
    """Insert or move the summaries, leaving any stored at a higher step.

    Forced summaries replace the stored one unconditionally, the others
    only when the stored summary has no step or a step no higher. `team`
    is the experiment's team, which each summary row stores a copy of.
    """
    dialect = connection.dialect.name
    forced = [(k, s) for k, s in latest.items() if s.forced]
    ordered = [(k, s) for k, s in latest.items() if not s.forced]
    for group, conditional in ((ordered, True), (forced, False)):
        if not group:
            continue
        statement = _summary_upsert(dialect, conditional)
        connection.execute(
            statement,
            [
                {
                    "experiment_id": experiment_id,
                    "key": key,
                    "value": summary.value,
                    "step": summary.step,
                    "updated_at": now,
                    "team": team,
                }
                for key, summary in group
            ],
        )


@functools.cache
def _summary_upsert(dialect: str, conditional: bool) -> Any:
    """Build the summary upsert once per dialect and kind."""
    insert_for = postgres_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_for(SUMMARIES)
    new = statement.excluded
    where = None
    if conditional:
        where = or_(SUMMARIES.c.step.is_(None), new.step >= SUMMARIES.c.step)
    return statement.on_conflict_do_update(
        index_elements=[SUMMARIES.c.experiment_id, SUMMARIES.c.key],
        set_={"value": new.value, "step": new.step, "updated_at": new.updated_at},
        where=where,
    )


def metric_goals(connection: Connection, team: str, keys: list[str]) -> dict[str, Goal]:
    """Return {metric: (goal, direction)} for metrics with a goal, team first."""
    rows = connection.execute(_SELECT_GOALS, {"keys": keys, "teams": [team, ""]})
    goals: dict[str, Goal] = {}
    for row_team, name, goal, direction in sorted(rows, key=lambda r: r[0] != ""):
        # Workspace rows sort first, so a team's own row overwrites them.
        if goal is not None:
            goals[name] = (goal, direction)
        elif row_team and name in goals:
            del goals[name]
    return goals


def stored_summaries(
    connection: Connection, experiment_id: str, keys: list[str]
) -> dict[str, Summary]:
    rows = connection.execute(
        _SELECT_SUMMARIES, {"experiment_id": experiment_id, "keys": keys}
    )
    return {key: Summary(value, step) for key, value, step in rows}


def threshold_crossings(
    steps: Sequence[StepValues],
    goals: Mapping[str, Goal],
    stored: Mapping[str, Summary],
) -> list[tuple[str, float]]:
    """Return (metric, value) for each point that moves a summary past its goal.

    The points are replayed in order from the stored summaries, so a batch
    raises the events that logging its steps one at a time would.
    """
    current = dict(stored)
    crossings = []
    for step, values in steps:
        for key, value in values.items():
            if key not in goals:
                continue
            summary = current.get(key)
            if _is_older(step, summary):
                continue
            previous = summary.value if summary else None
            current[key] = Summary(value, step)
            if _crosses(previous, value, goals[key]):
                crossings.append((key, value))
    return crossings


def _is_older(step: int | None, current: Summary | None) -> bool:
    """Return whether a point logged at `step` is behind the summary's step."""
    if current is None or step is None or current.step is None:
        return False
    return step < current.step


def _crosses(previous: float | None, value: float, goal: Goal) -> bool:
    target, direction = goal
    reached_now = directions.reaches(value, target, direction)
    reached_before = previous is not None and directions.reaches(
        previous, target, direction
    )
    return reached_now and not reached_before


# Built once, because a training loop runs them at every step. Building them
# on each call took almost half of `log_metrics`' CPU time under cProfile.
_INSERT_POINTS = insert(POINTS)
_SELECT_GOALS = select(
    DIRECTIONS.c.team, DIRECTIONS.c.name, DIRECTIONS.c.goal, DIRECTIONS.c.direction
).where(
    DIRECTIONS.c.name.in_(bindparam("keys", expanding=True)),
    DIRECTIONS.c.team.in_(bindparam("teams", expanding=True)),
)
_SELECT_SUMMARIES = select(SUMMARIES.c.key, SUMMARIES.c.value, SUMMARIES.c.step).where(
    SUMMARIES.c.experiment_id == bindparam("experiment_id"),
    SUMMARIES.c.key.in_(bindparam("keys", expanding=True)),
)
