"""Finding experiments by id or unique id prefix, and loading their records."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    Integer,
    Text,
    bindparam,
    cast,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.orm import Session, selectinload

from tracker import models
from tracker.errors import AmbiguousId, ExperimentNotFound, InvalidInput
from tracker.records import ChildRows, ExperimentRecord, NoteRecord, record_from_columns
from tracker.search import id_prefix_condition

MIN_PREFIX_CHARS = 6
# Relationships a record needs, each loaded with one extra SELECT ... IN.
EAGER_OPTIONS = (
    selectinload(models.Experiment.tags),
    selectinload(models.Experiment.metrics),
    selectinload(models.Experiment.collaborators),
    selectinload(models.Experiment.notes),
    selectinload(models.Experiment.artifacts),
)


def normalize_id(identifier: str) -> str:
    if identifier is not None and not isinstance(identifier, str):
        raise InvalidInput(
            f"Experiment id {identifier!r} is not text: pass the id or its first "
            f"{MIN_PREFIX_CHARS} or more characters as a string."
        )
    text = (identifier or "").strip().lower()
    if len(text) < MIN_PREFIX_CHARS:
        raise InvalidInput(
            f"Experiment id {identifier!r} is too short: type at least "
            f"{MIN_PREFIX_CHARS} characters of the id."
        )
    if len(text) > 36 or any(c not in "0123456789abcdef-" for c in text):
        raise ExperimentNotFound(identifier)
    return text


def resolve(
    session: Session,
    identifier: str,
    *,
    eager: bool = False,
    for_update: bool = False,
    options: tuple[Any, ...] = (),
) -> models.Experiment:
    """Find an experiment by full id or unique prefix.

    `eager` loads every relationship a record needs; `options` loads only
    the given ones, for writes that need a few.
    """
    prefix = normalize_id(identifier)
    statement = select(models.Experiment)
    if len(prefix) == 36:
        statement = statement.where(models.Experiment.id == prefix)
    else:
        statement = statement.where(id_prefix_condition(prefix)).limit(11)
    if for_update:
        statement = statement.with_for_update()
    if eager:
        statement = statement.options(*EAGER_OPTIONS)
    elif options:
        statement = statement.options(*options)
    rows = session.scalars(statement).unique().all()
    if not rows:
        raise ExperimentNotFound(identifier)
    if len(rows) > 1:
        raise AmbiguousId(identifier, [r.id for r in rows])
    return rows[0]


# -- records without ORM objects ---------------------------------------------

_EXPERIMENTS = models.Experiment.__table__
_RECORD_COLUMNS = [
    _EXPERIMENTS.c[name]
    for name in (
        "id", "name", "description", "researcher", "team", "project", "status",
        "visibility", "source", "created_at", "started_at", "ended_at",
        "updated_at", "reason", "config", "config_version", "custom",
        "reproducibility",
    )
]  # fmt: skip
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_RECORD_ROWS = select(*_RECORD_COLUMNS).where(_EXPERIMENTS.c.id.in_(_IDS))


class _Kind(enum.IntEnum):
    """The table that a row of `_CHILD_ROWS` comes from."""

    TAG = 0
    METRIC = 1
    COLLABORATOR = 2
    NOTE = 3
    ARTIFACT = 4


def _child_rows() -> CompoundSelect[Any]:
    """Select the rows of all five related tables in one statement.

    Each branch fills the columns (experiment_id, kind, row_id, text,
    detail, value, created_at) that its table has and leaves the rest NULL.
    One statement instead of five saves most of the per-statement cost,
    which is larger than the cost of the rows themselves. The first branch
    casts its NULLs because PostgreSQL resolves a UNION's column types pair
    by pair, and two untyped NULLs become text, which no integer matches.
    """
    tags = models.Tag.__table__.c
    metrics = models.MetricSummary.__table__.c
    collaborators = models.Collaborator.__table__.c
    notes = models.Note.__table__.c
    artifacts = models.Artifact.__table__.c
    nothing = null()

    def kind(value: _Kind) -> ColumnElement[int]:
        return literal_column(str(int(value)), Integer)

    return union_all(
        select(
            tags.experiment_id,
            kind(_Kind.TAG),
            cast(nothing, Integer),
            tags.tag,
            cast(nothing, Text),
            cast(nothing, Float),
            cast(nothing, models.UTCDateTime()),
        ).where(tags.experiment_id.in_(_IDS)),
        select(
            metrics.experiment_id,
            kind(_Kind.METRIC),
            nothing,
            metrics.key,
            nothing,
            metrics.value,
            nothing,
        ).where(metrics.experiment_id.in_(_IDS)),
        select(
            collaborators.experiment_id,
            kind(_Kind.COLLABORATOR),
            nothing,
            collaborators.handle,
            nothing,
            nothing,
            nothing,
        ).where(collaborators.experiment_id.in_(_IDS)),
        select(
            notes.experiment_id,
            kind(_Kind.NOTE),
            notes.id,
            notes.author,
            notes.text,
            nothing,
            notes.created_at,
        ).where(notes.experiment_id.in_(_IDS)),
        select(
            artifacts.experiment_id,
            kind(_Kind.ARTIFACT),
            artifacts.id,
            artifacts.uri,
            nothing,
            nothing,
            nothing,
        ).where(artifacts.experiment_id.in_(_IDS)),
    )


_CHILD_ROWS = _child_rows()


def load_records(connection: Connection, ids: Sequence[str]) -> list[ExperimentRecord]:
    """Load the records of `ids`, in that order, skipping ids not found.

    Two Core statements read the experiments and their related rows,
    because building ORM objects for a page of results costs several times
    more than its SQL.
    """
    if not ids:
        return []
    parameters = {"ids": list(ids)}
    rows = connection.execute(_RECORD_ROWS, parameters).all()
    columns_by_id = {row.id: row._mapping for row in rows}
    children = {identifier: ChildRows() for identifier in columns_by_id}
    _collect_children(connection.execute(_CHILD_ROWS, parameters).all(), children)
    return [
        record_from_columns(columns_by_id[identifier], children[identifier])
        for identifier in ids
        if identifier in columns_by_id
    ]


def _collect_children(
    rows: Sequence[Sequence[Any]], children: dict[str, ChildRows]
) -> None:
    notes: list[tuple[int, str, NoteRecord]] = []
    artifacts: list[tuple[int, str, str]] = []
    for experiment_id, kind, row_id, text, detail, value, created_at in rows:
        found = children[experiment_id]
        if kind == _Kind.TAG:
            found.tags.append(text)
        elif kind == _Kind.METRIC:
            found.metrics.append((text, value))
        elif kind == _Kind.COLLABORATOR:
            found.collaborators.append(text)
        elif kind == _Kind.NOTE:
            note = NoteRecord(row_id, text, detail, created_at)
            notes.append((row_id, experiment_id, note))
        else:
            artifacts.append((row_id, experiment_id, text))
    # The ORM relationships order notes and artifacts by id.
    for _, experiment_id, note in sorted(notes, key=_first):
        children[experiment_id].notes.append(note)
    for _, experiment_id, uri in sorted(artifacts, key=_first):
        children[experiment_id].artifacts.append(uri)


def _first(item: tuple[int, str, Any]) -> int:
    return item[0]
