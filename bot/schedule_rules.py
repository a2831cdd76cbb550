"""When a report schedule fires and which period each firing reports on.

A schedule fires on a day of the month (1-28) or of the week (Monday = 1)
at a local time in an IANA time zone. A firing reports on the last
complete period before it: a monthly schedule firing on 1 December (or on
5 December) posts November, and a weekly one firing on any day of ISO week
49 posts week 48. The same rules give APScheduler its trigger and the
catch-up check its "latest due" firing, so the two cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apscheduler.triggers.cron import CronTrigger

from tracker.errors import InvalidInput
from tracker.report_periods import MONTH, WEEK, Period, period_containing, zone

if TYPE_CHECKING:
    from tracker import models

MONTHLY = "monthly"
WEEKLY = "weekly"
CADENCES = (MONTHLY, WEEKLY)
# Day 28 exists in every month. Days 29-31 are missing from some, and a
# cron rule for day 31 fires only in the months that have one.
MAX_MONTH_DAY = 28
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
DEFAULT_HOUR = 9
DEFAULT_MINUTE = 0
_AT = re.compile(r"^(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class ScheduleRecord:
    """A report schedule, detached from the database session."""

    id: int
    channel_id: str
    team: str
    cadence: str
    day: int  # day of the month, or ISO weekday with Monday = 1
    hour: int
    minute: int
    timezone: str
    created_by: str  # Slack user id of the owner, "" if unknown
    created_at: dt.datetime
    active: bool = True

    @classmethod
    def from_model(cls, row: models.Schedule) -> ScheduleRecord:
        return cls(
            id=row.id,
            channel_id=row.channel_id,
            team=row.team,
            cadence=row.cadence,
            day=row.day,
            hour=row.hour,
            minute=row.minute,
            timezone=row.timezone,
            created_by=row.created_by,
            created_at=row.created_at,
            active=row.active,
        )

    @property
    def period_kind(self) -> str:
        return MONTH if self.cadence == MONTHLY else WEEK

    def describe(self) -> str:
        """Return e.g. "monthly on day 1 at 09:00 Europe/Berlin"."""
        if self.cadence == MONTHLY:
            when = f"on day {self.day}"
        else:
            when = f"on {_WEEKDAY_NAMES[self.day - 1].capitalize()}s"
        return (
            f"{self.cadence} {when} at {self.hour:02d}:{self.minute:02d} "
            f"{self.timezone}"
        )


def parse_cadence(text: str) -> str:
    value = (text or "").strip().lower()
    if value not in CADENCES:
        raise InvalidInput(
            f"Invalid schedule {text!r}: use `monthly` or `weekly`, e.g. "
            "`/exp schedule monthly day:1 at:09:00`."
        )
    return value


def parse_day(cadence: str, text: str | None) -> int:
    """Parse `day:` for a cadence: 1-28 for monthly, 1-7 or mon..sun for weekly."""
    if text is None:
        return 1
    value = text.strip().lower()
    if cadence == WEEKLY:
        for index, (short, full) in enumerate(
            zip(WEEKDAYS, _WEEKDAY_NAMES, strict=True)
        ):
            if value in (short, full):
                return index + 1
        if value.isdigit() and 1 <= int(value) <= 7:
            return int(value)
        raise InvalidInput(
            f"Invalid weekly day {text!r}: use 1-7 (Monday = 1) or mon, tue, "
            "wed, thu, fri, sat, sun, e.g. `day:mon`."
        )
    if value.isdigit() and 1 <= int(value) <= MAX_MONTH_DAY:
        return int(value)
    raise InvalidInput(
        f"Invalid monthly day {text!r}: use 1 to {MAX_MONTH_DAY}, e.g. `day:1`. "
        "Days 29-31 are missing from some months (February has 28 days in most "
        "years), so a schedule on them would skip those months."
    )


def parse_at(text: str | None) -> tuple[int, int]:
    """Parse `at:HH:MM` (24-hour clock) into (hour, minute)."""
    if text is None:
        return DEFAULT_HOUR, DEFAULT_MINUTE
    match = _AT.match(text.strip())
    if match and int(match.group(1)) < 24 and int(match.group(2)) < 60:
        return int(match.group(1)), int(match.group(2))
    raise InvalidInput(
        f"Invalid time {text!r}: use HH:MM on a 24-hour clock, e.g. `at:09:00` "
        "or `at:17:30`."
    )


def parse_timezone(text: str) -> str:
    """Check an IANA zone name such as Europe/Berlin and return it."""
    zone(text.strip())
    return text.strip()


def local_firing(schedule: ScheduleRecord, day: dt.date) -> dt.datetime:
    """Return the UTC instant of the schedule's local time on `day`.

    A local time skipped by a DST change (02:30 on the spring-forward day)
    resolves with the offset from before the change, as zoneinfo does.
    """
    local = dt.datetime.combine(
        day, dt.time(schedule.hour, schedule.minute), tzinfo=zone(schedule.timezone)
    )
    return local.astimezone(dt.UTC)


def latest_firing(schedule: ScheduleRecord, now: dt.datetime) -> dt.datetime:
    """Return the schedule's most recent firing time at or before `now`."""
    today = now.astimezone(zone(schedule.timezone)).date()
    if schedule.cadence == MONTHLY:
        day = today.replace(day=schedule.day)
        firing = local_firing(schedule, day)
        if firing > now:
            previous_month = day.replace(day=1) - dt.timedelta(days=1)
            firing = local_firing(schedule, previous_month.replace(day=schedule.day))
        return firing

    days_since = (today.isoweekday() - schedule.day) % 7
    firing = local_firing(schedule, today - dt.timedelta(days=days_since))
    if firing > now:
        firing = local_firing(schedule, today - dt.timedelta(days=days_since + 7))
    return firing


def latest_due(schedule: ScheduleRecord, now: dt.datetime) -> dt.datetime | None:
    """Return the latest firing that the schedule owes, or None.

    A firing from before the schedule was created is not owed: a schedule
    made on the 20th posts its first report on the next firing.
    """
    firing = latest_firing(schedule, now)
    if firing < schedule.created_at:
        return None
    return firing


def period_for(schedule: ScheduleRecord, firing: dt.datetime) -> Period:
    """Return the last complete period before a firing, in the schedule's zone."""
    local_day = firing.astimezone(zone(schedule.timezone)).date()
    return period_containing(
        schedule.period_kind, local_day, schedule.timezone
    ).previous()


def cron_trigger(schedule: ScheduleRecord) -> CronTrigger:
    if schedule.cadence == MONTHLY:
        return CronTrigger(
            day=schedule.day,
            hour=schedule.hour,
            minute=schedule.minute,
            timezone=schedule.timezone,
        )
    return CronTrigger(
        day_of_week=WEEKDAYS[schedule.day - 1],
        hour=schedule.hour,
        minute=schedule.minute,
        timezone=schedule.timezone,
    )
