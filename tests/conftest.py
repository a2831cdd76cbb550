"""Fixtures shared by the whole suite: real databases, one per test."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tracker import Tracker

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


class FakeClock:
    """A settable UTC clock for `Tracker(clock=...)`."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'expbot.db'}"


@pytest.fixture(scope="session")
def postgres_available() -> str | None:
    """Return None when PostgreSQL accepts a connection, else the reason."""
    try:
        engine = create_engine(POSTGRES_SERVER)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except OperationalError as exc:
        return f"PostgreSQL at 127.0.0.1:5432 is unreachable: {exc.orig}"
    return None


@pytest.fixture(scope="session")
def postgres_server(postgres_available) -> str:
    """The PostgreSQL server URL; skips the test when it is unreachable."""
    if postgres_available:
        pytest.skip(postgres_available)
    return POSTGRES_SERVER


@pytest.fixture
def postgres_url(postgres_available) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after."""
    if postgres_available:
        pytest.skip(postgres_available)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{POSTGRES_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def database_url(request) -> str:
    """Each store test runs on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def tracker(database_url, clock) -> Iterator[Tracker]:
    instance = Tracker(database_url, clock=clock)
    yield instance
    instance.close()


@pytest.fixture
def sqlite_tracker(sqlite_url, clock) -> Iterator[Tracker]:
    instance = Tracker(sqlite_url, clock=clock)
    yield instance
    instance.close()


# -- the Slack bot ----------------------------------------------------------

pytest_plugins = ["tests.fakeslack.pytest_plugin"]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the slowest ack of a Slack request measured in this run."""
    from tests.bot_server import ACK_TIMES

    if not ACK_TIMES:
        return
    seconds, what = max(ACK_TIMES)
    terminalreporter.write_sep("-", "Slack acks")
    terminalreporter.write_line(
        f"{len(ACK_TIMES)} acks measured; slowest {seconds * 1000:.0f} ms "
        f"({what}); Slack's limit is 3000 ms"
    )


@pytest.fixture
def run_expbot(monkeypatch, capsys):
    """Run `expbot` in-process as alice; each call returns (status, stdout, stderr)."""
    from bot.cli import main

    monkeypatch.setenv("EXPBOT_RESEARCHER", "alice")

    def run(*args: str) -> tuple[int, str, str]:
        try:
            status = main(list(args))
        except SystemExit as stop:
            status = int(stop.code or 0)
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return run
