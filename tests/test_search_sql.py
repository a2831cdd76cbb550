"""SQL tests for the search language on SQLite and PostgreSQL.

One small data set of six experiments is written per engine and module.
Every test only reads it, so the tests can share it. PostgreSQL tests run
in a schema of their own, dropped at the end, so helpers running tests at
the same time on the same server do not see each other's tables.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from tracker import search as search_module
from tracker.errors import InvalidQuery
from tracker.models import (
    Base,
    Collaborator,
    ConfigParam,
    Experiment,
    MetricSummary,
    Note,
    Tag,
)
from tracker.query import MAX_DEPTH, MAX_TERMS, Query, parse
from tracker.search import (
    common_tags,
    compile_order,
    compile_where,
    matches_sql,
    page_ids,
    select_experiments,
)

POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
ConfigRows = dict[str, tuple[str, float | None]]
ALL = {"bert-base", "bert-large", "resnet", "probe", "percent", "legacy"}


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


def label(row: Experiment) -> str:
    """Return the short name tests use: the name's first word, lower-cased."""
    return row.name.split()[0].lower()


def direction_of(metric: str) -> str:
    return "min" if metric in ("loss", "val/loss") else "max"


def experiment(
    identifier: str,
    name: str,
    *,
    created: dt.datetime,
    description: str = "",
    notes: tuple[str, ...] = (),
    tags: tuple[str, ...] = (),
    metrics: dict[str, float] | None = None,
    collaborators: tuple[str, ...] = (),
    duration: dt.timedelta | None = None,
    **columns: Any,
) -> Experiment:
    started = None if duration is None else created + dt.timedelta(minutes=1)
    team = columns.get("team", "")
    return Experiment(
        id=identifier,
        name=name,
        description=description,
        created_at=created,
        updated_at=created + dt.timedelta(hours=3),
        started_at=started,
        ended_at=None if started is None or duration is None else started + duration,
        search_text="\n".join([name, description, *notes]).lower(),
        tags=[Tag(tag=tag, team=team) for tag in tags],
        metrics=[
            MetricSummary(key=key, value=value, step=1, updated_at=created, team=team)
            for key, value in (metrics or {}).items()
        ],
        collaborators=[
            Collaborator(handle=handle, added_at=created) for handle in collaborators
        ],
        notes=[Note(author="alice", text=note, created_at=created) for note in notes],
        **columns,
    )


def dataset() -> list[tuple[Experiment, ConfigRows]]:
    """Return the six experiments with their config as (text, number) pairs."""
    rows = [
        experiment(
            "3f2a9c00-0000-4000-8000-000000000001",
            "bert-base",
            created=utc(2026, 11, 1, 0, 30),
            description="Baseline BERT lr sweep on WMT",
            researcher="alice",
            team="nlp",
            project="mt",
            status="completed",
            source="cli",
            tags=("nlp", "sweep"),
            metrics={"accuracy": 0.95, "loss": 0.2, "bleu": 30.0, "val/loss": 0.25},
            duration=dt.timedelta(hours=2),
        ),
        experiment(
            "3f2a9d00-0000-4000-8000-000000000002",
            "bert-large",
            created=utc(2026, 11, 15, 12, 0),
            researcher="bob",
            team="nlp",
            project="mt",
            status="failed",
            source="api",
            tags=("nlp",),
            metrics={"accuracy": 0.8, "loss": 0.5, "bleu": 0.0, "val/loss": 0.3},
            collaborators=("alice",),
            duration=dt.timedelta(minutes=30),
        ),
        experiment(
            "3f2a9cff-0000-4000-8000-000000000003",
            "resnet",
            created=utc(2026, 11, 30, 23, 30),
            description="ImageNet",
            researcher="carol",
            team="vision",
            project="image classification",
            status="running",
            source="nemo_run",
            tags=("vision",),
            metrics={"accuracy": 0.9},
            duration=None,
        ),
        experiment(
            "ffffffff-0000-4000-8000-000000000004",
            "probe 100% done_v2",
            created=utc(2026, 11, 30, 23, 30),
            description=r"scratch in c:\temp",
            researcher="dave",
            team="nlp",
            project="",
            status="cancelled",
            source="slack",
            visibility="private",
            collaborators=("erin",),
            duration=dt.timedelta(hours=5),
        ),
        experiment(
            "a0000000-0000-4000-8000-000000000005",
            "Percent",
            created=utc(2026, 10, 1, 9, 0),
            description="done v2 100 percent, tracks val/loss and more",
            researcher="erin",
            team="vision",
            project="cv",
            status="completed",
            source="api",
            tags=("sweep", "vision"),
            metrics={"loss": 0.1},
        ),
        experiment(
            "0f000000-0000-4000-8000-000000000006",
            "legacy",
            created=NOW - dt.timedelta(days=7),
            notes=("Rerun with warmup",),
            researcher="alice",
            team="nlp",
            project="mt",
            status="completed",
            source="cli",
            visibility="private",
        ),
    ]
    configs: list[ConfigRows] = [
        {
            "lr": ("0.001", 0.001),
            "model": ("transformer", None),
            "optimizer.name": ("adam", None),
        },
        {
            "lr": ("0.01", 0.01),
            "model": ("transformer", None),
            "optimizer.name": ("sgd", None),
        },
        {"lr": ("0.1", 0.1), "model": ("resnet", None), "seed": ("42", 42.0)},
        {},
        {"release": ("007", 7.0)},
        {"model": ("Transformer", None)},
    ]
    return list(zip(rows, configs, strict=True))


def write_dataset(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for row, config in dataset():
            row.config = {key: text for key, (text, _) in config.items()}
            session.add(row)
            # config_params has no relationship to order its inserts after
            # the experiment's, so the experiment goes in first.
            session.flush()
            session.add_all(
                ConfigParam(
                    experiment_id=row.id, key=key, value_text=text, value_number=number
                )
                for key, (text, number) in config.items()
            )
        session.commit()


@contextlib.contextmanager
def postgres_schema() -> Iterator[tuple[Engine, str]]:
    """Yield an engine whose search_path is a new schema, dropped on exit."""
    schema = f"test_search_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}")
    postgres = create_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}
    )
    try:
        yield postgres, schema
    finally:
        postgres.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("search") / "expbot.db"
        sqlite = create_engine(f"sqlite:///{path}")
        write_dataset(sqlite)
        yield sqlite
        sqlite.dispose()
        return

    with postgres_schema() as (postgres, _):
        write_dataset(postgres)
        yield postgres


def search(
    engine: Engine,
    query: str,
    *,
    viewer: str | None = None,
    tz: dt.tzinfo = dt.UTC,
    directions: Any = direction_of,
    limit: int | None = None,
    offset: int = 0,
) -> list[str]:
    statement = select_experiments(
        parse(query),
        now=NOW,
        direction_of=directions,
        viewer=viewer,
        limit=limit,
        offset=offset,
        tz=tz,
    )
    with Session(engine) as session:
        return [label(row) for row in session.scalars(statement)]


FILTERS = [
    # free text
    ("bert", {"bert-base", "bert-large"}),
    ("BERT", {"bert-base", "bert-large"}),
    ('"lr sweep"', {"bert-base"}),
    ("warmup", {"legacy"}),
    ("imagenet resnet", {"resnet"}),
    ("and", {"percent"}),
    ("100%", {"probe"}),
    ("done_v2", {"probe"}),
    ('"_"', {"probe"}),
    ('"%"', {"probe"}),
    ("val/loss", {"percent"}),
    (r'"c:\\temp"', {"probe"}),
    ("nothing-like-this", set()),
    # fields
    ("tag:nlp", {"bert-base", "bert-large"}),
    ("tag:sweep", {"bert-base", "percent"}),
    ("status:completed", {"bert-base", "percent", "legacy"}),
    ("team:vision", {"resnet", "percent"}),
    ('project:"image classification"', {"resnet"}),
    ("by:alice", {"bert-base", "legacy"}),
    ("by:@alice", {"bert-base", "legacy"}),
    ("with:alice", {"bert-large"}),
    ("with:erin", {"probe"}),
    ("with:@erin", {"probe"}),
    ("source:nemo_run", {"resnet"}),
    # id prefixes, including a carry past f and a trailing dash
    ("id:3f2a9c", {"bert-base", "resnet"}),
    ("id:3F2A9D", {"bert-large"}),
    ("id:3f2a9cff", {"resnet"}),
    ("id:3f2a9c00-", {"bert-base"}),
    ("id:3f2a9c00-0000-4000-8000-000000000001", {"bert-base"}),
    ("id:ffff", {"probe"}),
    ("id:0f", {"legacy"}),
    ("id:3f2a9c0", {"bert-base"}),
    ("id:3f2a9b", set()),
    # metrics
    ("accuracy>0.9", {"bert-base"}),
    ("accuracy>=0.9", {"bert-base", "resnet"}),
    ("accuracy<0.9", {"bert-large"}),
    ("val/loss<=0.3", {"bert-base", "bert-large"}),
    ("bleu!=0", {"bert-base"}),
    ("bleu=0", {"bert-large"}),
    ("NOT bleu=0", ALL - {"bert-large"}),
    ("loss>=0.2 loss<0.5", {"bert-base"}),
    # config
    ("config.lr=0.001", {"bert-base"}),
    ("config.lr=1e-3", {"bert-base"}),
    ("config.lr<0.05", {"bert-base", "bert-large"}),
    ("config.lr>=0.1", {"resnet"}),
    ("config.model=transformer", {"bert-base", "bert-large"}),
    ("config.model!=transformer", {"resnet", "legacy"}),
    ("config.optimizer.name=adam", {"bert-base"}),
    ("config.seed=42", {"resnet"}),
    ("config.release=7", {"percent"}),
    ('config.release="7"', set()),
    ('config.release="007"', {"percent"}),
    ("config.release=007", {"percent"}),
    ("config.missing=1", set()),
    # dates: NOW is 2026-12-01T12:00Z
    ("since:2026-11-15", {"bert-large", "resnet", "probe", "legacy"}),
    ("until:2026-11-15", {"bert-base", "bert-large", "percent"}),
    ("until:2026-11-29", {"bert-base", "bert-large", "percent", "legacy"}),
    ("until:2026-11-30", ALL),
    ("since:2026-11-30 until:2026-11-30", {"resnet", "probe"}),
    ("since:7d", {"resnet", "probe", "legacy"}),
    ("since:13h", {"resnet", "probe"}),
    ("since:12h", set()),
    ("since:2w", {"resnet", "probe", "legacy"}),
    ("until:7d", {"bert-base", "bert-large", "percent", "legacy"}),
    ("since:today", set()),
    ("since:yesterday", {"resnet", "probe"}),
    ("until:yesterday", ALL),
    ("until:today", ALL),
    ("since:2026-11-30T23:30Z", {"resnet", "probe"}),
    ("since:2026-11-30T23:31", set()),
    ("until:2026-11-15T12:00", {"bert-base", "bert-large", "percent"}),
    ("until:2026-11-15T13:00+02:00", {"bert-base", "percent"}),
    ("since:0001-01-01", ALL),
    ("until:9999-12-31", ALL),
    # boolean structure
    ("bert -large", {"bert-base"}),
    ("tag:nlp OR tag:vision", {"bert-base", "bert-large", "resnet", "percent"}),
    ("(tag:nlp OR tag:vision) status:completed", {"bert-base", "percent"}),
    ("tag:nlp OR tag:vision status:completed", {"bert-base", "bert-large", "percent"}),
    (
        "tag:nlp OR tag:vision AND status:completed",
        {"bert-base", "bert-large", "percent"},
    ),
    ("NOT (tag:nlp OR tag:vision)", {"probe", "legacy"}),
    ("NOT tag:nlp NOT tag:vision", {"probe", "legacy"}),
    ("-(by:alice OR by:bob) team:nlp", {"probe"}),
    ("NOT NOT tag:nlp", {"bert-base", "bert-large"}),
    ("(accuracy>0.85 OR loss<0.15) -status:running", {"bert-base", "percent"}),
    ("", ALL),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS, ids=[f[0] for f in FILTERS])
def test_filter_returns_exact_experiments(
    engine: Engine, query: str, expected: set[str]
) -> None:
    found = search(engine, query)

    assert set(found) == expected
    assert len(found) == len(expected)


TIME_ZONES = [
    ("until:2026-11-30", "America/New_York", ALL),
    ("until:2026-11-30", "Asia/Tokyo", ALL - {"resnet", "probe"}),
    ("since:2026-12-01", "Asia/Tokyo", {"resnet", "probe"}),
    ("since:2026-12-01", "America/New_York", set()),
    ("since:today", "Asia/Tokyo", {"resnet", "probe"}),
    ("since:0001-01-01", "Asia/Tokyo", ALL),
    ("until:9999-12-31", "Asia/Tokyo", ALL),
    ("since:9999-12-31", "America/New_York", set()),
]


@pytest.mark.parametrize(("query", "zone", "expected"), TIME_ZONES)
def test_dates_read_in_time_zone(
    engine: Engine, query: str, zone: str, expected: set[str]
) -> None:
    assert set(search(engine, query, tz=ZoneInfo(zone))) == expected


ORDERS = [
    # Default: newest created first, ties broken by id.
    ("", ["resnet", "probe", "legacy", "bert-large", "bert-base", "percent"]),
    (
        "sort:-created",
        ["resnet", "probe", "legacy", "bert-large", "bert-base", "percent"],
    ),
    (
        "sort:created",
        ["percent", "bert-base", "bert-large", "legacy", "resnet", "probe"],
    ),
    (
        "sort:accuracy",
        ["bert-base", "resnet", "bert-large", "probe", "legacy", "percent"],
    ),
    (
        "sort:-accuracy",
        ["bert-large", "resnet", "bert-base", "probe", "legacy", "percent"],
    ),
    ("sort:loss", ["percent", "bert-base", "bert-large", "resnet", "probe", "legacy"]),
    ("sort:-loss", ["bert-large", "bert-base", "percent", "resnet", "probe", "legacy"]),
    (
        "sort:val/loss",
        ["bert-base", "bert-large", "resnet", "probe", "legacy", "percent"],
    ),
    ("sort:name", ["bert-base", "bert-large", "legacy", "percent", "probe", "resnet"]),
    ("sort:-name", ["resnet", "probe", "percent", "legacy", "bert-large", "bert-base"]),
    (
        "sort:-duration",
        ["probe", "bert-base", "bert-large", "resnet", "legacy", "percent"],
    ),
    (
        "sort:duration",
        ["bert-large", "bert-base", "probe", "resnet", "legacy", "percent"],
    ),
    (
        "sort:started",
        ["bert-base", "bert-large", "probe", "resnet", "legacy", "percent"],
    ),
    (
        "sort:-ended",
        ["probe", "bert-large", "bert-base", "resnet", "legacy", "percent"],
    ),
    (
        "sort:updated",
        ["percent", "bert-base", "bert-large", "legacy", "resnet", "probe"],
    ),
    (
        "sort:bleu sort:name",
        ["bert-base", "bert-large", "legacy", "percent", "probe", "resnet"],
    ),
    ("tag:nlp sort:loss", ["bert-base", "bert-large"]),
]


@pytest.mark.parametrize(("query", "expected"), ORDERS, ids=[o[0] for o in ORDERS])
def test_sort_orders_experiments(
    engine: Engine, query: str, expected: list[str]
) -> None:
    assert search(engine, query) == expected


@pytest.mark.parametrize(("query", "expected"), ORDERS, ids=[o[0] for o in ORDERS])
def test_compile_order_alone_sorts_same(
    engine: Engine, query: str, expected: list[str]
) -> None:
    parsed = parse(query)
    statement = (
        select(Experiment)
        .where(compile_where(parsed.where, now=NOW))
        .order_by(*compile_order(parsed.sort, direction_of=direction_of))
    )

    with Session(engine) as session:
        found = [label(row) for row in session.scalars(statement)]

    assert found == expected


def ids_in_order(engine: Engine, query: Query, viewer: str | None = None) -> list[str]:
    statement = select_experiments(
        query, now=NOW, direction_of=direction_of, viewer=viewer
    )
    with Session(engine) as session:
        return [row.id for row in session.scalars(statement)]


def page_of(
    engine: Engine,
    query: Query,
    *,
    limit: int,
    offset: int,
    viewer: str | None = None,
    sort_all_below: int = 0,
    common_tags: frozenset[str] = frozenset(),
) -> list[str]:
    """Return a page from `page_ids`, by default always walking the metric index."""
    with Session(engine) as session:
        return page_ids(
            session.connection(),
            query,
            now=NOW,
            direction_of=direction_of,
            viewer=viewer,
            limit=limit,
            offset=offset,
            sort_all_below=sort_all_below,
            common_tags=common_tags,
        )


@pytest.mark.parametrize("sort_all_below", [0, 4, 100])
@pytest.mark.parametrize(("query", "expected"), ORDERS, ids=[o[0] for o in ORDERS])
def test_page_ids_slice_full_order(
    engine: Engine, query: str, expected: list[str], sort_all_below: int
) -> None:
    parsed = parse(query)
    ordered = ids_in_order(engine, parsed)

    for offset in range(len(ordered) + 2):
        for limit in range(1, len(ordered) + 2):
            found = page_of(
                engine,
                parsed,
                limit=limit,
                offset=offset,
                sort_all_below=sort_all_below,
            )
            assert found == ordered[offset : offset + limit], (offset, limit)


TAG_FILTERS = [(query, found) for query, found in FILTERS if "tag:" in query]


@pytest.mark.parametrize(
    ("query", "expected"), TAG_FILTERS, ids=[f[0] for f in TAG_FILTERS]
)
def test_common_tag_plan_same_matches(
    engine: Engine, query: str, expected: set[str]
) -> None:
    statement = select_experiments(
        parse(query),
        now=NOW,
        direction_of=direction_of,
        common_tags={"nlp", "sweep", "vision"},
    )

    with Session(engine) as session:
        found = [label(row) for row in session.scalars(statement)]

    assert set(found) == expected
    assert len(found) == len(expected)


def test_common_tags_counts_tag_rows(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In the data set nlp and sweep are each on two experiments, x on none.
    monkeypatch.setattr(search_module, "COMMON_TAG_ROWS", 2)
    query = parse("(tag:nlp OR -tag:x) tag:sweep")

    with Session(engine) as session:
        common = common_tags(session.connection(), query)
        sorted_by_name = common_tags(session.connection(), parse("tag:nlp sort:name"))
        created_order = common_tags(
            session.connection(), parse("tag:nlp sort:-created")
        )

    assert common == {"nlp", "sweep"}
    assert sorted_by_name == frozenset()
    assert created_order == {"nlp"}


def test_page_ids_metric_first_reversed(engine: Engine) -> None:
    # Only bert-base and bert-large have bleu, so the page crosses from the
    # experiments with the metric to those without it.
    parsed = parse("sort:-bleu sort:-loss")
    ordered = ids_in_order(engine, parsed)

    assert page_of(engine, parsed, limit=3, offset=1) == ordered[1:4]
    assert page_of(engine, parsed, limit=2, offset=3) == ordered[3:5]


def test_sort_respects_team_direction(engine: Engine) -> None:
    def accuracy_minimized(metric: str) -> str:
        return "min" if metric == "accuracy" else "max"

    found = search(engine, "sort:accuracy tag:nlp", directions=accuracy_minimized)

    assert found == ["bert-large", "bert-base"]


def test_sort_rejects_unknown_direction(engine: Engine) -> None:
    with pytest.raises(ValueError, match="not 'max' or 'min'"):
        search(engine, "sort:accuracy", directions=lambda metric: "up")


def test_limit_and_offset_page(engine: Engine) -> None:
    first = search(engine, "sort:name", limit=2)
    second = search(engine, "sort:name", limit=2, offset=2)

    assert first == ["bert-base", "bert-large"]
    assert second == ["legacy", "percent"]


VISIBILITY = [
    (None, ALL),
    ("alice", ALL - {"probe"}),
    ("dave", ALL - {"legacy"}),
    ("erin", ALL - {"legacy"}),
    ("zed", ALL - {"probe", "legacy"}),
]


@pytest.mark.parametrize(("viewer", "expected"), VISIBILITY)
def test_private_visible_to_owner_collaborators(
    engine: Engine, viewer: str | None, expected: set[str]
) -> None:
    assert set(search(engine, "", viewer=viewer)) == expected


MATCHES = [
    ("tag:nlp", "3f2a9c00-0000-4000-8000-000000000001", None, True),
    ("tag:nlp", "3f2a9cff-0000-4000-8000-000000000003", None, False),
    ("", "3f2a9cff-0000-4000-8000-000000000003", None, True),
    ("sort:name", "3f2a9cff-0000-4000-8000-000000000003", None, True),
    ("team:nlp", "ffffffff-0000-4000-8000-000000000004", "zed", False),
    ("team:nlp", "ffffffff-0000-4000-8000-000000000004", "erin", True),
    ("", "00000000-0000-4000-8000-000000000000", None, False),
]


@pytest.mark.parametrize(("query", "identifier", "viewer", "expected"), MATCHES)
def test_matches_sql_for_one_experiment(
    engine: Engine, query: str, identifier: str, viewer: str | None, expected: bool
) -> None:
    statement = matches_sql(parse(query), identifier, now=NOW, viewer=viewer)

    with Session(engine) as session:
        found = session.scalar(statement)

    assert (found == 1) is expected


def test_compile_where_rejects_naive_now() -> None:
    with pytest.raises(ValueError, match="naive"):
        compile_where(parse("since:7d").where, now=dt.datetime(2026, 12, 1))


def test_empty_query_selects_all() -> None:
    statement = select_experiments(Query(), now=NOW, direction_of=direction_of)

    assert statement.whereclause is None


LARGE_PIECES = [
    "tag:nope", "accuracy>2", "config.lr=5", "with:zed", "-by:alice", "since:1h",
    "id:0000", "config.m!=x", "val/loss<0",
]  # fmt: skip
LARGEST = [
    (
        " OR ".join(LARGE_PIECES[i % 9] for i in range(MAX_TERMS)),
        ALL - {"bert-base", "legacy"},
    ),
    (" ".join(f"tag:t{i}" for i in range(MAX_TERMS)), set()),
    (
        "(" * MAX_DEPTH
        + " ".join(["-tag:x"] * (MAX_TERMS - 1))
        + " OR bert"
        + ")" * MAX_DEPTH,
        ALL,
    ),
]


@pytest.mark.parametrize(("query", "expected"), LARGEST, ids=["or", "and", "nested"])
def test_largest_allowed_query_runs(
    engine: Engine, query: str, expected: set[str]
) -> None:
    assert set(search(engine, query)) == expected


PIECES = [
    "AND", "OR", "NOT", "-", "(", ")", '"', "tag:nlp", "id:3f2a", "id:f",
    "by:alice", "with:erin", "status:failed", "config.lr<0.05", "config.model=x",
    "accuracy>0.9", "val/loss!=0.3", "since:7d", "until:2026-11-30", "until:today",
    "sort:accuracy", "sort:-loss", "sort:-duration", "sort:name", "bert", "%", "_",
    "/", "\\", "\u00e9", "\x00",
]  # fmt: skip
token_soup = st.lists(st.sampled_from(PIECES), max_size=10).map(" ".join)


@settings(max_examples=150, deadline=None)
@given(st.one_of(token_soup, st.text(max_size=30)))
def test_parsed_soup_runs_as_sql(engine: Engine, text: str) -> None:
    try:
        query = parse(text)
    except InvalidQuery:
        return
    statement = select_experiments(
        query, now=NOW, direction_of=direction_of, viewer="alice"
    )

    with Session(engine) as session:
        names = {label(row) for row in session.scalars(statement)}

    assert names <= ALL


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(token_soup, st.text(max_size=30)),
    st.integers(min_value=1, max_value=7),
    st.integers(min_value=0, max_value=7),
    st.sampled_from([0, 3, 100]),
    st.sampled_from([frozenset(), frozenset({"nlp", "sweep", "vision"})]),
)
def test_page_ids_match_full_order(
    engine: Engine,
    text: str,
    limit: int,
    offset: int,
    sort_all_below: int,
    common_tags: frozenset[str],
) -> None:
    try:
        query = parse(text)
    except InvalidQuery:
        return
    ordered = ids_in_order(engine, query, viewer="alice")

    found = page_of(
        engine,
        query,
        limit=limit,
        offset=offset,
        viewer="alice",
        sort_all_below=sort_all_below,
        common_tags=common_tags,
    )

    assert found == ordered[offset : offset + limit]


# The PostgreSQL test database uses the C collation, where text compares
# byte by byte. Under an ICU collation `:` sorts before digits, and with
# `ka-shifted` dashes are ignored, so an id range built by byte arithmetic
# would miss or add experiments there.
ID_COLLATIONS = ['"en-US-x-icu"', "shifted"]
COLLATED_IDS = [
    "3f2a9c00-0000-4000-8000-000000000001",
    "3f2a9cff-0000-4000-8000-000000000002",
    "3f2a9d00-0000-4000-8000-000000000003",
    "3f2a9fff-0000-4000-8000-000000000004",
    "3f2aa000-0000-4000-8000-000000000005",
]
COLLATED_PREFIXES = [
    ("id:3f2a9", {1, 2, 3, 4}),
    ("id:3f2a9c", {1, 2}),
    ("id:3f2a9f", {4}),
    ("id:3f2a9c00-", {1}),
    ("id:3f2a-9c", set()),
]


@pytest.mark.postgres
@pytest.mark.parametrize("collation", ID_COLLATIONS)
def test_id_prefix_under_icu_collation(collation: str) -> None:
    with postgres_schema() as (postgres, schema):
        Base.metadata.create_all(postgres)
        with postgres.begin() as connection:
            connection.execute(
                text(
                    f'CREATE COLLATION "{schema}".shifted '
                    "(provider = icu, locale = 'und-u-ka-shifted')"
                )
            )
            connection.execute(
                text(
                    "ALTER TABLE experiments ALTER COLUMN id "
                    f"TYPE varchar(36) COLLATE {collation}"
                )
            )
        with Session(postgres) as session:
            session.add_all(
                experiment(
                    identifier, f"run{identifier[-1]}", created=NOW, researcher="ann"
                )
                for identifier in COLLATED_IDS
            )
            session.commit()

            for query, expected in COLLATED_PREFIXES:
                statement = select_experiments(
                    parse(query), now=NOW, direction_of=direction_of
                )
                found = {int(row.id[-1]) for row in session.scalars(statement)}
                assert found == expected, query
