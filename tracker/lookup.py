"""Finding experiments by full id or unique id prefix."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tracker import models
from tracker.errors import AmbiguousId, ExperimentNotFound, InvalidInput
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
