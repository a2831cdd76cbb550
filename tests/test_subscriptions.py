"""`/exp subscribe`, `subscriptions` and `unsubscribe`, through the router."""

from __future__ import annotations

import pytest

from bot.commands.base import CommandContext
from bot.commands.subscriptions import MAX_PER_CHANNEL, list_subscriptions
from bot.router import execute
from bot.settings import Settings
from tests.dispatcher_harness import (
    GENERAL,
    ML_TEAM,
    drain,
    history_slack,
    make_dispatcher,
)
from tracker.models import EVENT_KINDS


@pytest.fixture
def tracker(sqlite_tracker):
    return sqlite_tracker


def run(tracker, text: str, channel: str = GENERAL):
    ctx = CommandContext(
        tracker=tracker,
        settings=Settings(),
        user_id="U0ALICE",
        handle="alice",
        is_admin=False,
        channel_id=channel,
    )
    return execute(ctx, text)


def test_subscribe_stores_query_and_kinds(tracker):
    reply = run(tracker, "subscribe project:mt tag:nlp events:completed,failed")

    stored = list_subscriptions(tracker, GENERAL)
    assert not reply.error
    assert [(s.query, s.event_kinds) for s in stored] == [
        ("project:mt tag:nlp", ("completed", "failed"))
    ]
    assert stored[0].created_by == "alice"


def test_subscribe_without_query_hears_everything(tracker):
    reply = run(tracker, "subscribe")

    stored = list_subscriptions(tracker, GENERAL)[0]
    assert stored.query == ""
    assert stored.event_kinds == EVENT_KINDS
    assert "all experiments (all events)" in reply.text


def test_subscribe_rejects_invalid_query(tracker):
    reply = run(tracker, "subscribe accuracy>")

    assert reply.error
    assert "Invalid query at position" in reply.text
    assert list_subscriptions(tracker, GENERAL) == []


@pytest.mark.parametrize(
    ("query", "term"),
    [
        ("tag:nlp sort:accuracy", "sort:accuracy"),
        ("sort:-created", "sort:-created"),
        ("tag:nlp sort:val/loss events:completed", "sort:val/loss"),
    ],
)
def test_subscribe_rejects_sort(tracker, query, term):
    reply = run(tracker, f"subscribe {query}")

    assert reply.error
    assert f"`{term}`" in reply.text
    assert "remove" in reply.text.lower()
    assert list_subscriptions(tracker, GENERAL) == []


def test_subscribe_rejects_unknown_event_kind(tracker):
    reply = run(tracker, "subscribe events:finished")

    assert reply.error
    assert "Unknown event kind `finished`" in reply.text
    assert "/exp subscribe" in reply.text
    assert list_subscriptions(tracker, GENERAL) == []


@pytest.mark.parametrize(
    ("events", "kinds"),
    [
        ("events:all", EVENT_KINDS),
        ("events:failed,created", ("created", "failed")),
        ("events:Completed", ("completed",)),
        ("events:threshold,noted,shared", ("shared", "noted", "threshold")),
    ],
)
def test_subscribe_event_kind_forms(tracker, events, kinds):
    run(tracker, f"subscribe {events}")

    assert list_subscriptions(tracker, GENERAL)[0].event_kinds == kinds


def test_subscribe_normalizes_person_mentions(tracker):
    run(tracker, "subscribe by:@bob")

    assert list_subscriptions(tracker, GENERAL)[0].query == "by:bob"


def test_subscribe_twice_keeps_one(tracker):
    run(tracker, "subscribe project:mt")
    reply = run(tracker, "subscribe project:mt")

    assert "already has that subscription, number 1" in reply.text
    assert len(list_subscriptions(tracker, GENERAL)) == 1


def test_subscribe_caps_subscriptions_per_channel(tracker):
    for number in range(MAX_PER_CHANNEL):
        run(tracker, f"subscribe tag:t{number}")

    reply = run(tracker, "subscribe tag:one-too-many")

    assert reply.error
    assert "/exp unsubscribe N" in reply.text
    assert len(list_subscriptions(tracker, GENERAL)) == MAX_PER_CHANNEL


def test_subscribe_reply_is_not_shareable(tracker):
    reply = run(tracker, "subscribe project:mt")

    assert reply.shareable is False


def test_subscriptions_lists_with_numbers(tracker):
    run(tracker, "subscribe project:mt")
    run(tracker, "subscribe tag:nlp events:completed")

    reply = run(tracker, "subscriptions")

    lines = reply.text.splitlines()
    assert lines[1].startswith("1. experiments matching `project:mt` (all events)")
    assert lines[2].startswith("2. experiments matching `tag:nlp` (completed)")


def test_subscriptions_empty_says_so(tracker):
    reply = run(tracker, "subscriptions")

    assert "no subscriptions" in reply.text
    assert "/exp subscribe" in reply.text


def test_subscriptions_are_per_channel(tracker):
    run(tracker, "subscribe project:mt", channel=ML_TEAM)

    assert list_subscriptions(tracker, GENERAL) == []
    assert len(list_subscriptions(tracker, ML_TEAM)) == 1


def test_unsubscribe_removes_by_number(tracker):
    run(tracker, "subscribe project:mt")
    run(tracker, "subscribe tag:nlp")

    reply = run(tracker, "unsubscribe 1")

    assert "Removed subscription 1" in reply.text
    assert [s.query for s in list_subscriptions(tracker, GENERAL)] == ["tag:nlp"]


@pytest.mark.parametrize("argument", ["3", "0", "two", ""])
def test_unsubscribe_rejects_bad_numbers(tracker, argument):
    run(tracker, "subscribe project:mt")

    reply = run(tracker, f"unsubscribe {argument}")

    assert reply.error
    assert "/exp subscriptions" in reply.text
    assert len(list_subscriptions(tracker, GENERAL)) == 1


def test_subscribe_command_drives_dispatcher(tracker, clock, monkeypatch):
    run(tracker, "subscribe project:mt events:created")
    clock.advance(seconds=1)
    matching = tracker.track("bert", project="mt", researcher="alice")
    tracker.track("wav2vec", project="asr", researcher="alice")

    with history_slack() as slack:
        drain(make_dispatcher(tracker, slack, clock), clock)
        cards = slack.messages(GENERAL)

    assert len(cards) == 1
    assert matching.short_id in cards[0].text


def test_unsubscribed_channel_hears_nothing(tracker, clock, monkeypatch):
    run(tracker, "subscribe")
    run(tracker, "unsubscribe 1")
    tracker.track("bert", researcher="alice")

    with history_slack() as slack:
        drain(make_dispatcher(tracker, slack, clock), clock)
        cards = slack.messages(GENERAL)

    assert cards == []
