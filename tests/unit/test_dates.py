"""Due dates in words (domain.dates through domain.timeutil.parse_due), read at a frozen "now": Thursday
3 December 2026, 10:30 local, in Europe/Berlin and in America/New_York, plus the daylight-saving days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.dates import parse_when
from domain.errors import InvalidDue
from domain.timeutil import Due, parse_due

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = [BERLIN, NEW_YORK]


def thursday(tz: ZoneInfo) -> datetime:
    """The frozen now: Thursday 2026-12-03 10:30 in tz."""
    return datetime(2026, 12, 3, 10, 30, tzinfo=tz)


def at(tz: ZoneInfo, text: str) -> Due:
    """A moment given as local wall-clock time in tz."""
    return Due(at=datetime.fromisoformat(text).replace(tzinfo=tz).astimezone(UTC))


def day(text: str) -> Due:
    return Due(day=date.fromisoformat(text))


def local(due: Due, tz: ZoneInfo) -> str:
    assert due.at is not None
    return due.at.astimezone(tz).isoformat()


ALL_DAY = [
    ("today", "2026-12-03"),
    ("tomorrow", "2026-12-04"),
    ("Tomorrow", "2026-12-04"),
    ("friday", "2026-12-04"),  # the coming Friday
    ("fri", "2026-12-04"),
    ("this friday", "2026-12-04"),
    ("on friday", "2026-12-04"),
    ("next friday", "2026-12-11"),  # the Friday of next week (weeks start on Monday)
    ("monday", "2026-12-07"),
    ("next monday", "2026-12-07"),  # next week's Monday is also the coming one
    ("thursday", "2026-12-10"),  # a weekday is never today: today is "today"
    ("next thursday", "2026-12-10"),
    ("in 3 days", "2026-12-06"),  # a whole day, not 72 hours from now
    ("in a week", "2026-12-10"),
    ("in 2 weeks", "2026-12-17"),
    ("in 2 months", "2027-02-03"),
    ("next week", "2026-12-10"),
    ("next month", "2027-01-03"),
    ("dec 5", "2026-12-05"),
    ("5 dec", "2026-12-05"),
    ("december 5th", "2026-12-05"),
    ("the 5th of december", "2026-12-05"),
    ("on dec 5", "2026-12-05"),
    ("Dec. 5, 2027", "2027-12-05"),
    ("dec 3", "2026-12-03"),  # a date without a year is the next such date, today included
    ("dec 2", "2027-12-02"),
    ("jan 15", "2027-01-15"),
    ("end of month", "2026-12-31"),
    ("end of the month", "2026-12-31"),
]

MOMENTS = [
    ("tomorrow 9am", "2026-12-04T09:00"),
    ("tomorrow at 9am", "2026-12-04T09:00"),
    ("9am tomorrow", "2026-12-04T09:00"),
    ("tomorrow at 9", "2026-12-04T09:00"),  # 'at H' is the 24-hour clock
    ("tomorrow 5:30 pm", "2026-12-04T17:30"),
    ("tomorrow 9 a.m.", "2026-12-04T09:00"),
    ("tonight", "2026-12-03T20:00"),
    ("tonight at 9", "2026-12-03T21:00"),
    ("friday 17:00", "2026-12-04T17:00"),
    ("5pm friday", "2026-12-04T17:00"),
    ("next friday at noon", "2026-12-11T12:00"),
    ("december 5 at 3pm", "2026-12-05T15:00"),
    ("dec 5 2027 15:30", "2027-12-05T15:30"),
    ("9am", "2026-12-04T09:00"),  # a time alone that has passed today is tomorrow
    ("17:00", "2026-12-03T17:00"),  # ... and one still ahead is today
    ("10:30", "2026-12-04T10:30"),  # now itself has passed
    ("at noon", "2026-12-03T12:00"),
    ("today 9am", "2026-12-03T09:00"),  # a day named with a time is that moment, even if it has passed
    ("in 3 days at 8am", "2026-12-06T08:00"),
]


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize(("phrase", "expected"), ALL_DAY)
def test_a_day_without_a_time_is_an_all_day_due(tz: ZoneInfo, phrase: str, expected: str) -> None:
    assert parse_due(phrase, tz, thursday(tz)) == day(expected)


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize(("phrase", "expected"), MOMENTS)
def test_a_phrase_with_a_time_is_that_local_moment(tz: ZoneInfo, phrase: str, expected: str) -> None:
    assert parse_due(phrase, tz, thursday(tz)) == at(tz, expected)


@pytest.mark.parametrize("tz", ZONES, ids=str)
@pytest.mark.parametrize(("phrase", "delta"), [
    ("in 2 hours", timedelta(hours=2)), ("in an hour", timedelta(hours=1)), ("in 90 minutes", timedelta(minutes=90)),
    ("in 5 min", timedelta(minutes=5)),
])
def test_in_minutes_or_hours_is_that_exact_moment(tz: ZoneInfo, phrase: str, delta: timedelta) -> None:
    assert parse_due(phrase, tz, thursday(tz)) == Due(at=thursday(tz).astimezone(UTC) + delta)


def test_a_time_alone_before_it_comes_is_today() -> None:
    early = datetime(2026, 12, 3, 8, 0, tzinfo=BERLIN)
    assert parse_due("9am", BERLIN, early) == at(BERLIN, "2026-12-03T09:00")


def test_the_same_words_mean_the_same_wall_clock_in_each_zone_and_different_instants() -> None:
    berlin, new_york = (parse_due("tomorrow 9am", tz, thursday(tz)) for tz in ZONES)
    assert local(berlin, BERLIN) == "2026-12-04T09:00:00+01:00"
    assert local(new_york, NEW_YORK) == "2026-12-04T09:00:00-05:00"


def test_the_user_s_day_decides_what_tomorrow_is() -> None:
    """At 02:00 UTC on Friday it is still Thursday evening in New York."""
    now = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    assert parse_due("tomorrow", NEW_YORK, now) == day("2026-12-04")
    assert parse_due("tomorrow", BERLIN, now) == day("2026-12-05")


# --- daylight saving time ------------------------------------------------------------------------------


@pytest.mark.parametrize(("tz", "eve", "phrase", "expected"), [
    # Europe/Berlin springs forward on 2027-03-28 at 02:00 (+01:00 -> +02:00)
    (BERLIN, "2027-03-27T10:00", "tomorrow 9am", "2027-03-28T09:00:00+02:00"),
    (BERLIN, "2027-03-27T10:00", "tomorrow 2:30am", "2027-03-28T03:30:00+02:00"),  # in the gap: moves forward
    (BERLIN, "2027-03-27T10:00", "in 24 hours", "2027-03-28T11:00:00+02:00"),  # 24 real hours
    # Europe/Berlin falls back on 2026-10-25 at 03:00 (+02:00 -> +01:00)
    (BERLIN, "2026-10-24T10:00", "tomorrow 9am", "2026-10-25T09:00:00+01:00"),
    (BERLIN, "2026-10-24T10:00", "tomorrow 2:30am", "2026-10-25T02:30:00+02:00"),  # twice that night: the first
    (BERLIN, "2026-10-24T10:00", "in 24 hours", "2026-10-25T09:00:00+01:00"),
    # America/New_York springs forward on 2027-03-14 at 02:00 (-05:00 -> -04:00)
    (NEW_YORK, "2027-03-13T10:00", "tomorrow 9am", "2027-03-14T09:00:00-04:00"),
    (NEW_YORK, "2027-03-13T10:00", "sunday 2:30am", "2027-03-14T03:30:00-04:00"),
    (NEW_YORK, "2027-03-13T23:30", "in 3 hours", "2027-03-14T03:30:00-04:00"),
])
def test_wall_clock_times_on_daylight_saving_days(tz: ZoneInfo, eve: str, phrase: str, expected: str) -> None:
    now = datetime.fromisoformat(eve).replace(tzinfo=tz)
    assert local(parse_due(phrase, tz, now), tz) == expected


def test_a_day_named_on_the_eve_of_a_clock_change_stays_that_day() -> None:
    now = datetime(2027, 3, 27, 23, 30, tzinfo=BERLIN)
    assert parse_due("tomorrow", BERLIN, now) == day("2027-03-28")
    assert parse_due("next friday", BERLIN, now) == day("2027-04-02")


# --- what cannot be read -------------------------------------------------------------------------------


@pytest.mark.parametrize("phrase", [
    "blorp", "soon", "", "   ", "5", "a", "may", "tomorrow 9", "monday's", "next blursday", "feb 30", "dec 32",
    "in three fortnights", "yesterday-ish", "call mom",
])
def test_an_unreadable_phrase_is_refused_with_examples(phrase: str) -> None:
    with pytest.raises(InvalidDue) as err:
        parse_due(phrase, BERLIN, thursday(BERLIN))
    assert err.value.field == "due_at"
    assert f"cannot read due date {phrase!r}" in err.value.message
    for example in ("'tomorrow 9am'", "'next friday'", "'in 3 days'", "'dec 5'", "'2026-12-05T09:00'"):
        assert example in err.value.message


@pytest.mark.parametrize("phrase", ["tomorrow 25:00", "13pm", "friday 9:75"])
def test_a_time_that_does_not_exist_is_named(phrase: str) -> None:
    with pytest.raises(InvalidDue) as err:
        parse_due(phrase, BERLIN, thursday(BERLIN))
    assert "is not a time of day" in err.value.message and "'tomorrow 9am'" in err.value.message


@pytest.mark.parametrize("phrase", ["dec 5 2300", "dec 5 1899", "jan 1 9999", "in 999 years"])
def test_years_outside_1900_to_2200_are_refused(phrase: str) -> None:
    with pytest.raises(InvalidDue) as err:
        parse_due(phrase, BERLIN, thursday(BERLIN))
    assert err.value.field == "due_at" and "1900" in err.value.message and "2200" in err.value.message


# --- ISO stays as it was -------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-12-05", Due(day=date(2026, 12, 5))),
    ("20261205", Due(day=date(2026, 12, 5))),
    ("2026-12-05T09:00", Due(at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC))),  # local to the user
    ("2026-12-05 09:00", Due(at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC))),
    ("2026-12-05T09:00:00-05:00", Due(at=datetime(2026, 12, 5, 14, 0, tzinfo=UTC))),
    ("2026-12-05T09:00Z", Due(at=datetime(2026, 12, 5, 9, 0, tzinfo=UTC))),
    ("2027-03-28T02:30", Due(at=datetime(2027, 3, 28, 1, 30, tzinfo=UTC))),  # the gap, as before: 03:30 +02:00
    (date(2026, 12, 5), Due(day=date(2026, 12, 5))),
    (datetime(2026, 12, 5, 9, 0), Due(at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC))),
])
def test_iso_dates_and_datetimes_read_as_before(value: str | date, expected: Due) -> None:
    assert parse_due(value, BERLIN, thursday(BERLIN)) == expected


def test_iso_input_does_not_need_the_phrase_parser() -> None:
    """ISO is the fast path: it never reaches dateparser (whose first call loads its language data)."""
    from domain import dates

    dates._parser.cache_clear()
    parse_due("2026-12-05T09:00", BERLIN, thursday(BERLIN))
    assert dates._parser.cache_info().currsize == 0
    parse_when("dec 5", BERLIN, thursday(BERLIN))
    assert dates._parser.cache_info().currsize == 1
