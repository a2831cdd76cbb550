"""End to end on PostgreSQL: `expbot serve --http` with EXPBOT_DATABASE_URL.

Several bot replicas may share one PostgreSQL database, so the request ids
that stop a retried command from acting twice must hold there too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.bot_server import (
    SlackSender,
    reply_text,
    serve_http,
)
from tests.fakeslack import FakeSlack
from tracker import Tracker, people

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def database_url(postgres_server: str) -> Iterator[str]:
    """A fresh schema for the module's server, dropped afterwards."""
    schema = f"bot_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{postgres_server}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(rate_limit=None) as fake:
        yield fake


@pytest.fixture(scope="module")
def sender(
    slack: FakeSlack, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SlackSender]:
    home: Path = tmp_path_factory.mktemp("expbot-pg")
    with serve_http(slack, home, EXPBOT_DATABASE_URL=database_url) as sender:
        yield sender


@pytest.fixture(scope="module")
def store(database_url: str, sender: SlackSender) -> Iterator[Tracker]:
    tracker = Tracker(database_url)
    # `alice` records experiments from the CLI, so only a link makes U0ALICE
    # her; a first command would get U0ALICE a handle of her own.
    people.link_slack_user(tracker, "alice", "U0ALICE", email="alice@example.com")
    yield tracker
    tracker.close()


def test_postgres_search_finds_run(sender: SlackSender, store: Tracker) -> None:
    record = store.track("pg-run", tags=["pg"], researcher="alice", capture=False)
    exchange = sender.command("search tag:pg")
    assert exchange.ack.status == 200
    assert record.short_id in reply_text(sender.reply(exchange))


def test_postgres_retried_command_acts_once(
    sender: SlackSender, store: Tracker
) -> None:
    record = store.track("pg-noted", researcher="alice", capture=False)
    text = f"note {record.short_id} once on postgres"
    trigger_id = "1700000000.0EXPBOT.pg-retry"
    first = sender.command(text, trigger_id=trigger_id)
    retries = [sender.command(text, trigger_id=trigger_id, retry_num=n) for n in (1, 2)]
    sender.reply(first)
    assert all(r.ack.status == 200 for r in retries)
    notes = [note.text for note in store.get(record.id).notes]
    assert notes.count("once on postgres") == 1


def test_postgres_first_sight_links_person(sender: SlackSender, store: Tracker) -> None:
    sender.reply(sender.command("help", user_id="U0BOB"))
    person = people.by_slack_id(store, "U0BOB")
    assert person is not None
    assert person.handle == "bob"
