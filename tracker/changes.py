"""Changes to an experiment row inside a write transaction.

The Tracker opens the transaction and loads the row. These functions
change it and add the rows that go with the change (metric points, config
versions, outbox events), so each public call stays one transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tracker import configs, directions, models
from tracker.errors import InvalidInput, InvalidTransition

logger = logging.getLogger(__name__)


def finish(
    row: models.Experiment,
    status: str,
    reason: str,
    ended_at: dt.datetime,
    now: dt.datetime,
) -> None:
    row.status = status
    row.reason = reason
    if reason:
        # Free-text search covers the failure reason, e.g. "out of memory".
        row.search_text = f"{row.search_text}\n{reason.lower()}"
    row.ended_at = ended_at
    # Stored so that summaries and reports read durations from an index.
    started = row.started_at
    row.duration_seconds = (ended_at - started).total_seconds() if started else None
    row.updated_at = now
    logger.info("experiment %s is %s", row.id, status)


def add_config_version(
    session: Session,
    row: models.Experiment,
    config: dict[str, Any],
    actor: str | None,
    now: dt.datetime,
) -> None:
    row.config_version += 1
    row.config = config
    session.add(
        models.ConfigVersion(
            experiment_id=row.id,
            version=row.config_version,
            config=config,
            author=actor or row.researcher,
            created_at=now,
        )
    )
    replace_config_params(session, row.id, config)


def record_metrics(
    session: Session,
    row: models.Experiment,
    values: Mapping[str, float],
    step: int | None,
    now: dt.datetime,
) -> None:
    if not values:
        return
    summaries = {m.key: m for m in row.metrics}
    goals = _goals(session, row.team, list(values))
    for key, value in values.items():
        session.add(
            models.MetricPoint(
                experiment_id=row.id, key=key, value=value, step=step, logged_at=now
            )
        )
        current = summaries.get(key)
        if _is_older(step, current):
            continue
        previous = current.value if current else None
        if current is None:
            current = models.MetricSummary(key=key, value=value, step=step)
            row.metrics.append(current)
            summaries[key] = current
        current.value, current.step, current.updated_at = value, step, now
        if key in goals and _crosses(previous, value, goals[key]):
            _emit_threshold(session, row, key, value, goals[key], now)


def _emit_threshold(
    session: Session,
    row: models.Experiment,
    key: str,
    value: float,
    goal: tuple[float, str],
    now: dt.datetime,
) -> None:
    payload = {"metric": key, "value": value, "goal": goal[0], "direction": goal[1]}
    emit(session, row, "threshold", row.researcher, payload, now)


def search_text(name: str, description: str, notes: Sequence[str]) -> str:
    return "\n".join([name, description, *notes]).lower()


def end_time(
    row: models.Experiment, ended_at: dt.datetime | None, now: dt.datetime
) -> dt.datetime:
    """Check an end time given by an importer; default to now.

    An end before the start is moved to the start: the clocks of the host
    that ran a job and of the one recording it can differ a little.
    """
    if ended_at is None:
        return now
    if ended_at.tzinfo is None:
        raise InvalidInput(
            f"End time {ended_at.isoformat()} has no time zone; pass an aware "
            "datetime, e.g. datetime.now(timezone.utc)."
        )
    started = row.started_at or row.created_at
    return max(ended_at, started)


def require_running(row: models.Experiment, action: str) -> None:
    if row.status != "running":
        raise InvalidTransition(row.id[:8], row.status, action)


def emit(
    session: Session,
    row: models.Experiment,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> None:
    session.add(
        models.Event(
            experiment_id=row.id,
            kind=kind,
            actor=actor,
            payload=payload,
            created_at=now,
        )
    )


def _goals(
    session: Session, team: str, keys: list[str]
) -> dict[str, tuple[float, str]]:
    """Return {metric: (goal, direction)} for metrics with a goal, team first."""
    rows = session.execute(
        select(
            models.MetricDirection.team,
            models.MetricDirection.name,
            models.MetricDirection.goal,
            models.MetricDirection.direction,
        ).where(
            models.MetricDirection.name.in_(keys),
            models.MetricDirection.team.in_([team, ""]),
        )
    ).all()
    goals: dict[str, tuple[float, str]] = {}
    for row_team, name, goal, direction in sorted(rows, key=lambda r: r[0] != ""):
        # Workspace rows sort first, so a team's own row overwrites them.
        if goal is not None:
            goals[name] = (goal, direction)
        elif row_team and name in goals:
            del goals[name]
    return goals


def _is_older(step: int | None, current: models.MetricSummary | None) -> bool:
    """Return whether a point logged at `step` is behind the summary's step."""
    if current is None or step is None or current.step is None:
        return False
    return step < current.step


def _crosses(previous: float | None, value: float, goal: tuple[float, str]) -> bool:
    target, direction = goal
    reached_now = directions.reaches(value, target, direction)
    reached_before = previous is not None and directions.reaches(
        previous, target, direction
    )
    return reached_now and not reached_before


def replace_config_params(
    session: Session, experiment_id: str, config: Mapping[str, Any], flush: bool = True
) -> None:
    if flush:
        session.execute(
            delete(models.ConfigParam).where(
                models.ConfigParam.experiment_id == experiment_id
            )
        )
    for key, value in configs.flatten(config):
        session.add(
            models.ConfigParam(
                experiment_id=experiment_id,
                key=key[:200],
                value_text=configs.param_text(value),
                value_number=configs.param_number(value),
            )
        )
