"""`expbot outbox`: listing, retrying and dropping deliveries."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot import outbox
from bot.cli import main
from tests.dispatcher_harness import (
    GENERAL,
    deliveries,
    drain,
    history_slack,
    make_dispatcher,
    subscribe,
)
from tests.fakeslack import Channel
from tracker.models import utcnow

MISSING = "C0MISSING"


@pytest.fixture
def tracker(sqlite_tracker):
    return sqlite_tracker


@pytest.fixture
def slack(monkeypatch):
    with history_slack() as fake:
        yield fake


@pytest.fixture
def parked(tracker, slack, clock):
    """One delivery parked because its channel does not exist."""
    subscribe(tracker, MISSING)
    tracker.track("bert", researcher="alice")
    drain(make_dispatcher(tracker, slack, clock), clock)
    return deliveries(tracker)[0]


def outbox_cli(url: str, *args: str) -> int:
    return main(["--database-url", url, "outbox", *args])


def test_list_shows_parked_delivery(sqlite_url, parked, capsys):
    status = outbox_cli(sqlite_url)

    output = capsys.readouterr().out
    assert status == 0
    assert "parked" in output
    assert MISSING in output
    assert "channel_not_found" in output


def test_list_json_prints_rows(sqlite_url, parked, capsys):
    status = outbox_cli(sqlite_url, "list", "--json")

    rows = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [row["id"] for row in rows] == [parked.id]
    assert rows[0]["state"] == "parked"
    assert rows[0]["kind"] == "created"
    assert "channel_not_found" in rows[0]["last_error"]


def test_json_flag_before_subcommand(sqlite_url, parked, capsys):
    status = outbox_cli(sqlite_url, "--json", "list")

    assert status == 0
    assert json.loads(capsys.readouterr().out)[0]["id"] == parked.id


def test_list_empty_outbox(sqlite_url, tracker, capsys):
    status = outbox_cli(sqlite_url, "list")

    assert status == 0
    assert "No deliveries are waiting or parked" in capsys.readouterr().out


def test_list_all_includes_delivered(sqlite_url, tracker, slack, clock, capsys):
    subscribe(tracker, GENERAL)
    tracker.track("bert", researcher="alice")
    drain(make_dispatcher(tracker, slack, clock), clock)

    outbox_cli(sqlite_url, "list", "--all", "--json")

    rows = json.loads(capsys.readouterr().out)
    assert [row["state"] for row in rows] == ["delivered"]


def test_retry_delivers_after_the_fix(
    sqlite_url, tracker, slack, clock, parked, capsys
):
    slack.add_channel(Channel(MISSING, "found-again", members={"U0EXPBOT"}))

    status = outbox_cli(sqlite_url, "retry", str(parked.id), "--json")
    clock.now = utcnow() + dt.timedelta(seconds=1)
    drain(make_dispatcher(tracker, slack, clock), clock)

    assert status == 0
    assert json.loads(capsys.readouterr().out) == [
        {"id": parked.id, "state": "sending"}
    ]
    assert len(slack.messages(MISSING)) == 1
    assert deliveries(tracker)[0].state == outbox.DELIVERED


def test_retry_parked_requeues_all(sqlite_url, tracker, parked, capsys):
    status = outbox_cli(sqlite_url, "retry", "--parked")

    assert status == 0
    assert "Requeued 1 delivery;" in capsys.readouterr().out
    assert deliveries(tracker)[0].state == outbox.SENDING


def test_drop_stops_delivery(sqlite_url, tracker, slack, clock, parked, capsys):
    slack.add_channel(Channel(MISSING, "found-again", members={"U0EXPBOT"}))

    status = outbox_cli(sqlite_url, "drop", str(parked.id))
    drain(make_dispatcher(tracker, slack, clock), clock)

    assert status == 0
    assert deliveries(tracker)[0].state == outbox.DROPPED
    assert slack.messages(MISSING) == []


def test_retry_unknown_id_fails(sqlite_url, tracker, capsys):
    status = outbox_cli(sqlite_url, "retry", "999")

    error = capsys.readouterr().err
    assert status == 1
    assert "No delivery 999" in error
    assert "expbot outbox list" in error


def test_retry_without_ids_fails(sqlite_url, tracker, capsys):
    status = outbox_cli(sqlite_url, "retry")

    assert status == 1
    assert "--parked" in capsys.readouterr().err


def test_drop_delivered_fails(sqlite_url, tracker, slack, clock, capsys):
    subscribe(tracker, GENERAL)
    tracker.track("bert", researcher="alice")
    drain(make_dispatcher(tracker, slack, clock), clock)

    status = outbox_cli(sqlite_url, "drop", str(deliveries(tracker)[0].id))

    assert status == 1
    assert "already delivered" in capsys.readouterr().err


def test_failed_retry_changes_nothing(sqlite_url, tracker, parked, capsys):
    status = outbox_cli(sqlite_url, "retry", str(parked.id), "999")

    assert status == 1
    assert deliveries(tracker)[0].state == outbox.PARKED
