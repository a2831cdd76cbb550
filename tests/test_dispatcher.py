"""The notification dispatcher against the fake Slack: routing, threads, DMs.

A real Tracker on a SQLite file writes events. The dispatcher delivers them
to the fake Slack Web API over HTTP with the real slack_sdk client.
"""

from __future__ import annotations

import logging

import pytest

from bot import outbox, routing
from tests.dispatcher_harness import (
    GENERAL,
    ML_TEAM,
    all_messages,
    deliveries,
    drain,
    history_slack,
    make_dispatcher,
    marked,
    subscribe,
)
from tests.fakeslack import Channel, FakeSlack, User
from tracker import people


@pytest.fixture
def tracker(sqlite_tracker):
    return sqlite_tracker


@pytest.fixture
def slack(monkeypatch):
    with history_slack() as fake:
        yield fake


@pytest.fixture
def dispatcher(tracker, slack, clock):
    return make_dispatcher(tracker, slack, clock)


def texts(fake: FakeSlack, channel: str) -> list[str]:
    return [message.text for message in all_messages(fake, channel)]


def block_text(blocks) -> str:
    return str(blocks)


# -- routing -------------------------------------------------------------------


def test_subscription_routes_only_matching_experiments(
    tracker, slack, dispatcher, clock
):
    subscribe(tracker, GENERAL, "project:mt")
    matching = tracker.track("bert-mt", project="mt", researcher="alice")
    tracker.track("wav2vec-asr", project="asr", researcher="alice")

    drain(dispatcher, clock)

    cards = slack.messages(GENERAL)
    assert len(cards) == 1
    assert matching.short_id in cards[0].text


def test_channel_without_subscription_hears_nothing(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    assert slack.messages(ML_TEAM) == []
    assert len(slack.messages(GENERAL)) == 1


def test_event_kinds_filter_what_channel_hears(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    done = tracker.track("bert", researcher="alice")
    failed = tracker.track("gpt", researcher="alice")
    drain(dispatcher, clock)
    assert slack.messages(GENERAL) == []

    tracker.complete(done.id, {"accuracy": 0.91})
    tracker.fail(failed.id, "out of memory")
    drain(dispatcher, clock)

    cards = slack.messages(GENERAL)
    assert len(cards) == 1
    assert done.short_id in cards[0].text
    assert "Completed" in block_text(cards[0].blocks)


def test_metric_query_sees_completed_metrics(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, "accuracy>0.9", events="completed")
    good = tracker.track("good", researcher="alice")
    poor = tracker.track("poor", researcher="alice")
    tracker.complete(good.id, {"accuracy": 0.95})
    tracker.complete(poor.id, {"accuracy": 0.5})

    drain(dispatcher, clock)

    cards = slack.messages(GENERAL)
    assert [good.short_id in card.text for card in cards] == [True]


def test_private_experiment_never_reaches_channel(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    tracker.track("secret", researcher="alice", visibility="private")

    drain(dispatcher, clock)

    assert slack.messages(GENERAL) == []
    assert deliveries(tracker) == []


def test_experiment_made_private_later_is_skipped(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("soon-secret", researcher="alice")
    routing.route_events(tracker, now=clock.now)
    tracker.update(record.id, visibility="private")

    drain(dispatcher, clock)

    assert slack.messages(GENERAL) == []
    assert [d.state for d in deliveries(tracker)] == [outbox.DROPPED]


def test_subscription_hears_only_later_events(tracker, slack, dispatcher, clock):
    tracker.track("before", researcher="alice")
    clock.advance(seconds=5)
    subscribe(tracker, GENERAL)
    clock.advance(seconds=5)
    after = tracker.track("after", researcher="alice")

    drain(dispatcher, clock)

    cards = slack.messages(GENERAL)
    assert len(cards) == 1
    assert after.short_id in cards[0].text


def test_two_subscriptions_post_once(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, "project:mt")
    subscribe(tracker, GENERAL, "tag:nlp")
    tracker.track("both", project="mt", tags=["nlp"], researcher="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(GENERAL)) == 1


# -- cards, threads and updates -----------------------------------------------


def test_later_events_reply_in_card_thread(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")
    drain(dispatcher, clock)
    tracker.add_note(record.id, "loss plateaued at step 3k", author="alice")
    tracker.complete(record.id, {"accuracy": 0.93})
    drain(dispatcher, clock)

    cards = slack.messages(GENERAL)
    assert len(cards) == 1
    replies = slack.replies(GENERAL, cards[0].ts)
    assert len(replies) == 2
    assert "new note" in replies[0].text
    assert "completed" in replies[1].text
    assert "0.93" in block_text(replies[1].blocks)


def test_later_event_updates_the_card(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")
    drain(dispatcher, clock)
    tracker.complete(record.id, {"accuracy": 0.93})

    drain(dispatcher, clock)

    card = slack.messages(GENERAL)[0]
    assert card.edits == 1
    assert "Completed" in block_text(card.blocks)
    assert "0.93" in block_text(card.blocks)
    assert len(slack.calls("chat.update", ok=True)) == 1


def test_card_anchor_is_stored(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    card = slack.messages(GENERAL)[0]
    assert outbox.anchor_for(tracker.db, record.id, GENERAL) == card.ts


def test_failed_reply_carries_the_reason(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")
    drain(dispatcher, clock)
    tracker.fail(record.id, "CUDA out of memory")

    drain(dispatcher, clock)

    card = slack.messages(GENERAL)[0]
    reply = slack.replies(GENERAL, card.ts)[0]
    assert "CUDA out of memory" in block_text(reply.blocks)


def test_threshold_reply_names_metric_and_goal(tracker, slack, dispatcher, clock):
    tracker.set_metric_direction("accuracy", "max", goal=0.9)
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")
    drain(dispatcher, clock)
    tracker.log_metrics(record.id, {"accuracy": 0.92}, step=10)

    drain(dispatcher, clock)

    reply = slack.replies(GENERAL, slack.messages(GENERAL)[0].ts)[0]
    assert "accuracy" in block_text(reply.blocks)
    assert "0.9" in block_text(reply.blocks)


def test_first_message_is_card_for_any_kind(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="noted")
    record = tracker.track("bert", researcher="alice")
    tracker.add_note(record.id, "first note", author="alice")

    drain(dispatcher, clock)

    cards = slack.messages(GENERAL)
    assert len(cards) == 1
    assert slack.replies(GENERAL, cards[0].ts) == []
    assert "first note" in block_text(cards[0].blocks)


def test_deleted_card_gets_a_new_card(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")
    drain(dispatcher, clock)
    old = slack.messages(GENERAL)[0]
    with slack.lock:
        del slack.workspace.messages[GENERAL][old.ts]
    tracker.complete(record.id, {"accuracy": 0.9})

    drain(dispatcher, clock)

    cards = slack.messages(GENERAL)
    assert len(cards) == 1
    assert outbox.anchor_for(tracker.db, record.id, GENERAL) == cards[0].ts


def test_each_message_carries_its_delivery_id(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    record = tracker.track("bert", researcher="alice")
    tracker.complete(record.id, {"accuracy": 0.9})

    drain(dispatcher, clock)

    ids = [marked(message) for message in all_messages(slack, GENERAL)]
    assert ids == [{d.id} for d in deliveries(tracker)]


# -- direct messages on share --------------------------------------------------


def test_share_sends_dm_to_linked_collaborator(tracker, slack, dispatcher, clock):
    people.link_slack_user(tracker, "bob", "U0BOB")
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["bob"], actor="alice")

    drain(dispatcher, clock)

    dm = slack.messages(slack.dm_channel("U0BOB"))
    assert len(dm) == 1
    assert "alice shared experiment bert" in dm[0].text
    assert record.id in block_text(dm[0].blocks)
    assert slack.calls("conversations.open", ok=True)


def test_share_finds_collaborator_by_email(tracker, slack, dispatcher, clock):
    slack.add_user(User("U0DAN", "dan", "Dan Day", "dan@example.com"))
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["dan@example.com"], actor="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(slack.dm_channel("U0DAN"))) == 1
    assert slack.calls("users.lookupByEmail", ok=True)


def test_share_dms_only_new_collaborators(tracker, slack, dispatcher, clock):
    people.link_slack_user(tracker, "bob", "U0BOB")
    people.link_slack_user(tracker, "carol", "U0CAROL")
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["bob"], actor="alice")
    tracker.share(record.id, ["bob", "carol"], actor="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(slack.dm_channel("U0BOB"))) == 1
    assert len(slack.messages(slack.dm_channel("U0CAROL"))) == 1


def test_share_of_private_experiment_still_dms(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    people.link_slack_user(tracker, "bob", "U0BOB")
    record = tracker.track("bert", researcher="alice", visibility="private")
    tracker.share(record.id, ["bob"], actor="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(slack.dm_channel("U0BOB"))) == 1
    assert slack.messages(GENERAL) == []


def test_unknown_collaborator_is_parked(tracker, slack, dispatcher, clock, caplog):
    record = tracker.track("bert", researcher="alice")
    tracker.share(record.id, ["zed"], actor="alice")

    with caplog.at_level(logging.ERROR, logger="bot.dispatcher"):
        drain(dispatcher, clock)

    parked = deliveries(tracker)[0]
    assert parked.state == outbox.PARKED
    assert parked.target == "dm:zed"
    assert "/exp link zed" in parked.last_error
    assert "parked event" in caplog.text


def test_share_reply_in_channel_thread(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    people.link_slack_user(tracker, "bob", "U0BOB")
    record = tracker.track("bert", researcher="alice")
    drain(dispatcher, clock)
    tracker.share(record.id, ["bob"], actor="alice")

    drain(dispatcher, clock)

    reply = slack.replies(GENERAL, slack.messages(GENERAL)[0].ts)[0]
    assert "alice shared it with bob" in block_text(reply.blocks)


# -- permanent failures ---------------------------------------------------------


def test_unknown_channel_is_parked_with_error(tracker, slack, dispatcher, clock):
    subscribe(tracker, "C0MISSING")
    tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    parked = deliveries(tracker)[0]
    assert parked.state == outbox.PARKED
    assert "channel_not_found" in parked.last_error


def test_archived_channel_is_parked_with_error(tracker, slack, dispatcher, clock):
    slack.add_channel(Channel("C0OLD", "old", is_archived=True, members={"U0EXPBOT"}))
    subscribe(tracker, "C0OLD")
    tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    assert "is_archived" in deliveries(tracker)[0].last_error


def test_parked_delivery_does_not_block_others(tracker, slack, dispatcher, clock):
    subscribe(tracker, "C0MISSING")
    subscribe(tracker, GENERAL)
    tracker.track("bert", researcher="alice")

    drain(dispatcher, clock)

    assert len(slack.messages(GENERAL)) == 1


# -- pacing and logs -------------------------------------------------------------


def test_posts_to_one_channel_are_paced(tracker, slack, dispatcher, clock, monkeypatch):
    subscribe(tracker, GENERAL)
    for number in range(5):
        tracker.track(f"run-{number}", researcher="alice")
    posted_at = []
    original = dispatcher.slack.post

    def timed_post(channel, **arguments):
        posted_at.append(clock.now)
        return original(channel, **arguments)

    monkeypatch.setattr(dispatcher.slack, "post", timed_post)

    dispatcher.run_once()

    gaps = [
        (b - a).total_seconds() for a, b in zip(posted_at, posted_at[1:], strict=False)
    ]
    assert len(posted_at) == 5
    assert min(gaps) >= 1.0


def test_paced_channels_take_turns(tracker, slack, dispatcher, clock, monkeypatch):
    subscribe(tracker, GENERAL)
    subscribe(tracker, ML_TEAM)
    for number in range(3):
        tracker.track(f"run-{number}", researcher="alice")
    start = clock.now

    dispatcher.run_once()

    # Three posts to each channel take two paced seconds, not five.
    assert (clock.now - start).total_seconds() <= 2.5
    assert len(slack.messages(GENERAL)) == 3
    assert len(slack.messages(ML_TEAM)) == 3


def test_delivery_is_logged_with_ids(tracker, slack, dispatcher, clock, caplog):
    subscribe(tracker, GENERAL)
    tracker.track("bert", researcher="alice")

    with caplog.at_level(logging.INFO, logger="bot.dispatcher"):
        drain(dispatcher, clock)

    delivery = deliveries(tracker)[0]
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    expected = f"delivered event {delivery.event_id} (created) to {GENERAL} as "
    assert any(line.startswith(expected) for line in lines)
    assert any(f"delivery {delivery.id}, attempt 1" in line for line in lines)
