"""Storms: many events of one kind for one channel become one summary."""

from __future__ import annotations

import logging

import pytest

from bot import outbox
from bot.dispatcher import LEASE
from bot.rollup import ROLLUP_THRESHOLD
from tests.dispatcher_harness import (
    GENERAL,
    ML_TEAM,
    all_messages,
    deliveries,
    drain,
    history_slack,
    make_client,
    make_dispatcher,
    marked,
    subscribe,
)
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


def sweep(tracker, count: int, *, project: str = "mt") -> list:
    """Track `count` runs and complete them all, accuracy rising with the index."""
    runs = [
        tracker.track(
            f"sweep-{i:03d}", project=project, researcher="alice", capture=False
        )
        for i in range(count)
    ]
    for i, run in enumerate(runs):
        tracker.complete(run.id, {"accuracy": 0.5 + i / 1000})
    return runs


def test_sweep_completion_is_one_summary(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    sweep(tracker, 200)

    drain(dispatcher, clock)

    messages = slack.messages(GENERAL)
    assert len(messages) == 1
    assert messages[0].text.startswith("200 experiments completed")
    assert len(marked(messages[0])) == 200


def test_summary_delivers_every_delivery(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    sweep(tracker, 30)

    drain(dispatcher, clock)

    rows = deliveries(tracker)
    assert {row.state for row in rows} == {outbox.DELIVERED}
    assert len(rows) == 30


def test_summary_lists_best_runs_first(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    runs = sweep(tracker, 30)

    drain(dispatcher, clock)

    text = str(slack.messages(GENERAL)[0].blocks)
    best, second = runs[-1].short_id, runs[-2].short_id
    assert best in text
    assert text.index(best) < text.index(second)
    assert runs[0].short_id not in text
    assert "+20 more not listed" in text
    assert "Projects: mt 30" in text


def test_threshold_count_posts_one_by_one(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    sweep(tracker, ROLLUP_THRESHOLD)

    drain(dispatcher, clock)

    assert len(slack.messages(GENERAL)) == ROLLUP_THRESHOLD


def test_one_over_threshold_is_rolled_up(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    sweep(tracker, ROLLUP_THRESHOLD + 1)

    drain(dispatcher, clock)

    assert len(slack.messages(GENERAL)) == 1


def test_each_channel_gets_its_own_summary(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    subscribe(tracker, ML_TEAM, events="completed")
    sweep(tracker, 25)

    drain(dispatcher, clock)

    assert len(slack.messages(GENERAL)) == 1
    assert len(slack.messages(ML_TEAM)) == 1


def test_start_and_finish_storms_stay_ordered(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL)
    sweep(tracker, 20)

    drain(dispatcher, clock)

    texts = [message.text for message in slack.messages(GENERAL)]
    assert [text.split(",")[0] for text in texts] == [
        "20 experiments started",
        "20 experiments completed",
    ]


def test_failures_summary_shows_reasons(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="failed")
    for i in range(12):
        run = tracker.track(f"oom-{i}", researcher="bob")
        tracker.fail(run.id, f"CUDA out of memory on rank {i}")

    drain(dispatcher, clock)

    text = str(slack.messages(GENERAL)[0].blocks)
    assert "CUDA out of memory on rank 11" in text
    assert "status:failed" in text


def test_shared_storm_is_one_dm(tracker, slack, dispatcher, clock):
    people.link_slack_user(tracker, "bob", "U0BOB")
    for i in range(15):
        run = tracker.track(f"run-{i}", researcher="alice")
        tracker.share(run.id, ["bob"], actor="alice")

    drain(dispatcher, clock)

    dms = slack.messages(slack.dm_channel("U0BOB"))
    assert len(dms) == 1
    assert dms[0].text.startswith("15 experiments shared with you")


def test_rollup_is_logged(tracker, slack, dispatcher, clock, caplog):
    subscribe(tracker, GENERAL, events="completed")
    sweep(tracker, 12)

    with caplog.at_level(logging.INFO, logger="bot.dispatcher"):
        drain(dispatcher, clock)

    assert f"rolled up 12 completed deliveries to {GENERAL}" in caplog.text


def test_private_member_is_left_out(tracker, slack, dispatcher, clock):
    subscribe(tracker, GENERAL, events="completed")
    runs = sweep(tracker, 12)
    from bot import routing

    routing.route_events(tracker, now=clock.now)
    tracker.update(runs[0].id, visibility="private")

    drain(dispatcher, clock)

    states = {row.state for row in deliveries(tracker)}
    assert states == {outbox.DELIVERED, outbox.DROPPED}
    assert runs[0].short_id not in str(slack.messages(GENERAL)[0].blocks)


def test_crash_after_summary_does_not_repost(tracker, slack, clock):
    subscribe(tracker, GENERAL, events="completed")
    sweep(tracker, 15)
    client = make_client(slack)
    real = client.chat_postMessage

    class Crash(BaseException):
        pass

    def post_then_crash(**arguments):
        real(**arguments)
        raise Crash

    client.chat_postMessage = post_then_crash
    first = make_dispatcher(tracker, slack, clock, client=client, worker_id="first")
    with pytest.raises(Crash):
        first.run_once()
    clock.advance(seconds=LEASE.total_seconds() + 1)

    drain(make_dispatcher(tracker, slack, clock, worker_id="second"), clock)

    assert len(all_messages(slack, GENERAL)) == 1
    assert {row.state for row in deliveries(tracker)} == {outbox.DELIVERED}
