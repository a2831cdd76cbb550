"""Changes to an experiment row inside a write transaction.

The Tracker opens the transaction and loads the row, as an ORM object or
as the columns a Core write needs. These functions change it and add the
rows that go with the change (config versions, outbox events), so each
public call stays one transaction. Metric points are in `metric_writes`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, update
from sqlalchemy.orm import Session

from tracker import configs, models, write_access
from tracker.errors import InvalidInput, InvalidTransition
from tracker.write_access import table_of

logger = logging.getLogger(__name__)

_INSERT_EVENT = insert(table_of(models.Event))
_INSERT_EXPERIMENT = insert(table_of(models.Experiment))
_INSERT_CONFIG_VERSION = insert(table_of(models.ConfigVersion))


def finish(
    connection: Connection,
    row: Mapping[Any, Any],
    status: str,
    reason: str,
    ended_at: dt.datetime,
    now: dt.datetime,
) -> dict[str, Any]:
    """End an experiment and return its columns as they are after the change."""
    changed: dict[str, Any] = {
        "status": status,
        "reason": reason,
        "ended_at": ended_at,
    }
    if reason:
        # Free-text search covers the failure reason, e.g. "out of memory".
        changed["search_text"] = f"{row['search_text']}\n{reason.lower()}"
    # Stored so that summaries and reports read durations from an index.
    started = row["started_at"]
    changed["duration_seconds"] = (
        (ended_at - started).total_seconds() if started else None
    )
    write_access.touch(connection, row["id"], now, **changed)
    logger.info("experiment %s is %s", row["id"], status)
    return {**row, **changed, "updated_at": now}


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


def copy_team(session: Session, experiment_id: str, team: str) -> None:
    """Set the copy of the experiment's team on its tags and metric summaries.

    The summary counts tags and metric keys by these copies, so they change
    in the same transaction as the experiment's own team.
    """
    for model in (models.Tag, models.MetricSummary):
        session.execute(
            update(model).where(model.experiment_id == experiment_id).values(team=team)
        )


def search_text(name: str, description: str, notes: Sequence[str]) -> str:
    return "\n".join([name, description, *notes]).lower()


def end_time(row: Any, ended_at: dt.datetime | None, now: dt.datetime) -> dt.datetime:
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


def require_running(row: Any, action: str) -> None:
    """Raise unless `row`, with `id` and `status`, is still running."""
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


def emit_event(
    connection: Connection,
    experiment_id: str,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    now: dt.datetime,
) -> None:
    """Write an outbox event with a Core INSERT, for writes without an ORM row."""
    connection.execute(
        _INSERT_EVENT,
        {
            "experiment_id": experiment_id,
            "kind": kind,
            "actor": actor,
            "payload": payload,
            "created_at": now,
        },
    )


def replace_config_params(
    session: Session | Connection,
    experiment_id: str,
    config: Mapping[str, Any],
    replace: bool = True,
) -> None:
    """Write the config's flattened params, first deleting the old ones if `replace`."""
    table = table_of(models.ConfigParam)
    if replace:
        session.execute(delete(table).where(table.c.experiment_id == experiment_id))
    rows = [
        {
            "experiment_id": experiment_id,
            "key": key[:200],
            "value_text": configs.param_text(value),
            "value_number": configs.param_number(value),
        }
        for key, value in configs.flatten(config)
    ]
    if rows:
        session.execute(insert(table), rows)


def insert_experiment(
    connection: Connection,
    experiment: Mapping[str, Any],
    tags: Sequence[str],
    collaborators: Sequence[str],
    now: dt.datetime,
) -> None:
    """Insert a new experiment with its tags, collaborators and first config."""
    experiment_id = experiment["id"]
    researcher = experiment["researcher"]
    connection.execute(_INSERT_EXPERIMENT, dict(experiment))
    if tags:
        connection.execute(
            insert(table_of(models.Tag)),
            [
                {"experiment_id": experiment_id, "tag": tag, "team": experiment["team"]}
                for tag in tags
            ],
        )
    if collaborators:
        connection.execute(
            insert(table_of(models.Collaborator)),
            [
                {
                    "experiment_id": experiment_id,
                    "handle": handle,
                    "added_by": researcher,
                    "added_at": now,
                }
                for handle in collaborators
            ],
        )
    connection.execute(
        _INSERT_CONFIG_VERSION,
        {
            "experiment_id": experiment_id,
            "version": 1,
            "config": experiment["config"],
            "author": researcher,
            "created_at": now,
        },
    )
    replace_config_params(connection, experiment_id, experiment["config"], False)


def add_artifacts(
    connection: Connection, experiment_id: str, uris: Sequence[str], now: dt.datetime
) -> None:
    if uris:
        connection.execute(
            insert(table_of(models.Artifact)),
            [
                {"experiment_id": experiment_id, "uri": uri, "created_at": now}
                for uri in uris
            ],
        )
