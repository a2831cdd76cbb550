"""Report periods: a calendar month or an ISO week in a time zone.

A period's bounds are local midnights converted to UTC. So a month in
`America/New_York` that contains a DST change is an hour longer or
shorter than its count of days.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.errors import InvalidInput

MONTH = "month"
WEEK = "week"

_MONTH_TEXT = re.compile(r"^(\d{4})-(\d{1,2})$")
_WEEK_TEXT = re.compile(r"^(\d{4})-?W(\d{1,2})$", re.IGNORECASE)
_MIN_YEAR = 1970
_MAX_YEAR = 9998


def zone(name: str) -> ZoneInfo:
    """Return the IANA time zone `name`, or raise InvalidInput naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise InvalidInput(
            f"Unknown time zone {name!r}: use an IANA name such as `UTC`, "
            "`Europe/Berlin` or `America/New_York`."
        ) from None


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """Return the UTC instant at which `day` begins in `tz`."""
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).astimezone(dt.UTC)


@dataclass(frozen=True)
class Bucket:
    """A slice of a period (a week of a month, a day of a week) for charts."""

    label: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class Period:
    """A month or an ISO week; `start` is inclusive and `end` exclusive, in UTC."""

    kind: str
    label: str
    timezone: str
    first_day: dt.date
    last_day: dt.date

    @property
    def start(self) -> dt.datetime:
        return local_midnight(self.first_day, zone(self.timezone))

    @property
    def end(self) -> dt.datetime:
        next_day = self.last_day + dt.timedelta(days=1)
        return local_midnight(next_day, zone(self.timezone))

    @property
    def title(self) -> str:
        """Return a heading such as "November 2026" or "Week 45, 2026"."""
        if self.kind == MONTH:
            return self.first_day.strftime("%B %Y")
        year, week, _ = self.first_day.isocalendar()
        return f"Week {week}, {year}"

    @property
    def span(self) -> str:
        """Return the local dates, e.g. "1-30 Nov 2026" or "30 Nov - 6 Dec 2026"."""
        first, last = self.first_day, self.last_day
        if first.month == last.month:
            return f"{first.day}-{last.day} {last:%b %Y}"
        if first.year == last.year:
            return f"{first.day} {first:%b} - {last.day} {last:%b %Y}"
        return f"{first.day} {first:%b %Y} - {last.day} {last:%b %Y}"

    def previous(self) -> Period:
        day_before = self.first_day - dt.timedelta(days=1)
        return period_containing(self.kind, day_before, self.timezone)

    def following(self) -> Period:
        day_after = self.last_day + dt.timedelta(days=1)
        return period_containing(self.kind, day_after, self.timezone)

    def buckets(self) -> list[Bucket]:
        """Split a month into ISO weeks (clipped to the month), a week into days."""
        tz = zone(self.timezone)
        starts = [self.first_day]
        day = self.first_day + dt.timedelta(days=1)
        while day <= self.last_day:
            if self.kind == WEEK or day.weekday() == 0:
                starts.append(day)
            day += dt.timedelta(days=1)

        buckets = []
        for index, first in enumerate(starts):
            following = starts[index + 1] if index + 1 < len(starts) else None
            last = (following or self.last_day + dt.timedelta(days=1)) - dt.timedelta(
                days=1
            )
            if self.kind == WEEK:
                label = f"{first:%a} {first.day}"
            elif first == last:
                label = f"{first.day} {first:%b}"
            else:
                label = f"{first.day}-{last.day} {first:%b}"
            buckets.append(
                Bucket(
                    label,
                    local_midnight(first, tz),
                    local_midnight(last + dt.timedelta(days=1), tz),
                )
            )
        return buckets

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "label": self.label,
            "title": self.title,
            "timezone": self.timezone,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def month_period(year: int, month: int, tz: str = "UTC") -> Period:
    zone(tz)
    _check_year(year, f"{year}-{month:02d}")
    if not 1 <= month <= 12:
        raise InvalidInput(
            f"Invalid month {year}-{month:02d}: the month must be 01 to 12, "
            "e.g. 2026-11."
        )
    first = dt.date(year, month, 1)
    following = dt.date(year + month // 12, month % 12 + 1, 1)
    return Period(
        MONTH, f"{year:04d}-{month:02d}", tz, first, following - dt.timedelta(days=1)
    )


def week_period(year: int, week: int, tz: str = "UTC") -> Period:
    """Return ISO week `week` of ISO year `year`: Monday to Sunday."""
    zone(tz)
    _check_year(year, f"{year}-W{week:02d}")
    try:
        monday = dt.date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidInput(
            f"Invalid ISO week {year}-W{week:02d}: {year} has weeks 01 to "
            f"{dt.date(year, 12, 28).isocalendar().week}, e.g. {year}-W01."
        ) from None
    return Period(
        WEEK, f"{year:04d}-W{week:02d}", tz, monday, monday + dt.timedelta(days=6)
    )


def period_containing(kind: str, day: dt.date, tz: str = "UTC") -> Period:
    """Return the month or ISO week that contains the local date `day`."""
    if kind == MONTH:
        return month_period(day.year, day.month, tz)
    if kind == WEEK:
        year, week, _ = day.isocalendar()
        return week_period(year, week, tz)
    raise InvalidInput(f"Invalid period kind {kind!r}: use `month` or `week`.")


def parse_month(text: str) -> tuple[int, int]:
    """Parse "YYYY-MM" into (year, month)."""
    match = _MONTH_TEXT.match((text or "").strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput(f"Invalid month {text!r}: use YYYY-MM, e.g. 2026-11.")
    return int(match.group(1)), int(match.group(2))


def parse_week(text: str) -> tuple[int, int]:
    """Parse "YYYY-Www" (ISO week) into (year, week)."""
    match = _WEEK_TEXT.match((text or "").strip())
    if not match:
        raise InvalidInput(f"Invalid ISO week {text!r}: use YYYY-Www, e.g. 2026-W45.")
    return int(match.group(1)), int(match.group(2))


def _check_year(year: int, text: str) -> None:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise InvalidInput(
            f"Invalid period {text}: the year must be {_MIN_YEAR} to {_MAX_YEAR}."
        )
