"""Posting scheduled reports to the fake Slack: once, with charts, or a DM."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot import schedule_store as store
from bot.report_delivery import NOT_DUE, SKIPPED, deliver_due
from bot.schedule_rules import MONTHLY, ScheduleRecord
from tests.conftest import FakeClock
from tests.fakeslack import FakeSlack, Fault
from tracker import Tracker

OWNER = "U0ALICE"


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def add_october(tracker: Tracker, clock: FakeClock) -> None:
    """Two October experiments of team nlp: one completed, one failed."""
    clock.now = utc(10, 5, 9)
    done = tracker.track("bert", team="nlp", researcher="alice", capture=False)
    failed = tracker.track("gpt", team="nlp", researcher="bob", capture=False)
    clock.now = utc(10, 5, 11)
    tracker.complete(done.id, {"accuracy": 0.9})
    tracker.fail(failed.id, "CUDA out of memory")


def add_schedule(tracker: Tracker, clock: FakeClock, channel: str) -> ScheduleRecord:
    clock.now = utc(10, 15)
    schedule, _ = store.save_schedule(
        tracker,
        channel_id=channel,
        team="nlp",
        cadence=MONTHLY,
        day=1,
        hour=9,
        minute=0,
        timezone="UTC",
        created_by=OWNER,
    )
    return schedule


@pytest.fixture
def setup(
    sqlite_tracker: Tracker, clock: FakeClock
) -> Iterator[tuple[Tracker, FakeClock]]:
    add_october(sqlite_tracker, clock)
    yield sqlite_tracker, clock


def due(clock: FakeClock) -> dt.datetime:
    clock.now = utc(11, 1, 9, 0) + dt.timedelta(seconds=30)
    return clock.now


def test_report_posted_with_charts_in_thread(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0MLTEAM")
    due(clock)

    state = deliver_due(tracker, fake_slack_client, schedule)

    assert state == store.DELIVERED
    messages = [m for m in fake_slack.messages("C0MLTEAM")]
    assert len(messages) == 1
    assert messages[0].text.startswith("Monthly report: nlp, October 2026")
    files = fake_slack.files()
    assert sorted(f.filename for f in files) == [
        "nlp-2026-10-leaderboard.png",
        "nlp-2026-10-status.png",
    ]
    assert {f.thread_ts for f in files} == {messages[0].ts}


def test_report_delivered_only_once(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0MLTEAM")
    due(clock)
    deliver_due(tracker, fake_slack_client, schedule)

    clock.now += dt.timedelta(hours=2)
    second = deliver_due(tracker, fake_slack_client, schedule)

    assert second == SKIPPED
    assert len(fake_slack.calls("chat.postMessage")) == 1
    assert store.delivery_state(tracker, schedule.id, "2026-10") == store.DELIVERED


def test_nothing_due_before_first_firing(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0MLTEAM")
    clock.now = utc(10, 31, 23, 59)
    assert deliver_due(tracker, fake_slack_client, schedule) == NOT_DUE
    assert fake_slack.calls("chat.postMessage") == []


def test_not_in_channel_tells_owner(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    # C0RANDOM is public and the bot is not in it: chat:write.public lets
    # the message through, but the chart upload is refused.
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0RANDOM")
    due(clock)

    state = deliver_due(tracker, fake_slack_client, schedule)

    assert state == store.NOT_IN_CHANNEL
    dm = fake_slack.messages(fake_slack.dm_channel(OWNER))
    assert len(dm) == 1
    assert "/invite @expbot" in dm[0].text
    assert "<#C0RANDOM>" in dm[0].text


def test_invited_bot_uploads_charts_later(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0RANDOM")
    due(clock)
    deliver_due(tracker, fake_slack_client, schedule)
    fake_slack.set_bot_membership("C0RANDOM", True)

    clock.now += dt.timedelta(minutes=15)
    state = deliver_due(tracker, fake_slack_client, schedule)

    assert state == store.DELIVERED
    messages = fake_slack.messages("C0RANDOM")
    assert len(messages) == 1  # the report was not posted again
    assert {f.thread_ts for f in fake_slack.files()} == {messages[0].ts}
    assert len(fake_slack.messages(fake_slack.dm_channel(OWNER))) == 1


def test_private_channel_tells_owner_once(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    # Slack returns channel_not_found for a private channel the bot is not in.
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "G0SECRET")
    due(clock)
    first = deliver_due(tracker, fake_slack_client, schedule)
    clock.now += dt.timedelta(minutes=15)
    second = deliver_due(tracker, fake_slack_client, schedule)

    assert first == store.NOT_IN_CHANNEL
    assert second == store.NOT_IN_CHANNEL
    assert fake_slack.messages("G0SECRET") == []
    assert len(fake_slack.messages(fake_slack.dm_channel(OWNER))) == 1


def test_refused_report_retried_for_a_day(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0MLTEAM")
    due(clock)
    fake_slack.inject("chat.postMessage", Fault.slack_error("msg_too_long"))
    assert deliver_due(tracker, fake_slack_client, schedule) == store.FAILED

    clock.now += dt.timedelta(minutes=15)
    assert deliver_due(tracker, fake_slack_client, schedule) == store.DELIVERED


def test_refused_report_given_up_after_a_day(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0MLTEAM")
    due(clock)
    fake_slack.inject("chat.postMessage", Fault.slack_error("msg_too_long"))
    deliver_due(tracker, fake_slack_client, schedule)

    clock.now += dt.timedelta(hours=25)
    assert deliver_due(tracker, fake_slack_client, schedule) == SKIPPED


def test_stale_claim_is_taken_over(
    setup, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0MLTEAM")
    due(clock)
    # A process claimed the report and died before posting.
    claim = store.claim_delivery(
        tracker, schedule.id, "2026-10", retry_failed=True, retry_not_in_channel=True
    )
    assert claim is not None

    clock.now += dt.timedelta(minutes=5)
    live = deliver_due(tracker, fake_slack_client, schedule)
    clock.now += dt.timedelta(minutes=15)
    stale = deliver_due(tracker, fake_slack_client, schedule)

    assert live == SKIPPED
    assert stale == store.DELIVERED
    assert len(fake_slack.messages("C0MLTEAM")) == 1


@pytest.mark.parametrize("backend", ["sqlite_url", "postgres_url"])
def test_racing_processes_post_once(
    backend: str,
    request: pytest.FixtureRequest,
    clock: FakeClock,
    fake_slack: FakeSlack,
) -> None:
    """Two processes (two engines) reach the same firing at the same moment."""
    url = request.getfixturevalue(backend)
    first, second = Tracker(url, clock=clock), Tracker(url, clock=clock)
    try:
        add_october(first, clock)
        schedule = add_schedule(first, clock, "C0MLTEAM")
        due(clock)
        states: list[str] = []
        barrier = threading.Barrier(2)

        def send(tracker: Tracker) -> None:
            client = WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)
            barrier.wait()
            states.append(deliver_due(tracker, client, schedule, clock.now))

        threads = [threading.Thread(target=send, args=(t,)) for t in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        first.close()
        second.close()

    assert sorted(states) == sorted([store.DELIVERED, SKIPPED])
    assert len(fake_slack.calls("chat.postMessage")) == 1


def test_chart_failure_still_delivers(
    setup,
    fake_slack: FakeSlack,
    fake_slack_client: WebClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(report: object) -> list[tuple[str, bytes]]:
        raise RuntimeError("no fonts")

    monkeypatch.setattr("tracker.charts.render_charts", broken)
    tracker, clock = setup
    schedule = add_schedule(tracker, clock, "C0MLTEAM")
    due(clock)

    state = deliver_due(tracker, fake_slack_client, schedule)

    assert state == store.DELIVERED
    assert len(fake_slack.messages("C0MLTEAM")) == 1
    assert fake_slack.files() == []
