"""The scheduler service: one leader by lease, each report posted once.

A fake clock drives the time that the lease, the catch-up and the job
function read. The APScheduler schedulers, job stores and delivery rows
are the real ones, on SQLite files and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from slack_sdk import WebClient
from sqlalchemy import inspect

from bot import schedule_store as store
from bot import scheduler as scheduler_module
from bot.lease import Lease
from bot.schedule_rules import MONTHLY, ScheduleRecord
from bot.scheduler import (
    JOBS_TABLE,
    MISFIRE_GRACE,
    SchedulerService,
    add_report_job,
    build_scheduler,
    report_job_id,
    run_report_job,
    shutdown_scheduler,
)
from tests.conftest import FakeClock
from tests.fakeslack import FakeSlack
from tracker import Tracker

CHANNEL = "C0MLTEAM"


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds; the work happens on other threads."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


@pytest.fixture(
    params=["sqlite_url", pytest.param("postgres_url", marks=pytest.mark.postgres)]
)
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param)


@pytest.fixture
def trackers(url: str, clock: FakeClock) -> Iterator[list[Tracker]]:
    """Two trackers with their own engines, as two processes would have."""
    made = [Tracker(url, clock=clock), Tracker(url, clock=clock)]
    yield made
    for tracker in made:
        tracker.close()


@pytest.fixture
def client(fake_slack: FakeSlack) -> WebClient:
    return WebClient(token=fake_slack.bot_token, base_url=fake_slack.api_url)


@pytest.fixture
def services(
    client: WebClient, clock: FakeClock
) -> Iterator[Callable[..., SchedulerService]]:
    """Make started services (the caller ticks the lease); stop them after."""
    made: list[SchedulerService] = []

    def make(tracker: Tracker, holder: str) -> SchedulerService:
        service = SchedulerService(tracker, client, holder=holder, clock=clock)
        made.append(service.start(keep_lease=False))
        return service

    yield make
    for service in made:
        service.stop()


def add_team_and_schedule(tracker: Tracker, clock: FakeClock) -> ScheduleRecord:
    """One October experiment of team nlp and a schedule made on 15 October."""
    clock.now = utc(10, 5, 9)
    record = tracker.track("bert", team="nlp", researcher="alice", capture=False)
    clock.now = utc(10, 5, 11)
    tracker.complete(record.id, {"accuracy": 0.9})
    clock.now = utc(10, 15)
    schedule, _ = store.save_schedule(
        tracker,
        channel_id=CHANNEL,
        team="nlp",
        cadence=MONTHLY,
        day=1,
        hour=9,
        minute=0,
        timezone="UTC",
        created_by="U0ALICE",
    )
    return schedule


def report_posts(fake_slack: FakeSlack) -> list:
    return [m for m in fake_slack.messages(CHANNEL) if m.text.startswith("Monthly")]


# -- the lease ---------------------------------------------------------------


def test_lease_held_by_one(trackers: list[Tracker], clock: FakeClock) -> None:
    first = Lease(trackers[0], "test", holder="A", clock=clock)
    second = Lease(trackers[1], "test", holder="B", clock=clock)
    assert first.acquire() is True
    assert second.acquire() is False
    clock.advance(seconds=30)
    assert first.acquire() is True  # renewed until 30 s + 60 s
    clock.advance(seconds=45)
    assert second.acquire() is False


def test_lease_taken_after_expiry(trackers: list[Tracker], clock: FakeClock) -> None:
    first = Lease(trackers[0], "test", holder="A", clock=clock)
    second = Lease(trackers[1], "test", holder="B", clock=clock)
    first.acquire()
    clock.advance(seconds=61)
    assert second.acquire() is True
    assert first.acquire() is False
    assert second.current_holder() == "B"


def test_released_lease_is_free(trackers: list[Tracker], clock: FakeClock) -> None:
    first = Lease(trackers[0], "test", holder="A", clock=clock)
    second = Lease(trackers[1], "test", holder="B", clock=clock)
    first.acquire()
    first.release()
    assert second.acquire() is True


def test_lease_race_has_one_winner(trackers: list[Tracker], clock: FakeClock) -> None:
    leases = [
        Lease(tracker, "race", holder=name, clock=clock)
        for tracker, name in zip(trackers, "AB", strict=True)
    ]
    results: dict[str, bool] = {}
    barrier = threading.Barrier(2)

    def take(lease: Lease) -> None:
        barrier.wait()
        results[lease.holder] = lease.acquire()

    threads = [threading.Thread(target=take, args=(lease,)) for lease in leases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results.values()) == [False, True]


# -- leading and standing by -------------------------------------------------


def test_one_service_leads(trackers: list[Tracker], clock: FakeClock, services) -> None:
    clock.now = utc(10, 31, 23)
    first = services(trackers[0], "A")
    second = services(trackers[1], "B")
    assert first.tick() is True
    assert second.tick() is False
    assert first.scheduler is not None
    assert second.scheduler is None


def test_standby_takes_over_dead_leader(
    trackers: list[Tracker], clock: FakeClock, services
) -> None:
    clock.now = utc(10, 31, 23)
    first = services(trackers[0], "A")
    second = services(trackers[1], "B")
    first.tick()
    # The leader stops renewing, as a crashed process would.
    clock.advance(seconds=61)
    assert second.tick() is True
    assert first.tick() is False
    assert first.is_leader is False
    assert second.is_leader is True


def test_two_schedulers_post_once_on_first(
    trackers: list[Tracker],
    clock: FakeClock,
    services,
    fake_slack: FakeSlack,
) -> None:
    schedule = add_team_and_schedule(trackers[0], clock)
    clock.now = utc(10, 31, 23, 59)
    first = services(trackers[0], "A")
    second = services(trackers[1], "B")
    first.tick()
    second.tick()
    assert first.catch_up() == {schedule.id: "not_due"}

    # 1 November 09:00 passes. APScheduler in the leader calls the job
    # function; a standby that wrongly believes it leads does the same.
    clock.now = utc(11, 1, 9) + dt.timedelta(seconds=1)
    racers = [
        threading.Thread(target=run_report_job, args=(schedule.id,)),
        threading.Thread(target=second.deliver, args=(schedule.id,)),
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    # A racer still sending would leave its claim open, and the catch-ups
    # below would rightly skip it, so report that instead of "0 posts".
    assert not any(racer.is_alive() for racer in racers)
    first.catch_up()
    second.catch_up()

    # The leader also runs a catch-up on its scheduler's thread when it
    # starts to lead. On a loaded machine that one can start after the
    # clock moved, win the claim and still be posting here.
    def delivered() -> bool:
        state = store.delivery_state(trackers[0], schedule.id, "2026-10")
        return state == "delivered"

    assert wait_until(delivered)
    assert len(report_posts(fake_slack)) == 1


def test_down_at_nine_sends_on_start(
    trackers: list[Tracker],
    clock: FakeClock,
    services,
    fake_slack: FakeSlack,
) -> None:
    schedule = add_team_and_schedule(trackers[0], clock)
    # No process ran at 09:00 on 1 November; one starts at 11:30.
    clock.now = utc(11, 1, 11, 30)
    service = services(trackers[1], "A")
    service.tick()

    def delivered() -> bool:
        state = store.delivery_state(trackers[0], schedule.id, "2026-10")
        return state == "delivered"

    assert wait_until(delivered)
    assert len(report_posts(fake_slack)) == 1
    assert len(fake_slack.files()) == 2


def test_sync_stores_cron_job(
    trackers: list[Tracker], clock: FakeClock, services
) -> None:
    schedule = add_team_and_schedule(trackers[0], clock)
    service = services(trackers[0], "A")
    service.tick()
    assert service.scheduler is not None

    job = service.scheduler.get_job(report_job_id(schedule.id))
    assert job is not None
    assert job.misfire_grace_time == MISFIRE_GRACE.total_seconds()
    assert job.coalesce is True
    assert str(job.trigger) == "cron[day='1', hour='9', minute='0']"
    assert JOBS_TABLE in inspect(trackers[0].db.engine).get_table_names()


def test_unscheduled_job_is_removed(
    trackers: list[Tracker], clock: FakeClock, services
) -> None:
    schedule = add_team_and_schedule(trackers[0], clock)
    service = services(trackers[0], "A")
    service.tick()
    store.deactivate_schedule(
        trackers[0], schedule.id, channel_id=CHANNEL, user_id="U0ALICE", is_admin=False
    )
    service.sync_jobs()
    assert service.scheduler is not None
    assert service.scheduler.get_job(report_job_id(schedule.id)) is None


def leave_missed_firing(
    tracker: Tracker, schedule: ScheduleRecord, missed_by: dt.timedelta
) -> None:
    """Store the report job as a leader that died would: overdue by `missed_by`.

    A paused scheduler stores the job and never processes it.
    """
    seeder = build_scheduler(tracker)
    seeder.start(paused=True)
    overdue = dt.datetime.now(dt.UTC) - missed_by
    add_report_job(seeder, schedule, next_run_time=overdue)
    shutdown_scheduler(seeder, wait=True)


def test_missed_firing_runs_within_grace(
    trackers: list[Tracker],
    clock: FakeClock,
    services,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    schedule = add_team_and_schedule(trackers[0], clock)
    leave_missed_firing(trackers[0], schedule, dt.timedelta(hours=1))
    clock.now = utc(11, 1, 10)

    caplog.set_level(logging.INFO, logger="apscheduler")
    successor = services(trackers[1], "B")
    successor.tick()

    name = schedule.describe()
    assert wait_until(lambda: f'Job "{name}' in caplog.text)
    assert f'Running job "{name}' in caplog.text
    assert wait_until(lambda: len(fake_slack.files()) == 2)
    assert len(report_posts(fake_slack)) == 1


def test_firing_missed_past_grace_caught_up(
    trackers: list[Tracker],
    clock: FakeClock,
    services,
    fake_slack: FakeSlack,
    caplog: pytest.LogCaptureFixture,
) -> None:
    schedule = add_team_and_schedule(trackers[0], clock)
    leave_missed_firing(trackers[0], schedule, dt.timedelta(hours=7))
    clock.now = utc(11, 1, 16)

    caplog.set_level(logging.INFO, logger="apscheduler")
    successor = services(trackers[1], "B")
    successor.tick()

    assert wait_until(lambda: len(fake_slack.files()) == 2)
    assert f'Run time of job "{schedule.describe()}' in caplog.text
    assert len(report_posts(fake_slack)) == 1


def test_interval_job_runs_on_leader(
    trackers: list[Tracker], clock: FakeClock, services
) -> None:
    ran = threading.Event()
    scheduler_module.register_interval_job("test-tick", ran.set, seconds=0.05)
    try:
        follower = services(trackers[1], "B")
        leader = services(trackers[0], "A")
        leader.tick()
        follower.tick()
        assert ran.wait(timeout=5)
        assert follower.scheduler is None
    finally:
        scheduler_module.unregister_interval_job("test-tick")
