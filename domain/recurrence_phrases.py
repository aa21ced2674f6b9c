"""Presets and plain-language phrases translated to cron or RRULE; the grammar is in domain.recurrence."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from domain.errors import InvalidRecurrence

Builder = Callable[[datetime], str]
"""Turns the anchor (naive local wall-clock, seconds zeroed) into a cron or RRULE expression."""
Clock = tuple[int, int] | None

PHRASE_EXAMPLES = (
    "e.g. 'every day', 'every 3 days', 'every weekday', 'every 2 weeks', 'every mon, wed and fri', "
    "'every month on the 15th', 'every last day of the month', 'every last friday', 'every march 5', "
    "'every 4 hours' — optionally followed by a time, e.g. 'every monday at 9am' or 'at 17:30'"
)
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS = {n: i for i, n in enumerate(_DAY_NAMES)} | {n[:3]: i for i, n in enumerate(_DAY_NAMES)}
_WEEKDAYS |= {"tues": 1, "weds": 2, "thur": 3, "thurs": 3}
_RR_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december")
_MONTHS = {n: i + 1 for i, n in enumerate(_MONTH_NAMES)} | {n[:3]: i + 1 for i, n in enumerate(_MONTH_NAMES)}
_MONTHS["sept"] = 9
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "last": -1}
_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")
_NUMBERS = {w: i + 1 for i, w in enumerate(_WORDS)} | {"other": 2}
_N = r"(?:(?P<n>\d+|other|" + "|".join(_WORDS) + r")\s+)?"
_UNIT = re.compile(_N + r"(?P<unit>hour|day|week|month|year)s?(?:\s+on\s+(?P<on>.+))?")
_EVERY_N_DAYS = re.compile(r"(?P<n>\d+|other|" + "|".join(_WORDS) + r")\s+(?P<days>[a-z].*)")  # other tuesday
_TIME = re.compile(r"(?P<h>\d{1,2})(?:[:.](?P<m>\d{2}))?\s*(?P<ap>am|pm|a\.m\.|p\.m\.)?")
_MONTH_DAY = re.compile(r"(?P<d>\d+)(?P<sfx>st|nd|rd|th)?")
_OF_MONTH = re.compile(r"\s+of\s+(?:the\s+|each\s+|every\s+)?month$")


def _fail(problem: str, example: str) -> InvalidRecurrence:
    return InvalidRecurrence(f"{problem}, e.g. {example}", field="rule")


def _hm(anchor: datetime, clock: Clock) -> tuple[int, int]:
    return clock if clock is not None else (anchor.hour, anchor.minute)


def _rr_clock(anchor: datetime, clock: Clock) -> str:
    h, m = _hm(anchor, clock)
    return f";BYHOUR={h};BYMINUTE={m};BYSECOND=0"


def _cron_dow(weekday: int) -> int:
    return (weekday + 1) % 7


def _monthday(day: int) -> str:
    """BYMONTHDAY for a day that falls on the last day of months too short to have it."""
    return str(day) if day <= 28 else ",".join(map(str, range(28, day + 1))) + ";BYSETPOS=-1"


def _freq(freq: str, n: int) -> str:
    return f"FREQ={freq}" + (f";INTERVAL={n}" if n > 1 else "")


def daily(n: int, clock: Clock) -> Builder:
    """Every n days (n > 1 is anchored on the anchor date)."""
    if n == 1:
        return lambda a: "{1} {0} * * *".format(*_hm(a, clock))
    return lambda a: _freq("DAILY", n) + _rr_clock(a, clock)


def weekdays(clock: Clock) -> Builder:
    """Monday to Friday."""
    return lambda a: "{1} {0} * * 1-5".format(*_hm(a, clock))


def weekly(n: int, days: tuple[int, ...] | None, clock: Clock) -> Builder:
    """Every n weeks on the given weekdays (Monday=0), by default the anchor's weekday."""

    def build(a: datetime) -> str:
        chosen = days or (a.weekday(),)
        if n == 1:
            h, m = _hm(a, clock)
            return f"{m} {h} * * " + ",".join(str(_cron_dow(d)) for d in sorted(chosen, key=_cron_dow))
        byday = ",".join(_RR_DAYS[d] for d in sorted(chosen))
        return f"{_freq('WEEKLY', n)};BYDAY={byday}" + _rr_clock(a, clock)

    return build


def monthly(n: int, position: str | None, clock: Clock) -> Builder:
    """Every n months on a day number ('15'), 'BYMONTHDAY=-1' or 'BYDAY=-1FR'; by default the anchor's day."""

    def build(a: datetime) -> str:
        if position is not None and not position.isdigit():
            return f"{_freq('MONTHLY', n)};{position}" + _rr_clock(a, clock)
        day = int(position) if position else a.day
        if n == 1 and day <= 28:
            return "{1} {0} {2} * *".format(*_hm(a, clock), day)
        return f"{_freq('MONTHLY', n)};BYMONTHDAY={_monthday(day)}" + _rr_clock(a, clock)

    return build


def yearly(n: int, date: tuple[int, int] | None, clock: Clock) -> Builder:
    """Every n years on (month, day), by default the anchor's; February 29 is the 28th in other years."""

    def build(a: datetime) -> str:
        month, day = date or (a.month, a.day)
        if n == 1 and (month, day) != (2, 29):
            return "{1} {0} {2} {3} *".format(*_hm(a, clock), day, month)
        byday = "28,29;BYSETPOS=-1" if (month, day) == (2, 29) else str(day)
        return f"{_freq('YEARLY', n)};BYMONTH={month};BYMONTHDAY={byday}" + _rr_clock(a, clock)

    return build


def hourly(n: int) -> Builder:
    """Every n hours at the anchor's minute (n > 1 is anchored on the anchor)."""
    if n == 1:
        return lambda a: f"{a.minute} * * * *"
    return lambda a: f"{_freq('HOURLY', n)};BYMINUTE={a.minute};BYSECOND=0"


PRESETS: dict[str, Builder] = {
    "daily": daily(1, None),
    "weekdays": weekdays(None),
    "weekly": weekly(1, None, None),
    "monthly": monthly(1, None, None),
    "yearly": yearly(1, None, None),
    "biweekly": weekly(2, None, None),  # every two weeks, as task apps mean it (not twice a week)
    "fortnightly": weekly(2, None, None),
}
_TIMES_PER = re.compile(
    r"(?:every\s+)?(?:twice|thrice|\w+\s+times)\s+(?:a|an|per|each|every)\s+(?P<unit>day|week|month|year)"
)
_HOW_OFTEN = {
    "day": "name the times as a cron expression, e.g. '0 9,17 * * *' (09:00 and 17:00)",
    "week": "name the days, e.g. 'every mon and thu'",
    "month": "say 'every 2 weeks', or name the days as an RRULE, e.g. 'FREQ=MONTHLY;BYMONTHDAY=1,15'",
    "year": "name the months as an RRULE, e.g. 'FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1'",
}


def frequency_hint(key: str) -> str | None:
    """What to write instead of 'twice a month' and the like, which do not say when; else None."""
    if match := _TIMES_PER.fullmatch(key):
        return f"'{key}' does not say when: {_HOW_OFTEN[match['unit']]}"
    return None


def parse_time(text: str) -> tuple[int, int]:
    """'09:00', '17:30', '9am', '5:30pm', 'noon', 'midnight' -> (hour, minute)."""
    named = {"noon": (12, 0), "midnight": (0, 0)}
    match = _TIME.fullmatch(text)
    if text in named:
        return named[text]
    if match:
        h, m, ap = int(match["h"]), int(match["m"] or 0), match["ap"]
        if ap and 1 <= h <= 12 and m < 60:
            return h % 12 + (12 if ap.startswith("p") else 0), m
        if not ap and h < 24 and m < 60:
            return h, m
    raise _fail(f"time '{text}' is not a valid time of day (use HH:MM or H[:MM] am/pm)",
                "'every monday at 09:00' or 'every day at 5:30pm'")


def _interval(word: str | None) -> int:
    n = _NUMBERS.get(word, 0) if word and not word.isdigit() else int(word or 1)
    if not 1 <= n <= 999:
        raise _fail(f"the interval must be a whole number from 1 to 999, not '{word}'", "'every 2 weeks'")
    return n


def _day_list(text: str) -> tuple[int, ...] | None:
    tokens = [t for t in re.split(r"\s*(?:,|&|\band\b|\bor\b)\s*|\s+", text) if t]
    found = [_WEEKDAYS.get(t, _WEEKDAYS.get(t.removesuffix("s"))) for t in tokens]
    if not tokens or found[0] is None:
        return None
    for token, day in zip(tokens, found, strict=True):
        if day is None:
            raise _fail(f"'{token}' is not a weekday (use monday..sunday or mon..sun)",
                        "'every mon, wed and fri'")
    return tuple(sorted({d for d in found if d is not None}))


def _month_position(text: str, *, bare: bool) -> str | None:
    """'the 15th' -> '15'; 'the last day' -> 'BYMONTHDAY=-1'; 'last friday' -> 'BYDAY=-1FR'; else None."""
    text = _OF_MONTH.sub("", text).removeprefix("the ")
    if text == "last day":
        return "BYMONTHDAY=-1"
    day = _MONTH_DAY.fullmatch(text)
    if day and (day["sfx"] or not bare):
        if not 1 <= int(day["d"]) <= 31:
            raise _fail(f"day of the month must be 1st to 31st or 'the last day', not '{text}'",
                        "'every month on the 15th'")
        return str(int(day["d"]))
    ordinal, _, weekday = text.partition(" ")
    if ordinal in _ORDINALS and weekday.removesuffix("s") in _WEEKDAYS:
        return f"BYDAY={_ORDINALS[ordinal]:+d}{_RR_DAYS[_WEEKDAYS[weekday.removesuffix('s')]]}"
    return None


def _date(text: str) -> tuple[int, int] | None:
    """'march 5', 'mar 5th', '5 march', 'the 5th of march' -> (3, 5); else None."""
    text = text.removeprefix("the ")
    match = re.fullmatch(r"(?P<mon>[a-z]+)\.?\s+(?P<d>\d+)(?:st|nd|rd|th)?", text) or re.fullmatch(
        r"(?P<d>\d+)(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<mon>[a-z]+)", text)
    if not match or match["mon"] not in _MONTHS:
        return None
    month, day = _MONTHS[match["mon"]], int(match["d"])
    if not 1 <= day <= _MONTH_DAYS[month - 1]:
        raise _fail(f"{_MONTH_NAMES[month - 1]} has no day {day}", "'every year on march 5'")
    return month, day


def _unit_rule(n: int, unit: str, on: str | None, clock: Clock) -> Builder | None:
    if unit == "hour" and not on and clock is None:
        return hourly(n)
    if unit == "hour":
        raise _fail("'every N hours' takes its minute from the due time and has no 'at' or 'on'",
                    "'every 4 hours'")
    if on is None:
        plain = {"day": lambda: daily(n, clock), "week": lambda: weekly(n, None, clock),
                 "month": lambda: monthly(n, None, clock), "year": lambda: yearly(n, None, clock)}
        return plain[unit]()
    if unit == "week" and (days := _day_list(on)):
        return weekly(n, days, clock)
    if unit == "month" and (position := _month_position(on, bare=False)):
        return monthly(n, position, clock)
    if unit == "year" and (date := _date(on)):
        return yearly(n, date, clock)
    return None


def _body_rule(body: str, clock: Clock) -> Builder | None:
    if unit := _UNIT.fullmatch(body):
        return _unit_rule(_interval(unit["n"]), unit["unit"], unit["on"], clock)
    if body == "fortnight":
        return weekly(2, None, clock)
    if (every_n := _EVERY_N_DAYS.fullmatch(body)) and (days := _day_list(every_n["days"])):
        return weekly(_interval(every_n["n"]), days, clock)
    if body in ("weekday", "weekdays"):
        return weekdays(clock)
    if days := _day_list(body):
        return weekly(1, days, clock)
    if position := _month_position(body, bare=True):
        return monthly(1, position, clock)
    if date := _date(body):
        return yearly(1, date, clock)
    return None


def parse_phrase(text: str) -> Builder:
    """Parse 'every ...' (lower-cased, single-spaced) into a builder; raise InvalidRecurrence if malformed."""
    body, at, time_text = text.removeprefix("every").strip().rpartition(" at ")
    if not at:
        body, time_text = time_text, ""
    builder = _body_rule(body, parse_time(time_text) if at else None)
    if builder is None:
        message = f"unrecognized phrase '{text}'; phrases start with 'every', {PHRASE_EXAMPLES}"
        raise InvalidRecurrence(message, field="rule")
    return builder
