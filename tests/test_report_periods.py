"""Report periods in time zones: DST months, month boundaries, ISO weeks."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import FakeClock
from tracker import Tracker
from tracker.errors import InvalidInput
from tracker.report_periods import (
    month_period,
    parse_month,
    parse_week,
    week_period,
    zone,
)
from tracker.reports import monthly_report

NEW_YORK = "America/New_York"


def utc(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def test_month_bounds_in_utc() -> None:
    period = month_period(2026, 11)
    assert period.start == utc(11, 1)
    assert period.end == utc(12, 1)


def test_month_with_dst_end_is_longer() -> None:
    # New York leaves daylight time on Sun 1 Nov 2026 at 02:00 EDT, so
    # November starts at 00:00 EDT (04:00 UTC) and ends at 00:00 EST
    # (05:00 UTC): 30 days and one hour.
    period = month_period(2026, 11, NEW_YORK)
    assert period.start == utc(11, 1, 4)
    assert period.end == utc(12, 1, 5)
    assert period.end - period.start == dt.timedelta(days=30, hours=1)


def test_month_with_dst_start_is_shorter() -> None:
    # Daylight time starts on Sun 8 Mar 2026: March is 31 days less an hour.
    period = month_period(2026, 3, NEW_YORK)
    assert period.start == utc(3, 1, 5)
    assert period.end == utc(4, 1, 4)
    assert period.end - period.start == dt.timedelta(days=30, hours=23)


def test_weeks_start_at_local_monday() -> None:
    buckets = month_period(2026, 11, NEW_YORK).buckets()
    # 1 Nov is a Sunday; Monday 2 Nov 00:00 EST is 05:00 UTC.
    assert buckets[0].start == utc(11, 1, 4)
    assert buckets[0].end == utc(11, 2, 5)
    assert buckets[1].label == "2-8 Nov"
    assert buckets[-1].end == utc(12, 1, 5)


def test_previous_crosses_the_year() -> None:
    assert month_period(2026, 1).previous().label == "2025-12"
    assert week_period(2026, 1).previous().label == "2025-W52"
    assert week_period(2026, 53).following().label == "2027-W01"


@pytest.fixture
def boundary(sqlite_tracker: Tracker, clock: FakeClock) -> Tracker:
    """Four experiments around the November boundaries.

    E1 1 Nov 02:30 UTC = 31 Oct 22:30 EDT: November in UTC, October in NY
    E2 1 Dec 03:00 UTC = 30 Nov 22:00 EST: December in UTC, November in NY
    E3 1 Nov 04:30 UTC = 1 Nov 00:30 EDT: November in both; runs 3 hours
       across the DST change (wall clocks in NY show 2 hours)
    E4 1 Dec 04:30 UTC = 30 Nov 23:30 EST: December in UTC, November in NY
    """
    created = {
        "E1": utc(11, 1, 2, 30),
        "E2": utc(12, 1, 3),
        "E3": utc(11, 1, 4, 30),
        "E4": utc(12, 1, 4, 30),
    }
    for name, moment in created.items():
        clock.now = moment
        record = sqlite_tracker.track(name, team="nlp", researcher="ann", capture=False)
        if name == "E3":
            clock.now = moment + dt.timedelta(hours=3)
            sqlite_tracker.complete(record.id)
    clock.now = utc(12, 10)
    return sqlite_tracker


def test_boundary_month_in_utc(boundary: Tracker) -> None:
    report = monthly_report(boundary, "nlp", 2026, 11, "UTC")
    assert report.value("created") == 2  # E1, E3


def test_boundary_month_in_new_york(boundary: Tracker) -> None:
    report = monthly_report(boundary, "nlp", 2026, 11, NEW_YORK)
    assert report.value("created") == 3  # E2, E3, E4
    assert report.figure("created").previous == 1  # E1 in October


def test_duration_across_dst_is_elapsed(boundary: Tracker) -> None:
    report = monthly_report(boundary, "nlp", 2026, 11, NEW_YORK)
    assert report.value("median_duration") == pytest.approx(3 * 3600)


def test_running_at_local_month_end(boundary: Tracker) -> None:
    # At 1 Dec 05:00 UTC every experiment but E3 has started and none ended.
    report = monthly_report(boundary, "nlp", 2026, 11, NEW_YORK)
    assert report.value("running") == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-11", (2026, 11)), ("2026-1", (2026, 1)), (" 2026-12 ", (2026, 12))],
)
def test_parse_month_accepts(text: str, expected: tuple[int, int]) -> None:
    assert parse_month(text) == expected


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "11-2026", "2026/11", ""])
def test_parse_month_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM"):
        parse_month(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-W45", (2026, 45)), ("2026W01", (2026, 1)), ("2026-w7", (2026, 7))],
)
def test_parse_week_accepts(text: str, expected: tuple[int, int]) -> None:
    assert parse_week(text) == expected


def test_parse_week_rejects_text() -> None:
    with pytest.raises(InvalidInput, match="'2026-45'"):
        parse_week("2026-45")


def test_week_beyond_year_rejected() -> None:
    # 2025 has 52 ISO weeks; 2026 has 53.
    assert week_period(2026, 53).first_day == dt.date(2026, 12, 28)
    with pytest.raises(InvalidInput, match="2025-W53.*01 to 52"):
        week_period(2025, 53)


@pytest.mark.parametrize("name", ["Mars/Olympus", "", "../etc/passwd", "EST5EDT "])
def test_unknown_zone_names_value(name: str) -> None:
    with pytest.raises(InvalidInput, match="Unknown time zone"):
        zone(name)


def test_month_out_of_range_rejected() -> None:
    with pytest.raises(InvalidInput, match="2026-13"):
        month_period(2026, 13)
