"""`/exp report`, `schedule`, `schedules` and `unschedule` handlers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

import bot.commands  # noqa: F401  (registers every handler)
from bot import schedule_store as store
from bot.commands.base import COMMANDS, CommandContext, Reply
from bot.scheduler import SchedulerService, report_job_id
from bot.settings import Settings
from tests.conftest import FakeClock
from tests.fakeslack import FakeSlack, User
from tracker import Tracker
from tracker.errors import InvalidInput, PermissionDenied


def utc(month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


def context(
    tracker: Tracker,
    *,
    user_id: str = "U0ALICE",
    team: str | None = "nlp",
    is_admin: bool = False,
    channel_id: str = "C0MLTEAM",
    client: WebClient | None = None,
) -> CommandContext:
    return CommandContext(
        tracker=tracker,
        settings=Settings(),
        user_id=user_id,
        handle=user_id.lower(),
        is_admin=is_admin,
        channel_id=channel_id,
        team=team,
        client=client,
    )


def run(ctx: CommandContext, name: str, args: str = "") -> Reply:
    return COMMANDS[name].handler(ctx, args)


@pytest.fixture
def tracker(sqlite_tracker: Tracker, clock: FakeClock) -> Tracker:
    clock.now = utc(11, 20, 12)
    return sqlite_tracker


def test_schedule_stores_rule(tracker: Tracker) -> None:
    reply = run(context(tracker), "schedule", "monthly day:1 at:09:00 tz:Europe/Berlin")
    [saved] = store.active_schedules(tracker, "C0MLTEAM")
    assert (saved.team, saved.day, saved.hour, saved.minute) == ("nlp", 1, 9, 0)
    assert saved.timezone == "Europe/Berlin"
    assert saved.created_by == "U0ALICE"
    assert "monthly on day 1 at 09:00 Europe/Berlin" in reply.text
    assert "Tue 01 Dec 2026 09:00 Europe/Berlin" in reply.text


def test_schedule_again_changes_it(tracker: Tracker) -> None:
    run(context(tracker), "schedule", "weekly team:asr day:mon")
    reply = run(context(tracker), "schedule", "weekly team:asr day:fri at:17:30")
    [saved] = store.active_schedules(tracker, "C0MLTEAM")
    assert reply.text.startswith(":calendar: Changed")
    assert (saved.day, saved.hour, saved.minute) == (5, 17, 30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("monthly day:31", "'31'.*February"),
        ("monthly day:29", "'29'.*1 to 28"),
        ("weekly day:funday", "'funday'.*mon"),
        ("monthly at:25:00", "'25:00'.*HH:MM"),
        ("monthly tz:Mars/Olympus", "'Mars/Olympus'.*IANA"),
        ("daily", "'daily'.*monthly"),
        ("", "monthly.*weekly"),
        ("monthly team:a|b", "Invalid team"),
    ],
)
def test_schedule_rejects_bad_arguments(
    tracker: Tracker, args: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        run(context(tracker), "schedule", args)


def test_schedule_needs_a_team(tracker: Tracker) -> None:
    with pytest.raises(InvalidInput, match="team:nlp"):
        run(context(tracker, team=None), "schedule", "monthly")


def test_schedules_lists_numbered(tracker: Tracker) -> None:
    run(context(tracker), "schedule", "monthly")
    run(context(tracker), "schedule", "weekly team:asr day:wed tz:UTC")
    reply = run(context(tracker), "schedules")
    assert "1. Team *nlp*, monthly on day 1 at 09:00 UTC" in reply.text
    assert "2. Team *asr*, weekly on Wednesdays at 09:00 UTC" in reply.text
    assert "next Wed 25 Nov 2026 09:00 UTC" in reply.text


def test_schedules_empty_says_how(tracker: Tracker) -> None:
    assert "/exp schedule monthly" in run(context(tracker), "schedules").text


def test_unschedule_by_owner(tracker: Tracker) -> None:
    run(context(tracker), "schedule", "monthly")
    reply = run(context(tracker), "unschedule", "1")
    assert reply.text.startswith("Stopped schedule 1")
    assert store.active_schedules(tracker, "C0MLTEAM") == []


def test_unschedule_by_other_denied(tracker: Tracker) -> None:
    run(context(tracker), "schedule", "monthly")
    with pytest.raises(PermissionDenied, match="U0ALICE"):
        run(context(tracker, user_id="U0BOB"), "unschedule", "1")


def test_unschedule_by_admin_allowed(tracker: Tracker) -> None:
    run(context(tracker), "schedule", "monthly")
    run(context(tracker, user_id="U0CAROL", is_admin=True), "unschedule", "1")
    assert store.active_schedules(tracker, "C0MLTEAM") == []


@pytest.mark.parametrize(
    ("args", "message"), [("3", "no report schedule 3"), ("x", "'x'")]
)
def test_unschedule_rejects_number(tracker: Tracker, args: str, message: str) -> None:
    run(context(tracker), "schedule", "monthly")
    with pytest.raises(InvalidInput, match=message):
        run(context(tracker), "unschedule", args)


def test_unschedule_other_channel_rejected(tracker: Tracker) -> None:
    run(context(tracker), "schedule", "monthly")
    with pytest.raises(InvalidInput, match="no report schedule 1"):
        run(context(tracker, channel_id="C0GENERAL"), "unschedule", "1")


def test_report_defaults_to_last_month(tracker: Tracker, clock: FakeClock) -> None:
    clock.now = utc(10, 5, 9)
    tracker.track("bert", team="nlp", researcher="alice", capture=False)
    clock.now = utc(11, 20, 12)
    reply = run(context(tracker), "report")
    assert reply.text.startswith(
        "Monthly report: nlp, October 2026: 1 experiment created (+1),"
    )
    assert (
        reply.blocks[0].to_dict()["text"]["text"] == "Monthly report: nlp, October 2026"
    )


@pytest.mark.parametrize(
    ("args", "title"),
    [
        ("team:asr month:2026-11", "Monthly report: asr, November 2026"),
        ("week:2026-W45", "Weekly report: nlp, Week 45, 2026"),
    ],
)
def test_report_picks_period(tracker: Tracker, args: str, title: str) -> None:
    reply = run(context(tracker), "report", args)
    assert reply.blocks[0].to_dict()["text"]["text"] == title


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("month:2026-13", "'2026-13'"),
        ("week:2026-W60", "2026-W60"),
        ("month:2026-10 week:2026-W45", "not both"),
        ("month:2027-01", "has not started"),
        ("nlp", "'nlp' is not one"),
    ],
)
def test_report_rejects_bad_arguments(
    tracker: Tracker, args: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        run(context(tracker), "report", args)


def test_schedule_uses_slack_timezone(
    tracker: Tracker, fake_slack: FakeSlack, fake_slack_client: WebClient
) -> None:
    fake_slack.add_user(User("U0NYC", "nyc", tz="America/New_York"))
    run(
        context(tracker, user_id="U0NYC", client=fake_slack_client),
        "schedule",
        "monthly",
    )
    [saved] = store.active_schedules(tracker, "C0MLTEAM")
    assert saved.timezone == "America/New_York"


def test_schedule_warns_bot_not_in_channel(
    tracker: Tracker, fake_slack_client: WebClient
) -> None:
    ctx = context(tracker, channel_id="C0RANDOM", client=fake_slack_client)
    reply = run(ctx, "schedule", "monthly tz:UTC")
    assert "/invite @expbot" in reply.text


def test_schedule_updates_leader_jobs(
    tracker: Tracker, clock: FakeClock, fake_slack_client: WebClient
) -> None:
    service = SchedulerService(tracker, fake_slack_client, clock=clock)
    service.start(keep_lease=False)
    try:
        service.tick()
        run(context(tracker), "schedule", "monthly tz:UTC")
        [saved] = store.active_schedules(tracker, "C0MLTEAM")
        assert service.scheduler is not None
        assert service.scheduler.get_job(report_job_id(saved.id)) is not None
        run(context(tracker), "unschedule", "1")
        assert service.scheduler.get_job(report_job_id(saved.id)) is None
    finally:
        service.stop()


@pytest.fixture(autouse=True)
def no_leftover_services() -> Iterator[None]:
    yield
    from bot.scheduler import leading_service

    assert leading_service() is None


def test_schedule_unknown_team_warns(tracker: Tracker) -> None:
    tracker.track("run", researcher="alice", team="speech", capture=False)

    reply = run(context(tracker), "schedule", "weekly team:asr day:mon")

    [saved] = store.active_schedules(tracker, "C0MLTEAM")
    assert saved.team == "asr"
    assert "No experiment records team *asr* yet" in reply.text
    assert "Teams with experiments: `speech`." in reply.text


def test_schedule_known_team_no_warning(tracker: Tracker) -> None:
    tracker.track("run", researcher="alice", team="nlp", capture=False)

    reply = run(context(tracker), "schedule", "weekly team:nlp day:mon")

    assert ":warning:" not in reply.text


def test_schedule_warning_caps_team_list(tracker: Tracker) -> None:
    for number in range(12):
        tracker.track("run", researcher="alice", team=f"t{number:02d}", capture=False)

    reply = run(context(tracker), "schedule", "weekly team:asr day:mon")

    assert "`t09`" in reply.text
    assert "`t10`" not in reply.text
    assert "and 2 more." in reply.text
