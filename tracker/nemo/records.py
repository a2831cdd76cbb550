"""Write what NeMo Run reports about tasks into expbot experiments.

Every change goes through the Tracker API, so the matching outbox event
(completed, failed, cancelled, noted) is written with it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from tracker import models, validation
from tracker.api import Tracker
from tracker.errors import InvalidTransition
from tracker.nemo.states import Outcome, TaskStatus

logger = logging.getLogger(__name__)

SYNC_AUTHOR = "nemo-sync"


@dataclass(frozen=True)
class KnownExperiment:
    """An expbot experiment that records a NeMo Run experiment."""

    id: str
    status: str
    custom: dict[str, Any]


def known_experiments(
    tracker: Tracker, nemo_ids: Sequence[str]
) -> dict[str, KnownExperiment]:
    """Map each NeMo Run id that expbot already records to its experiment."""
    if not nemo_ids:
        return {}
    nemo_id = models.Experiment.custom["nemo_experiment_id"].as_string()
    statement = select(
        nemo_id,
        models.Experiment.id,
        models.Experiment.status,
        models.Experiment.custom,
    ).where(models.Experiment.source == "nemo_run", nemo_id.in_(list(nemo_ids)))
    with tracker.db.read() as session:
        rows = session.execute(statement).all()
    return {row[0]: KnownExperiment(row[1], row[2], dict(row[3] or {})) for row in rows}


def task_states(tasks: Iterable[TaskStatus]) -> dict[str, str]:
    return {task.name: task.state for task in tasks}


def finish(
    tracker: Tracker, experiment_id: str, result: Outcome, ended_at: dt.datetime
) -> bool:
    """End the experiment with `result`'s status and reason.

    Return False if it had already ended: another process (a sync, or the
    launcher itself) may end the same experiment first, which is no error.
    """
    actions: dict[str, Callable[..., Any]] = {
        "completed": tracker.complete,
        "failed": tracker.fail,
        "cancelled": tracker.cancel,
    }
    action = actions[result.status]
    reason = result.reason[: validation.MAX_REASON_CHARS]
    options: dict[str, Any] = {"ended_at": ended_at}
    try:
        if result.status == "completed":
            action(experiment_id, **options)
        else:
            action(experiment_id, reason, **options)
    except InvalidTransition:
        logger.info("experiment %s had already ended", experiment_id)
        return False
    logger.info(
        "experiment %s %s from NeMo Run task states", experiment_id, result.status
    )
    return True
