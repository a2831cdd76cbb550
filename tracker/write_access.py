"""Locking an experiment for a write and checking who may change it.

Write paths that use Core statements call these instead of loading the
ORM object: they read only the columns a change needs, under the same
row lock and with the same permission rule as an ORM write.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Table,
    Update,
    bindparam,
    exists,
    select,
    update,
)

from tracker import models
from tracker.errors import AmbiguousId, ExperimentNotFound, PermissionDenied
from tracker.lookup import normalize_id
from tracker.search import id_prefix_condition


def table_of(model: type[models.Base]) -> Table:
    """Return a model's table, typed as one for Core statements."""
    return cast(Table, model.__table__)


EXPERIMENTS = table_of(models.Experiment)
COLLABORATORS = table_of(models.Collaborator)
# What a metric write needs: the id, the owner for the permission check
# and threshold events, the team for metric goals, and the visibility,
# which decides how a refused change is reported.
WRITE_COLUMNS = ("id", "researcher", "team", "visibility")


def lock_experiment(
    connection: Connection,
    identifier: str,
    columns: Iterable[str] = WRITE_COLUMNS,
) -> Row[Any]:
    """Find an experiment by id or unique prefix and lock its row.

    The lock serializes writers to one experiment, so a change that reads
    a summary before writing it cannot interleave with another. PostgreSQL
    takes it with `FOR UPDATE`, and on SQLite the write transaction already
    locks the whole database.
    """
    prefix = normalize_id(identifier)
    if len(prefix) == 36:
        statement = _select_by_id(tuple(columns))
        rows = connection.execute(statement, {"experiment_id": prefix}).all()
    else:
        statement = (
            select(*(EXPERIMENTS.c[name] for name in columns))
            .where(id_prefix_condition(prefix))
            .limit(11)
        )
        rows = connection.execute(statement.with_for_update()).all()
    if not rows:
        raise ExperimentNotFound(identifier)
    if len(rows) > 1:
        raise AmbiguousId(identifier, [r.id for r in rows])
    return rows[0]


def lock_and_touch(
    connection: Connection, identifier: str, now: dt.datetime
) -> Row[Any]:
    """Lock an experiment for a metric write and set its `updated_at`.

    With a whole id this is one `UPDATE ... RETURNING`. Its row lock
    blocks other writers to the experiment until commit, as the
    `FOR UPDATE` of `lock_experiment` does. A prefix is resolved first, because it may
    match several experiments. Either way the caller's transaction rolls
    the change back if a later check raises.
    """
    prefix = normalize_id(identifier)
    if len(prefix) != 36:
        experiment = lock_experiment(connection, identifier)
        touch(connection, experiment.id, now)
        return experiment
    found = connection.execute(
        _TOUCH_RETURNING, {"experiment_id": prefix, "new_updated_at": now}
    ).first()
    if found is None:
        raise ExperimentNotFound(identifier)
    return found


def require_change_allowed(
    identifier: str,
    experiment: Any,
    actor: str | None,
    as_admin: bool,
    is_collaborator: bool | None,
) -> None:
    """Raise unless `actor` owns, collaborates on, or administers the experiment.

    `experiment` has `id`, `researcher` and `visibility`. A private
    experiment is reported as not found, so its existence does not leak.
    """
    if actor is None or as_admin or actor == experiment.researcher:
        return
    if is_collaborator:
        return
    if experiment.visibility == "private":
        raise ExperimentNotFound(identifier)
    raise PermissionDenied(
        f"Only {experiment.researcher}, the collaborators or an admin can change "
        f"experiment `{experiment.id[:8]}`. Ask {experiment.researcher} to share "
        "it with you."
    )


def check_actor(
    connection: Connection,
    identifier: str,
    experiment: Row[Any],
    actor: str | None,
    as_admin: bool,
) -> None:
    """Check the permission rule, reading collaborators only when it matters."""
    collaborator: bool | None = None
    if actor is not None and not as_admin and actor != experiment.researcher:
        found = connection.scalar(
            _IS_COLLABORATOR, {"experiment_id": experiment.id, "handle": actor}
        )
        collaborator = bool(found)
    require_change_allowed(identifier, experiment, actor, as_admin, collaborator)


def touch(
    connection: Connection,
    experiment_id: str,
    now: dt.datetime,
    **changes: Any,
) -> None:
    """Set `updated_at`, and any other given columns, on one experiment."""
    values = {"updated_at": now, **changes}
    statement = _update_by_id(tuple(values))
    parameters = {f"new_{name}": value for name, value in values.items()}
    connection.execute(statement, {"experiment_id": experiment_id, **parameters})


# The statements below are built once, because a training loop runs them at
# every step and building them took a large share of each call's CPU time.


@functools.cache
def _select_by_id(columns: tuple[str, ...]) -> Select[Any]:
    return (
        select(*(EXPERIMENTS.c[name] for name in columns))
        .where(EXPERIMENTS.c.id == bindparam("experiment_id"))
        .with_for_update()
    )


@functools.cache
def _update_by_id(columns: tuple[str, ...]) -> Update:
    # The parameters are prefixed because SQLAlchemy reserves bind names
    # equal to column names for the SET clause it builds itself.
    return (
        update(EXPERIMENTS)
        .where(EXPERIMENTS.c.id == bindparam("experiment_id"))
        .values({name: bindparam(f"new_{name}") for name in columns})
    )


_TOUCH_RETURNING = _update_by_id(("updated_at",)).returning(
    *(EXPERIMENTS.c[name] for name in WRITE_COLUMNS)
)
_IS_COLLABORATOR = select(
    exists().where(
        COLLABORATORS.c.experiment_id == bindparam("experiment_id"),
        COLLABORATORS.c.handle == bindparam("handle"),
    )
)
