"""Building an `ExperimentRecord` from Core rows inside a write.

Write methods return the record of the experiment they changed. Loading it
through the ORM builds an object per tag, summary, collaborator, note and
artifact and tracks each in the session. These functions read the same
rows as plain tuples and build the record directly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from tracker import models
from tracker.records import ExperimentRecord, NoteRecord
from tracker.write_access import table_of

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
    key = {"experiment_id": experiment["id"]}
    summaries = connection.execute(_SELECT_SUMMARIES, key).all()
    notes = connection.execute(_SELECT_NOTES, key).all()
    return build_record(
        experiment,
        tags=connection.scalars(_SELECT_TAGS, key).all(),
        metrics={name: value for name, value in summaries},
        collaborators=connection.scalars(_SELECT_COLLABORATORS, key).all(),
        notes=[NoteRecord(*note) for note in notes],
        artifacts=connection.scalars(_SELECT_ARTIFACTS, key).all(),
    )


def _children(model: type[models.Base], *columns: str) -> Select[Any]:
    """Build the SELECT of an experiment's rows in one child table."""
    table = table_of(model)
    statement = select(*(table.c[name] for name in columns))
    return statement.where(table.c.experiment_id == bindparam("experiment_id"))


# Built once, like the statements of the metric writes: complete, fail and
# cancel run them on every call.
_SELECT_TAGS = _children(models.Tag, "tag")
_SELECT_SUMMARIES = _children(models.MetricSummary, "key", "value")
_SELECT_COLLABORATORS = _children(models.Collaborator, "handle")
_SELECT_NOTES = _children(models.Note, "id", "author", "text", "created_at").order_by(
    table_of(models.Note).c.id
)
_SELECT_ARTIFACTS = _children(models.Artifact, "uri").order_by(
    table_of(models.Artifact).c.id
)
