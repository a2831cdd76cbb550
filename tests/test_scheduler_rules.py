"""Schedule rules: argument checks, firing times and the period each reports."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.schedule_rules import (
    MONTHLY,
    WEEKLY,
    ScheduleRecord,
    cron_trigger,
    latest_due,
    latest_firing,
    parse_at,
    parse_day,
    parse_timezone,
    period_for,
)
from tracker.errors import InvalidInput


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def schedule(
    cadence: str = MONTHLY,
    day: int = 1,
    hour: int = 9,
    minute: int = 0,
    timezone: str = "UTC",
    created_at: dt.datetime | None = None,
) -> ScheduleRecord:
    return ScheduleRecord(
        id=1,
        channel_id="C0MLTEAM",
        team="nlp",
        cadence=cadence,
        day=day,
        hour=hour,
        minute=minute,
        timezone=timezone,
        created_by="U0ALICE",
        created_at=created_at or utc(1, 1),
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(11, 1, 8, 59), utc(10, 1, 9)),
        (utc(11, 1, 9), utc(11, 1, 9)),
        (utc(11, 20), utc(11, 1, 9)),
        (utc(1, 1, 0, 0).replace(year=2027), utc(12, 1, 9)),
    ],
)
def test_monthly_latest_firing(now: dt.datetime, expected: dt.datetime) -> None:
    assert latest_firing(schedule(), now) == expected


def test_monthly_firing_in_local_time() -> None:
    # 09:00 in Berlin is 08:00 UTC in November (CET, UTC+1).
    berlin = schedule(timezone="Europe/Berlin")
    assert latest_firing(berlin, utc(11, 1, 8, 30)) == utc(11, 1, 8)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(11, 4), utc(11, 2, 9)),  # Wednesday: this Monday
        (utc(11, 2, 8), utc(10, 26, 9)),  # Monday before 09:00: last Monday
        (utc(11, 2, 9), utc(11, 2, 9)),
    ],
)
def test_weekly_latest_firing(now: dt.datetime, expected: dt.datetime) -> None:
    assert latest_firing(schedule(WEEKLY, day=1), now) == expected


def test_firing_before_creation_not_due() -> None:
    made_late = schedule(created_at=utc(11, 20))
    assert latest_due(made_late, utc(11, 25)) is None
    assert latest_due(made_late, utc(12, 1, 9)) == utc(12, 1, 9)


@pytest.mark.parametrize(
    ("rule", "firing", "label"),
    [
        (schedule(), utc(12, 1, 9), "2026-11"),
        (schedule(day=5), utc(12, 5, 9), "2026-11"),
        (schedule(), utc(1, 1, 9).replace(year=2027), "2026-12"),
        (schedule(WEEKLY, day=1), utc(11, 9, 9), "2026-W45"),
        (schedule(WEEKLY, day=5), utc(11, 13, 9), "2026-W45"),
        # 00:30 on 1 Dec in Auckland is still 30 Nov in UTC.
        (
            schedule(hour=0, minute=30, timezone="Pacific/Auckland"),
            utc(11, 30, 11, 30),
            "2026-11",
        ),
    ],
)
def test_period_is_last_complete(
    rule: ScheduleRecord, firing: dt.datetime, label: str
) -> None:
    assert period_for(rule, firing).label == label


@pytest.mark.parametrize(
    "rule",
    [
        schedule(),
        schedule(day=28, hour=23, minute=59, timezone="America/New_York"),
        schedule(WEEKLY, day=7, hour=2, minute=30, timezone="Europe/Berlin"),
        schedule(hour=0, minute=0, timezone="Pacific/Auckland"),
    ],
)
def test_cron_trigger_agrees_with_rules(rule: ScheduleRecord) -> None:
    # Over a year with two DST changes, each firing APScheduler computes is
    # the catch-up rules' latest firing at that moment, and reports the
    # same period. Where a local time repeats (02:30 on the night clocks go
    # back), APScheduler fires a second time an hour later, which the
    # delivery row then skips.
    moment = utc(1, 1)
    trigger = cron_trigger(rule)
    for _ in range(14 if rule.cadence == MONTHLY else 60):
        local = trigger.get_next_fire_time(None, moment)
        assert local is not None
        # An aware time in a DST gap or fold never equals one in another
        # zone, so compare in UTC.
        firing = local.astimezone(dt.UTC)
        latest = latest_firing(rule, firing)
        assert firing - latest in (dt.timedelta(0), dt.timedelta(hours=1))
        assert period_for(rule, latest) == period_for(rule, firing)
        moment = firing + dt.timedelta(minutes=1)


@pytest.mark.parametrize(
    ("cadence", "text", "expected"),
    [
        (MONTHLY, None, 1),
        (MONTHLY, "28", 28),
        (WEEKLY, "mon", 1),
        (WEEKLY, "Sunday", 7),
        (WEEKLY, "3", 3),
    ],
)
def test_parse_day_accepts(cadence: str, text: str | None, expected: int) -> None:
    assert parse_day(cadence, text) == expected


@pytest.mark.parametrize(
    ("cadence", "text", "message"),
    [
        (MONTHLY, "29", "'29'.*February"),
        (MONTHLY, "31", "'31'.*1 to 28"),
        (MONTHLY, "0", "'0'"),
        (MONTHLY, "first", "'first'"),
        (WEEKLY, "8", "'8'.*Monday = 1"),
        (WEEKLY, "funday", "'funday'.*mon"),
    ],
)
def test_parse_day_rejects(cadence: str, text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_day(cadence, text)


@pytest.mark.parametrize(
    ("text", "expected"), [(None, (9, 0)), ("9:05", (9, 5)), ("23:59", (23, 59))]
)
def test_parse_at_accepts(text: str | None, expected: tuple[int, int]) -> None:
    assert parse_at(text) == expected


@pytest.mark.parametrize("text", ["24:00", "09:60", "9am", "0900", "-1:00"])
def test_parse_at_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match=f"'{text}'.*HH:MM"):
        parse_at(text)


def test_parse_timezone_rejects_unknown() -> None:
    with pytest.raises(InvalidInput, match="'Mars/Olympus'.*Europe/Berlin"):
        parse_timezone("Mars/Olympus")


def test_describe_names_rule() -> None:
    assert schedule(WEEKLY, day=2, hour=8, minute=30).describe() == (
        "weekly on Tuesdays at 08:30 UTC"
    )
    assert schedule().describe() == "monthly on day 1 at 09:00 UTC"
