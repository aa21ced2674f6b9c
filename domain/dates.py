"""Due dates in words ("tomorrow 9am", "next friday", "in 3 days", "dec 5"), resolved in the user's timezone.

A phrase (case does not matter; commas and a final period are ignored) is a DAY, a TIME, both in either order
("tomorrow 9am", "9am tomorrow", "december 5 at 3pm"), or "in N minutes|hours":

  DAY   today | tomorrow | tonight | [this|on] WEEKDAY | next WEEKDAY | next week|month|year
        | in N days|weeks|months|years | [on] [the] MONTH D[st] [YEAR] | [on] [the] D[st] [of] MONTH [YEAR]
        | end of [the] month
  TIME  [at] H[:MM]am|pm | [at] HH:MM | at H (24-hour clock: 'at 8' is 08:00) | [at] noon

N is 1 to 999 or a word (a, an, one .. twelve); WEEKDAY is monday..sunday or mon..sun; MONTH january or jan.

What each means, where a plain date parser would surprise a task app:
- A DAY alone is an all-day due; with a TIME, or "in N minutes|hours", it is a moment.
- WEEKDAY (also "this WEEKDAY", "on WEEKDAY") is the next such day after today, never today itself;
  "next WEEKDAY" is that day of next week (weeks start on Monday): on Thursday 3 December 2026 "friday" is
  4 December and "next friday" 11 December.
- A TIME alone is today if that time is still ahead, else tomorrow; "tonight" is today 20:00 ("tonight at 9" is 21:00).
- "in N days|weeks|months|years" is that whole day; "in N minutes|hours" is that exact moment.
- MONTH D without a year is the next such date, today included; "end of month" is this month's last day.
- A wall-clock time is local: one that does not exist on a spring-forward day moves forward by the gap (02:30
  becomes 03:30) and one that happens twice on a fall-back day is the first.

dateparser (English only, relative and absolute dates only: no timestamps, no language detection) reads the
calendar and relative parts; the rules above are applied here. It is imported on the first phrase, so ISO dates
and start-up never pay for it.
"""

from __future__ import annotations

import calendar
import functools
import re
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from domain.errors import InvalidDue
from domain.timeutil import Due, check_due_range, normalize_local, utc

if TYPE_CHECKING:
    from dateparser.date import DateDataParser

EXAMPLES = ("write e.g. 'tomorrow 9am', 'next friday', 'in 3 days', 'dec 5', or ISO '2026-12-05T09:00' "
            "('2026-12-05' for all day)")
TONIGHT = time(20, 0)

_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NUMBER = {d: i for i, d in enumerate(_DAYS)} | {d[:3]: i for i, d in enumerate(_DAYS)}
_WEEKDAY_NUMBER |= {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}
_WEEKDAY = "|".join(sorted(_WEEKDAY_NUMBER, key=len, reverse=True))
_MONTH = ("january|february|march|april|may|june|july|august|september|october|november|december"
          "|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec")
_N = r"(?:\d{1,3}|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_D = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"

_TIME = r"(?:at\s+)?(?:\d{1,2}(?::\d{2})?\s*[ap]m|\d{1,2}:\d{2}|noon)|at\s+\d{1,2}"
_CLOCK = re.compile(r"(?:at\s+)?(?:(?P<noon>noon)|(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ap>[ap]m)?)")
_DAY_LAST = re.compile(rf"(?P<day>.+?)\s+(?P<time>{_TIME})")
_TIME_FIRST = re.compile(rf"(?P<time>{_TIME})(?:\s+(?P<day>.+))?")

_WEEKDAY_DAY = re.compile(rf"(?:(?P<which>this|on|next)\s+)?(?P<weekday>{_WEEKDAY})")
_END_OF_MONTH = re.compile(r"end\s+of\s+(?:the\s+)?month")
_RELATIVE_DAY = re.compile(rf"today|tomorrow|next\s+(?:week|month|year)|in\s+{_N}\s+(?:day|week|month|year)s?")
_CALENDAR_DAY = re.compile(
    rf"(?:on\s+)?(?:the\s+)?(?P<date>(?:(?:{_MONTH})\.?\s+{_D}|{_D}\s+(?:of\s+)?(?:{_MONTH})\.?)(?:\s+\d{{4}})?)"
)
_IN_MOMENTS = re.compile(rf"in\s+{_N}\s+(?:minute|min|hour|hr)s?")


def parse_when(text: str, tz: ZoneInfo, now: datetime) -> Due:
    """A phrase (see the module docstring) as a due: a whole day, or a moment in UTC; InvalidDue if unreadable."""
    phrase = _normal(text)
    local = now.astimezone(tz)
    base = local.replace(tzinfo=None)
    if _IN_MOMENTS.fullmatch(phrase):
        later = _read(phrase, tz, base, text)
        check_due_range(later.date())
        return Due(at=utc(now) + (later - base))  # an exact duration (UTC arithmetic), whatever the clocks do
    day_text, time_text = _split(phrase, text)
    day = _day(day_text, tz, base, text) if day_text else None
    clock = _clock(time_text, text) if time_text else None
    if day_text == "tonight":
        clock = _evening(clock, time_text or "") if clock else TONIGHT
    if day is None:
        assert clock is not None
        day = base.date() if datetime.combine(base.date(), clock) > base else base.date() + timedelta(days=1)
    check_due_range(day)
    if clock is None:
        return Due(day=day)
    return Due(at=utc(normalize_local(datetime.combine(day, clock), tz)))


def unreadable(text: str) -> InvalidDue:
    return InvalidDue(f"cannot read due date {text!r}: {EXAMPLES}", field="due_at")


def _normal(text: str) -> str:
    lowered = text.lower().replace(",", " ").replace("a.m.", "am").replace("p.m.", "pm")
    return " ".join(lowered.split()).removesuffix(".")


def _split(phrase: str, text: str) -> tuple[str | None, str | None]:
    """The DAY and TIME parts of a phrase (either may be None, not both)."""
    if match := _TIME_FIRST.fullmatch(phrase):
        return match["day"], match["time"]
    if match := _DAY_LAST.fullmatch(phrase):
        return match["day"], match["time"]
    if phrase:
        return phrase, None
    raise unreadable(text)


def _clock(time_text: str, text: str) -> time:
    match = _CLOCK.fullmatch(time_text)
    assert match is not None  # _split matched the same shape
    if match["noon"]:
        return time(12, 0)
    hour, minute, half = int(match["h"]), int(match["m"] or 0), match["ap"]
    if half is not None and 1 <= hour <= 12 and minute < 60:
        return time(hour % 12 + (12 if half == "pm" else 0), minute)
    if half is None and hour < 24 and minute < 60:
        return time(hour, minute)
    raise InvalidDue(f"cannot read due date {text!r}: {time_text!r} is not a time of day; {EXAMPLES}",
                     field="due_at")


def _evening(clock: time, time_text: str) -> time:
    """'tonight at 9' means 21:00 ('tonight at 9am' does not)."""
    if clock.hour < 12 and not time_text.endswith(("am", "noon")):
        return clock.replace(hour=clock.hour + 12)
    return clock


def _day(day_text: str, tz: ZoneInfo, base: datetime, text: str) -> date:
    today = base.date()
    if match := _WEEKDAY_DAY.fullmatch(day_text):
        weekday = _WEEKDAY_NUMBER[match["weekday"]]
        if match["which"] == "next":
            return today + timedelta(days=7 - today.weekday() + weekday)
        return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)
    if _END_OF_MONTH.fullmatch(day_text):
        return today.replace(day=calendar.monthrange(today.year, today.month)[1])
    if day_text == "tonight":
        return today
    if _RELATIVE_DAY.fullmatch(day_text):
        return _read(day_text, tz, base, text).date()
    if match := _CALENDAR_DAY.fullmatch(day_text):
        # From the last instant of yesterday, so that "dec 5" said on 5 December is today, not next year.
        start_of_day = datetime.combine(today, time(0)) - timedelta(microseconds=1)
        return _read(match["date"].replace(".", ""), tz, start_of_day, text, calendar_date=True).date()
    raise unreadable(text)


def _read(part: str, tz: ZoneInfo, base: datetime, text: str, *, calendar_date: bool = False) -> datetime:
    """dateparser's reading of a checked part of the phrase `text`, as naive local wall-clock time (its UTC offsets
    can be wrong on daylight-saving days, so the caller attaches the zone itself)."""
    found = _parser(tz.key, base, calendar_date).get_date_data(part).date_obj
    if found is None:  # e.g. 'feb 30'
        raise unreadable(text)
    return found.replace(tzinfo=None)


@functools.lru_cache(maxsize=16)
def _parser(tz_key: str, base: datetime, calendar_date: bool) -> DateDataParser:
    """One configured parser per zone and "now": a quick add tries many spans of one text against the same ones."""
    from dateparser.date import DateDataParser

    return DateDataParser(languages=["en"], settings={
        "PREFER_DATES_FROM": "future",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": tz_key,
        "RELATIVE_BASE": base,
        "PARSERS": ["relative-time", "absolute-time"],  # no Unix timestamps, no '0930' as a time, no custom formats
        "REQUIRE_PARTS": ["day", "month"] if calendar_date else [],
    })
