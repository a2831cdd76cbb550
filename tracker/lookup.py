"""Finding experiments by id or unique id prefix, and loading their records."""

from __future__ import annotations

import datetime as dt
import enum
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Connection,
    Float,
    Integer,
    Select,
    Text,
    any_,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.types import NullType

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

# A page of 50 search results has about 200 times and 150 JSON documents.
# SQLAlchemy's result processing costs microseconds per value (a regular
# expression and a TypeDecorator call per time on SQLite). So the record
# query reads those columns as the driver returns them, and `_utc` and
# `_object` convert them.


def _raw(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """Read `column` without SQLAlchemy's result processing."""
    return type_coerce(column, NullType())


def _utc(value: str | dt.datetime | None) -> dt.datetime | None:
    """Return a stored time as an aware UTC datetime.

    SQLite returns the text that `UTCDateTime` wrote (UTC, no offset);
    PostgreSQL's driver returns an aware datetime.
    """
    if value is None:
        return None
    if isinstance(value, str):
        # Parsing an explicit offset is several times faster than
        # `replace(tzinfo=...)` on the parsed value.
        return dt.datetime.fromisoformat(value + "+00:00")
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


_decode_json = json.JSONDecoder().decode


def _object(value: str | dict[str, Any] | None) -> dict[str, Any]:
    """Return a stored JSON object. SQLite returns text and psycopg a dict.

    JSON `null` and a missing value both read as an empty object, as in
    `ExperimentRecord.from_model`.
    """
    if isinstance(value, str):
        value = None if value == "{}" else _decode_json(value)
    return value or {}


def _converted(row: Sequence[Any]) -> dict[str, Any]:
    columns = dict(zip(_RECORD_NAMES, row, strict=True))
    for name in _TIME_COLUMNS:
        columns[name] = _utc(columns[name])
    for name in _JSON_COLUMNS:
        columns[name] = _object(columns[name])
    return columns


_EXPERIMENTS = models.Experiment.__table__
_TIME_COLUMNS = ("created_at", "started_at", "ended_at", "updated_at")
_JSON_COLUMNS = ("config", "custom", "reproducibility")
_RECORD_NAMES = (
    "id", "name", "description", "researcher", "team", "project", "status",
    "visibility", "source", "created_at", "started_at", "ended_at",
    "updated_at", "reason", "config", "config_version", "custom",
    "reproducibility",
)  # fmt: skip
_RECORD_COLUMNS = [
    _raw(_EXPERIMENTS.c[name])
    if name in _TIME_COLUMNS or name in _JSON_COLUMNS
    else _EXPERIMENTS.c[name]
    for name in _RECORD_NAMES
]


def _in_ids(column: ColumnElement[str], dialect: str) -> ColumnElement[bool]:
    """Test `column` against the page's ids, passed as one bound parameter.

    An expanding IN renders one placeholder per id on every call. With
    one parameter the SQL is the same for every page, so it is compiled
    once: a JSON array read with `json_each` on SQLite, an array with
    `= ANY` on PostgreSQL.
    """
    if dialect == "sqlite":
        listed: Select[Any] = select(literal_column("value")).select_from(
            func.json_each(bindparam("ids", type_=Text))
        )
        return column.in_(listed)
    if dialect == "postgresql":
        return column == any_(bindparam("ids", type_=ARRAY(Text)))
    return column.in_(bindparam("ids", expanding=True))


def _ids_parameter(dialect: str, ids: Sequence[str]) -> str | list[str]:
    return json.dumps(list(ids)) if dialect == "sqlite" else list(ids)


@functools.cache
def _statements(dialect: str) -> tuple[Select[Any], CompoundSelect[Any]]:
    """Build the record and related-row statements for one SQL dialect."""
    records = select(*_RECORD_COLUMNS).where(_in_ids(_EXPERIMENTS.c.id, dialect))
    return records, _child_rows(dialect)


@dataclass(frozen=True)
class _DriverStatement:
    """A statement compiled once, run on the DBAPI cursor of a connection.

    A page of search results runs two statements. Going through the
    DBAPI cursor skips SQLAlchemy's per-execution work (cache lookup,
    execution context, a Row per result row): 0.3 of 3.6 ms per search
    when the CPU caches are cold, as between two calls of another program.
    """

    sql: str
    # How many positional placeholders the SQL has, None for named ones.
    positions: int | None

    def fetch_all(self, connection: Connection, ids: str | list[str]) -> list[Any]:
        """Run the statement with `ids` in the connection's transaction."""
        parameters: Any = {"ids": ids}
        if self.positions is not None:
            parameters = [ids] * self.positions
        driver = connection.connection.driver_connection
        assert driver is not None, "a connection in use has a DBAPI connection"
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, parameters)
            return list(cursor.fetchall())
        except connection.dialect.loaded_dbapi.Error as exc:
            raise DBAPIError.instance(
                self.sql, parameters, exc, connection.dialect.loaded_dbapi.Error
            ) from exc
        finally:
            cursor.close()


# Compiled record statements per (database, driver). Keyed by names, not
# by dialect object, because every engine has its own dialect.
_COMPILED: dict[tuple[str, str], tuple[_DriverStatement, _DriverStatement]] = {}


def _driver_statements(
    dialect: Dialect,
) -> tuple[_DriverStatement, _DriverStatement]:
    """Return the record statements compiled for `dialect`, compiling once.

    Two threads may both compile on first use, and then one result wins.
    """
    key = (dialect.name, dialect.driver)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = _compile_statements(dialect)
    return compiled


def _compile_statements(
    dialect: Dialect,
) -> tuple[_DriverStatement, _DriverStatement]:
    def compiled(statement: Select[Any] | CompoundSelect[Any]) -> _DriverStatement:
        result = statement.compile(dialect=dialect)
        positions = len(result.positiontup or ()) if result.positional else None
        return _DriverStatement(str(result), positions)

    records, child_rows = _statements(dialect.name)
    return compiled(records), compiled(child_rows)


class _Kind(enum.IntEnum):
    """The table that a row of `_child_rows` comes from."""

    TAG = 0
    METRIC = 1
    COLLABORATOR = 2
    NOTE = 3
    ARTIFACT = 4


def _child_rows(dialect: str) -> CompoundSelect[Any]:
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
            _raw(cast(nothing, models.UTCDateTime())),
        ).where(_in_ids(tags.experiment_id, dialect)),
        select(
            metrics.experiment_id,
            kind(_Kind.METRIC),
            nothing,
            metrics.key,
            nothing,
            metrics.value,
            nothing,
        ).where(_in_ids(metrics.experiment_id, dialect)),
        select(
            collaborators.experiment_id,
            kind(_Kind.COLLABORATOR),
            nothing,
            collaborators.handle,
            nothing,
            nothing,
            nothing,
        ).where(_in_ids(collaborators.experiment_id, dialect)),
        select(
            notes.experiment_id,
            kind(_Kind.NOTE),
            notes.id,
            notes.author,
            notes.text,
            nothing,
            notes.created_at,
        ).where(_in_ids(notes.experiment_id, dialect)),
        select(
            artifacts.experiment_id,
            kind(_Kind.ARTIFACT),
            artifacts.id,
            artifacts.uri,
            nothing,
            nothing,
            nothing,
        ).where(_in_ids(artifacts.experiment_id, dialect)),
    )


def load_records(connection: Connection, ids: Sequence[str]) -> list[ExperimentRecord]:
    """Load the records of `ids`, in that order, skipping ids not found.

    Two Core statements read the experiments and their related rows,
    because building ORM objects for a page of results costs several times
    more than its SQL.
    """
    if not ids:
        return []
    dialect = connection.dialect.name
    value = _ids_parameter(dialect, ids)
    if dialect in ("sqlite", "postgresql"):
        records, child_rows = _driver_statements(connection.dialect)
        rows = records.fetch_all(connection, value)
        child_values = child_rows.fetch_all(connection, value)
    else:
        statements = _statements(dialect)
        rows = list(connection.execute(statements[0], {"ids": value}))
        child_values = list(connection.execute(statements[1], {"ids": value}))
    columns_by_id = {row[0]: _converted(row) for row in rows}
    children = {identifier: ChildRows() for identifier in columns_by_id}
    _collect_children(child_values, children)
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
            written = _utc(created_at)
            assert written is not None, "notes.created_at is NOT NULL"
            note = NoteRecord(row_id, text, detail, written)
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
