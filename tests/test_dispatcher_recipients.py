"""Finding a collaborator's Slack user for the direct message on a share."""

from __future__ import annotations

import logging

import pytest

from bot import outbox
from tests.dispatcher_harness import deliveries, drain, history_slack, make_dispatcher
from tests.fakeslack import User
from tracker import people


@pytest.fixture
def tracker(sqlite_tracker):
    # The sharer used `/exp`, so the people table knows their email.
    people.link_slack_user(
        sqlite_tracker, "alice", "U0ALICE", email="alice@example.com"
    )
    return sqlite_tracker


@pytest.fixture
def slack():
    with history_slack() as fake:
        yield fake


@pytest.fixture
def dispatcher(tracker, slack, clock):
    return make_dispatcher(tracker, slack, clock)


def test_handle_found_at_known_domain(tracker, slack, dispatcher, clock):
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["bob"], actor="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(slack.dm_channel("U0BOB"))) == 1
    looked_up = [call.params["email"] for call in slack.calls("users.lookupByEmail")]
    assert looked_up == ["bob@example.com"]


def test_most_common_domain_tried_first(tracker, slack, dispatcher, clock):
    slack.add_user(User("U0ERIN", "erin", "Erin Eve", "erin@lab.org"))
    people.add_person(tracker, "carol", email="carol@example.com")
    people.add_person(tracker, "dan", email="dan@lab.org")
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["erin"], actor="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(slack.dm_channel("U0ERIN"))) == 1
    looked_up = [call.params["email"] for call in slack.calls("users.lookupByEmail")]
    assert looked_up == ["erin@example.com", "erin@lab.org"]


def test_person_email_wins_over_guess(tracker, slack, dispatcher, clock):
    slack.add_user(User("U0BOBBY", "bobby", "Bob Other", "robert@lab.org"))
    people.add_person(tracker, "bob", email="robert@lab.org")
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["bob"], actor="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(slack.dm_channel("U0BOBBY"))) == 1
    assert slack.messages(slack.dm_channel("U0BOB")) == []


def test_unfound_guess_parked_naming_email(tracker, slack, dispatcher, clock):
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["zed"], actor="alice")

    drain(dispatcher, clock)

    parked = deliveries(tracker)[0]
    assert parked.state == outbox.PARKED
    assert "zed@example.com" in parked.last_error
    assert "/exp link zed" in parked.last_error


def test_park_log_reads_as_sentences(tracker, slack, dispatcher, clock, caplog):
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["zed"], actor="alice")

    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        drain(dispatcher, clock)

    message = next(r.getMessage() for r in caplog.records if "parked" in r.msg)
    assert ".;" not in message
    assert message.endswith("retry with `expbot outbox retry ID`.")
    assert "(listed by `expbot outbox`)" in message


def test_email_domains_most_common_first(tracker):
    people.add_person(tracker, "carol", email="carol@lab.org")
    people.add_person(tracker, "dan", email="dan@lab.org")
    people.add_person(tracker, "erin")

    assert people.email_domains(tracker) == ["lab.org", "example.com"]
    assert people.email_domains(tracker, 1) == ["lab.org"]
