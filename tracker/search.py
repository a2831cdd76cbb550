"""Compile a parsed search query to SQL over the ORM models.

Every construct becomes a WHERE condition or an ORDER BY term, so the
database does the filtering and sorting, on SQLite and PostgreSQL.

Conditions on tags and collaborators are an uncorrelated IN, which reads
the (value, experiment_id) index once per query. A search in creation
order tests a common tag per candidate row instead (see `_compile_tag`).
Metric and config comparisons are a correlated EXISTS on the
(experiment_id, key) primary key, so a common condition like
`accuracy>0.5` stops as soon as a page is full, where an IN would first
collect every match.

NOTE: PostgreSQL 15 costs a correlated EXISTS under OR high enough to
JIT-compile the query, which adds about a second once there are tens of
thousands of experiments. Setting `jit = off` on expbot's connections
avoids it.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    FromClause,
    Select,
    SQLColumnExpression,
    and_,
    func,
    literal,
    not_,
    or_,
    select,
    true,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from tracker.models import Collaborator, ConfigParam, Experiment, MetricSummary, Tag
from tracker.query import (
    And,
    ConfigCmp,
    DateBound,
    Field,
    MetricCmp,
    Node,
    Not,
    Or,
    Query,
    RelativeDay,
    SortKey,
    Text,
    TimePoint,
)

DirectionOf = Callable[[str], str]

_COMPARE: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_COLUMN_FIELDS = {
    "status": Experiment.status,
    "team": Experiment.team,
    "project": Experiment.project,
    "by": Experiment.researcher,
    "source": Experiment.source,
}
# Below this many matches, a search sorted by a metric sorts all the
# matches instead of walking the metric's index (see `_matches_fewer`).
# NOTE: an estimate, not tuned: with 500 matches spread evenly over
# 100,000 experiments, a page of 10 reads about 2,000 rows of the index.
SORT_ALL_BELOW = 500
# A tag on at least this many experiments is tested per candidate row in
# searches (see `_compile_tag`).
# NOTE: an estimate for about 100,000 experiments, where such a tag is on
# 4% of them and a page of 50 then reads about 1,250 candidates.
COMMON_TAG_ROWS = 4000
_EARLIEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_LATEST = dt.datetime.max.replace(tzinfo=dt.UTC)


def select_experiments(
    query: Query,
    *,
    now: dt.datetime,
    direction_of: DirectionOf,
    viewer: str | None = None,
    limit: int | None = None,
    offset: int = 0,
    tz: dt.tzinfo = dt.UTC,
    common_tags: Collection[str] = (),
) -> Select[Experiment]:
    """Build `select(Experiment)` filtered and ordered by the query.

    With a `viewer` handle, private experiments are left out unless the
    viewer is their researcher or a collaborator. With None, all are kept.
    `common_tags` changes only the plan (see `compile_where`).
    """
    conditions = _conditions(
        query, now=now, viewer=viewer, tz=tz, common_tags=common_tags
    )
    statement = _sort(select(Experiment).where(*conditions), query.sort, direction_of)
    if limit is not None:
        statement = statement.limit(limit)
    if offset:
        statement = statement.offset(offset)
    return statement


def _conditions(
    query: Query,
    *,
    now: dt.datetime,
    viewer: str | None,
    tz: dt.tzinfo,
    common_tags: Collection[str],
) -> list[ColumnElement[bool]]:
    conditions = []
    if query.where is not None:
        conditions.append(
            compile_where(query.where, now=now, tz=tz, common_tags=common_tags)
        )
    if viewer is not None:
        conditions.append(visible_to(viewer))
    return conditions


def _sort(
    statement: Select[Any], sort: Sequence[SortKey], direction_of: DirectionOf
) -> Select[Any]:
    """Append the ORDER BY terms of `sort` to those `statement` has."""
    # An outer join per sorted metric lets PostgreSQL sort with one hash
    # join instead of a subquery per row. The join adds no rows, because
    # (experiment_id, key) is the primary key of metric_summaries.
    metric_values: dict[str, SQLColumnExpression[float]] = {}
    for key in sort:
        if key.is_metric and key.name not in metric_values:
            summary = _summaries_alias()
            statement = statement.outerjoin(
                summary,
                and_(
                    summary.c.experiment_id == Experiment.id,
                    summary.c.key == key.name,
                ),
            )
            metric_values[key.name] = summary.c.value
    return statement.order_by(
        *compile_order(sort, direction_of=direction_of, metric_values=metric_values)
    )


def page_ids(
    connection: Connection,
    query: Query,
    *,
    now: dt.datetime,
    direction_of: DirectionOf,
    viewer: str | None = None,
    limit: int,
    offset: int = 0,
    tz: dt.tzinfo = dt.UTC,
    common_tags: Collection[str] = (),
    sort_all_below: int = SORT_ALL_BELOW,
) -> list[str]:
    """Return the ids of one page of matches, in the order of `select_experiments`.

    Selecting only ids lets SQLite's partial sort for the id tiebreak carry
    ids instead of whole rows. A query sorted first by a metric that
    matches `sort_all_below` experiments or more is read from the metric's
    index, best value first (see `_metric_first_page`).
    """
    conditions = _conditions(
        query, now=now, viewer=viewer, tz=tz, common_tags=common_tags
    )
    first = query.sort[0] if query.sort else None
    if (
        first is None
        or not first.is_metric
        or _matches_fewer(connection, conditions, sort_all_below)
    ):
        statement = _sort(
            select(Experiment.id).where(*conditions), query.sort, direction_of
        )
        return list(connection.scalars(statement.limit(limit).offset(offset)))
    return _metric_first_page(
        connection,
        first,
        query.sort[1:],
        conditions,
        direction_of=direction_of,
        limit=limit,
        offset=offset,
    )


def _matches_fewer(
    connection: Connection,
    conditions: Sequence[ColumnElement[bool]],
    threshold: int,
) -> bool:
    """Return whether fewer than `threshold` experiments match `conditions`.

    Walking a metric's index best first pays off only when matches are
    common: for a query that matches 50 of 100,000 experiments it reads
    nearly every row of the index, where sorting the 50 matches is quick.
    SQLite has no statistics to tell the two cases apart, so this counts
    up to the threshold first, which stops early when matches are common.
    """
    if threshold <= 0:
        return False
    matching = select(literal(1)).select_from(Experiment).where(*conditions)
    counted = select(func.count()).select_from(matching.limit(threshold).subquery())
    return int(connection.scalar(counted) or 0) < threshold


def _metric_first_page(
    connection: Connection,
    first: SortKey,
    rest: Sequence[SortKey],
    conditions: Sequence[ColumnElement[bool]],
    *,
    direction_of: DirectionOf,
    limit: int,
    offset: int,
) -> list[str]:
    """Read a page sorted first by a metric in two parts.

    Experiments with the metric come first, read through an inner join
    from the metric's (key, value) index, so the database can stop after
    `limit` rows instead of sorting every match. Experiments without the
    metric sort last whatever the direction, so a second statement reads
    them, ordered by the `rest` of the sort keys, only when the page
    reaches past the last experiment that has the metric.
    """
    with_metric = _with_metric(first, rest, conditions, direction_of)
    ids = list(connection.scalars(with_metric.limit(limit).offset(offset)))
    if len(ids) == limit:
        return ids

    if ids or offset == 0:
        # The part with the metric ended inside this page, so its length
        # is known without counting.
        ranked = offset + len(ids)
    else:
        counted = select(func.count()).select_from(
            with_metric.order_by(None).subquery()
        )
        ranked = int(connection.scalar(counted) or 0)
    without_metric = _sort(
        select(Experiment.id).where(*conditions, ~_has_metric(first.name)),
        rest,
        direction_of,
    )
    statement = without_metric.limit(limit - len(ids)).offset(max(0, offset - ranked))
    return ids + list(connection.scalars(statement))


def _with_metric(
    first: SortKey,
    rest: Sequence[SortKey],
    conditions: Sequence[ColumnElement[bool]],
    direction_of: DirectionOf,
) -> Select[str]:
    """Select the ids of matches that have the `first` metric, in order.

    Starting from metric_summaries with an inner join, instead of the
    outer join of `select_experiments`, lets the planner walk
    ix_metric_summaries_key_value in the metric's direction.
    """
    summary = _summaries_alias()
    statement = (
        select(Experiment.id)
        .select_from(summary)
        .join(Experiment, Experiment.id == summary.c.experiment_id)
        .where(summary.c.key == first.name, *conditions)
    )
    # The joined value is never NULL, so the term has no NULLS LAST. With
    # it, PostgreSQL cannot read the index backwards for a DESC order, and
    # it sorted every summary of the metric instead: 57 ms against 8 ms at
    # 100,000 experiments.
    value = summary.c.value
    first_term = value.desc() if _descending(first, direction_of) else value.asc()
    return _sort(statement.order_by(first_term), rest, direction_of)


def _summaries_alias() -> FromClause:
    # A Core alias, because an ORM `aliased()` class costs more to build
    # than the rest of a search's statement.
    return MetricSummary.__table__.alias()


def _has_metric(name: str) -> ColumnElement[bool]:
    return (
        select(MetricSummary.experiment_id)
        .where(MetricSummary.experiment_id == Experiment.id, MetricSummary.key == name)
        .exists()
    )


def matches_sql(
    query: Query,
    experiment_id: str,
    *,
    now: dt.datetime,
    viewer: str | None = None,
    tz: dt.tzinfo = dt.UTC,
) -> Select[int]:
    """Build a select that returns one row of 1 if the experiment matches.

    The query's sort terms are ignored. It returns no row when the
    experiment does not match, does not exist, or is hidden from `viewer`.
    """
    statement = (
        select(literal(1)).select_from(Experiment).where(Experiment.id == experiment_id)
    )
    if query.where is not None:
        statement = statement.where(compile_where(query.where, now=now, tz=tz))
    if viewer is not None:
        statement = statement.where(visible_to(viewer))
    return statement


def visible_to(viewer: str) -> ColumnElement[bool]:
    """Return the condition that the viewer may see an experiment."""
    return or_(
        Experiment.visibility != "private",
        Experiment.researcher == viewer,
        _collaborator_of(viewer),
    )


# -- WHERE -------------------------------------------------------------------


def compile_where(
    node: Node | None,
    *,
    now: dt.datetime,
    tz: dt.tzinfo = dt.UTC,
    common_tags: Collection[str] = (),
) -> ColumnElement[bool]:
    """Compile a query node to a boolean SQL expression on `Experiment`.

    `now` (timezone-aware) anchors relative times like `since:7d`. `tz` is
    the zone in which dates without an offset are read, so `until:2026-11-30`
    ends at midnight in that zone. A tag in `common_tags` is tested with a
    correlated EXISTS instead of an IN, which selects the same experiments
    (see `_compile_tag`).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now={now!r} is naive: pass a timezone-aware datetime")
    if node is None:
        return true()
    return _Compiler(now, tz, frozenset(common_tags)).compile(node)


@dataclass(frozen=True)
class _Compiler:
    now: dt.datetime
    tz: dt.tzinfo
    common_tags: frozenset[str]

    def compile(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, And):
            return and_(*(self.compile(operand) for operand in node.operands))
        if isinstance(node, Or):
            return or_(*(self.compile(operand) for operand in node.operands))
        if isinstance(node, Not):
            return not_(self.compile(node.operand))
        if isinstance(node, Text):
            return Experiment.search_text.contains(node.value, autoescape=True)
        if isinstance(node, Field):
            if node.name == "tag":
                return _compile_tag(node.value, node.value in self.common_tags)
            return _compile_field(node)
        if isinstance(node, MetricCmp):
            return _metric_exists(node)
        if isinstance(node, ConfigCmp):
            return _config_exists(node)
        return _compile_date(node, self.now, self.tz)


def common_tags(connection: Connection, query: Query) -> frozenset[str]:
    """Return the tags of `query` that at least `COMMON_TAG_ROWS` experiments have.

    Only a search in creation order can stop after a page of candidates,
    so for other orders, where every match is read anyway, it returns none
    and leaves every tag to the IN plan.
    """
    if any(key.name != "created" for key in query.sort):
        return frozenset()
    common = set()
    for tag in sorted(_tags_of(query.where)):
        tagged = select(literal(1)).select_from(Tag).where(Tag.tag == tag)
        counted = select(func.count()).select_from(
            tagged.limit(COMMON_TAG_ROWS).subquery()
        )
        if int(connection.scalar(counted) or 0) >= COMMON_TAG_ROWS:
            common.add(tag)
    return frozenset(common)


def _tags_of(node: Node | None) -> set[str]:
    if isinstance(node, Field):
        return {node.value} if node.name == "tag" else set()
    if isinstance(node, Not):
        return _tags_of(node.operand)
    if isinstance(node, And | Or):
        return set().union(*(_tags_of(operand) for operand in node.operands))
    return set()


def _compile_tag(tag: str, common: bool) -> ColumnElement[bool]:
    """Test for a tag with the plan that suits how many experiments have it.

    An uncorrelated IN reads the tag's rows of the (tag, experiment_id)
    index once, which costs milliseconds for a tag on a fifth of 100,000
    experiments. A correlated EXISTS looks the tag up for each candidate
    row instead, which is cheap when the tag is common, because the page
    fills after a few candidates, and slow when it is rare.
    """
    if common:
        return (
            select(Tag.experiment_id)
            .where(Tag.experiment_id == Experiment.id, Tag.tag == tag)
            .exists()
        )
    return Experiment.id.in_(select(Tag.experiment_id).where(Tag.tag == tag))


def _compile_field(node: Field) -> ColumnElement[bool]:
    if node.name in _COLUMN_FIELDS:
        return _COLUMN_FIELDS[node.name] == node.value
    if node.name == "tag":
        return _compile_tag(node.value, common=False)
    if node.name == "with":
        return _collaborator_of(node.value)
    if node.name == "id":
        return id_prefix_condition(node.value)
    raise ValueError(f"field {node.name!r} has no SQL form")


def _collaborator_of(handle: str) -> ColumnElement[bool]:
    shared = select(Collaborator.experiment_id).where(Collaborator.handle == handle)
    return Experiment.id.in_(shared)


def id_prefix_condition(prefix: str) -> ColumnElement[bool]:
    """Match ids starting with `prefix` by a range scan on the primary key.

    The substring test keeps the match exact whatever the column's
    collation; the range bounds only let the database use the index.
    """
    lower = prefix.rstrip("-")
    conditions = [
        Experiment.id >= lower,
        func.substr(Experiment.id, 1, len(prefix)) == prefix,
    ]
    upper = _next_hex_prefix(lower)
    if upper is not None:
        conditions.append(Experiment.id < upper)
    return and_(*conditions)


def _next_hex_prefix(prefix: str) -> str | None:
    """Return the least hex string above every id that starts with `prefix`.

    It steps within 0-9a-f (9 -> a, f carries) instead of to the next code
    point, because `9` + 1 is `:`, which a locale collation may order
    anywhere. Dashes are dropped because UUIDs have them in fixed places.
    """
    characters = list(prefix)
    while characters:
        last = characters.pop()
        if last in "-f":
            continue
        following = "a" if last == "9" else chr(ord(last) + 1)
        return "".join(characters) + following
    return None


def _metric_exists(node: MetricCmp) -> ColumnElement[bool]:
    compare = _COMPARE[node.operator]
    return (
        select(MetricSummary.experiment_id)
        .where(
            MetricSummary.experiment_id == Experiment.id,
            MetricSummary.key == node.name,
            compare(MetricSummary.value, node.value),
        )
        .exists()
    )


def _config_exists(node: ConfigCmp) -> ColumnElement[bool]:
    compare = _COMPARE[node.operator]
    if isinstance(node.value, float):
        condition = compare(ConfigParam.value_number, node.value)
    else:
        condition = compare(ConfigParam.value_text, node.value)
    return (
        select(ConfigParam.experiment_id)
        .where(
            ConfigParam.experiment_id == Experiment.id,
            ConfigParam.key == node.key,
            condition,
        )
        .exists()
    )


def _compile_date(
    node: DateBound, now: dt.datetime, tz: dt.tzinfo
) -> ColumnElement[bool]:
    point = node.point
    if node.bound == "since":
        return Experiment.created_at >= _start(point, now, tz)
    if isinstance(point, (dt.datetime, dt.timedelta)):
        return Experiment.created_at <= _start(point, now, tz)
    # `until:` a calendar day includes all of that day.
    try:
        next_day = _calendar_day(point, now, tz) + dt.timedelta(days=1)
    except OverflowError:
        return true()
    return Experiment.created_at < _start(next_day, now, tz)


def _start(point: TimePoint, now: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """Return the UTC instant at which a time point begins.

    Points beyond Python's datetime range clamp to its ends, where every
    stored time lies on the expected side.
    """
    if isinstance(point, dt.timedelta):
        try:
            return now.astimezone(dt.UTC) - point
        except OverflowError:
            return _EARLIEST
    if isinstance(point, dt.datetime):
        local = point if point.tzinfo is not None else point.replace(tzinfo=tz)
    else:
        day = _calendar_day(point, now, tz)
        local = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    try:
        return local.astimezone(dt.UTC)
    except OverflowError:
        return _EARLIEST if local.year < 5000 else _LATEST


def _calendar_day(
    point: dt.date | RelativeDay, now: dt.datetime, tz: dt.tzinfo
) -> dt.date:
    if isinstance(point, RelativeDay):
        return now.astimezone(tz).date() - dt.timedelta(days=point.days_ago)
    return point


# -- ORDER BY ----------------------------------------------------------------


class _Seconds(FunctionElement[float]):
    """Seconds from the first timestamp argument to the second."""

    type = Float()
    inherit_cache = True


@compiles(_Seconds, "sqlite")
def _seconds_sqlite(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(_Seconds)
def _seconds_default(element: _Seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXTRACT(EPOCH FROM ({end} - {start}))"


def compile_order(
    sort: Sequence[SortKey],
    *,
    direction_of: DirectionOf,
    metric_values: Mapping[str, SQLColumnExpression[float]] | None = None,
) -> list[ColumnElement[Any]]:
    """Compile sort keys to ORDER BY terms, ending with the default order.

    After the given keys come newest created first (unless `created` was
    one of them) and the id, so pages are stable. `direction_of(metric)`
    returns "max" or "min", and experiments without the metric sort last
    either way. A metric's value is read from `metric_values[name]` when
    the caller has joined it, else from a correlated subquery.
    """
    terms: list[ColumnElement[Any]] = []
    for key in sort:
        terms.extend(_order_terms(key, direction_of, metric_values or {}))
    if not any(key.name == "created" for key in sort):
        terms.append(Experiment.created_at.desc())
    terms.append(Experiment.id.asc())
    return terms


def _order_terms(
    key: SortKey,
    direction_of: DirectionOf,
    metric_values: Mapping[str, SQLColumnExpression[float]],
) -> list[ColumnElement[Any]]:
    if key.is_metric:
        value = metric_values.get(key.name)
        if value is None:
            value = _metric_value(key.name)
        return [_ordered(value, _descending(key, direction_of))]
    if key.name == "name":
        lowered = func.lower(Experiment.name)
        return [_ordered(lowered, key.reverse), _ordered(Experiment.name, key.reverse)]
    column: SQLColumnExpression[Any] = {
        "created": Experiment.created_at,
        "updated": Experiment.updated_at,
        "started": Experiment.started_at,
        "ended": Experiment.ended_at,
        "duration": _Seconds(Experiment.started_at, Experiment.ended_at),
    }[key.name]
    return [_ordered(column, key.reverse)]


def _descending(key: SortKey, direction_of: DirectionOf) -> bool:
    """Return whether a metric sort key orders its values high to low."""
    direction = direction_of(key.name)
    if direction not in ("max", "min"):
        raise ValueError(
            f"direction_of({key.name!r}) returned {direction!r}, not 'max' or 'min'"
        )
    return (direction == "max") != key.reverse


def _metric_value(name: str) -> ColumnElement[float]:
    return (
        select(MetricSummary.value)
        .where(MetricSummary.experiment_id == Experiment.id, MetricSummary.key == name)
        .scalar_subquery()
    )


def _ordered(
    expression: SQLColumnExpression[Any], descending: bool
) -> ColumnElement[Any]:
    ordered = expression.desc() if descending else expression.asc()
    return ordered.nulls_last()
