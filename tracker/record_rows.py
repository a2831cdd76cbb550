"""Building an `ExperimentRecord` from Core rows inside a write.

Write methods return the record of the experiment they changed. Loading it
through the ORM builds an object per tag, summary, collaborator, note and
artifact and tracks each in the session. These functions read the same
rows as plain tuples and build the record directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from tracker import models
from tracker.records import ExperimentRecord, NoteRecord
from tracker.write_access import table_of

EXPERIMENTS = table_of(models.Experiment)
# The experiment columns a record shows, and search_text, which ending an
# experiment extends with the reason.
RECORD_COLUMNS = (
    "id",
    "name",
    "description",
    "researcher",
    "team",
    "project",
    "status",
    "visibility",
    "source",
    "created_at",
    "started_at",
    "ended_at",
    "updated_at",
    "reason",
    "config",
    "config_version",
    "custom",
    "reproducibility",
    "search_text",
)


def build_record(
    experiment: Mapping[str, Any],
    *,
    tags: Iterable[str] = (),
    metrics: Mapping[str, float] | None = None,
    collaborators: Iterable[str] = (),
    notes: Iterable[NoteRecord] = (),
    artifacts: Iterable[str] = (),
) -> ExperimentRecord:
    """Return the record of an experiment given its columns and children."""
    return ExperimentRecord(
        id=experiment["id"],
        name=experiment["name"],
        description=experiment["description"],
        researcher=experiment["researcher"],
        team=experiment["team"],
        project=experiment["project"],
        status=experiment["status"],
        visibility=experiment["visibility"],
        source=experiment["source"],
        created_at=experiment["created_at"],
        started_at=experiment["started_at"],
        ended_at=experiment["ended_at"],
        updated_at=experiment["updated_at"],
        reason=experiment["reason"],
        config=dict(experiment["config"] or {}),
        config_version=experiment["config_version"],
        tags=tuple(sorted(tags)),
        metrics=dict(sorted((metrics or {}).items())),
        collaborators=tuple(sorted(collaborators)),
        notes=tuple(notes),
        artifacts=tuple(artifacts),
        custom=dict(experiment["custom"] or {}),
        reproducibility=dict(experiment["reproducibility"] or {}),
    )


def load_record(
    connection: Connection, experiment: Mapping[str, Any]
) -> ExperimentRecord:
    """Read an experiment's children and return its record.

    `experiment` contains the experiment's columns as they are now, so the
    caller passes what it read and changed instead of reading them again.
    """
    experiment_id = experiment["id"]
    return build_record(
        experiment,
        tags=_column(connection, models.Tag.tag, experiment_id),
        metrics=metric_summaries(connection, experiment_id),
        collaborators=_column(connection, models.Collaborator.handle, experiment_id),
        notes=_notes(connection, experiment_id),
        artifacts=_artifacts(connection, experiment_id),
    )


def metric_summaries(connection: Connection, experiment_id: str) -> dict[str, float]:
    table = table_of(models.MetricSummary)
    rows = connection.execute(
        select(table.c.key, table.c.value).where(table.c.experiment_id == experiment_id)
    )
    return {key: value for key, value in rows}


def _column(connection: Connection, column: Any, experiment_id: str) -> list[str]:
    table = table_of(column.class_)
    statement = select(table.c[column.key]).where(
        table.c.experiment_id == experiment_id
    )
    return list(connection.scalars(statement))


def _notes(connection: Connection, experiment_id: str) -> list[NoteRecord]:
    table = table_of(models.Note)
    rows = connection.execute(
        select(table.c.id, table.c.author, table.c.text, table.c.created_at)
        .where(table.c.experiment_id == experiment_id)
        .order_by(table.c.id)
    )
    return [NoteRecord(*row) for row in rows]


def _artifacts(connection: Connection, experiment_id: str) -> list[str]:
    table = table_of(models.Artifact)
    statement = (
        select(table.c.uri)
        .where(table.c.experiment_id == experiment_id)
        .order_by(table.c.id)
    )
    return list(connection.scalars(statement))
