"""Recurrence rules: when a recurring task comes due again.

A rule is one string, evaluated in the user's timezone, in one of four forms (case does not matter):

1. Preset: daily, weekdays (Monday to Friday), weekly, biweekly or fortnightly (every two weeks), monthly,
   yearly. A preset takes its time of day,
   weekday, day and month from the task's due time ('daily' on a task due 09:00 is '0 9 * * *').
   'monthly' from the 29th-31st falls on the last day of shorter months; 'yearly' from February 29 falls on
   February 28 in other years.
2. Cron: five fields, minute hour day-of-month month day-of-week, e.g. '0 9 * * 1-5' (09:00 on weekdays).
   @hourly (at minute 0), @daily, @weekly, @monthly and @yearly (at midnight) are accepted; seconds are not.
3. RRULE (RFC 5545), with or without 'RRULE:', e.g. 'FREQ=MONTHLY;BYDAY=-1FR' (last Friday of the month).
   The task's due time is the start: DTSTART is not allowed, and without BYHOUR/BYMINUTE the time of day
   comes from the due time. FREQ is HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY. UNTIL is a local date
   (inclusive) or date-time without 'Z'. COUNT is not allowed: set the count on the task instead.
4. Phrase: 'every' followed by one of
     day | N days                        every day, every 3 days, every other day
     weekday                             every weekday (Monday to Friday)
     week | N weeks [on DAYS] | fortnight every week, every 2 weeks, every 2 weeks on mon and thu
     DAYS                                every monday, every mon, wed and fri, every tuesday and thursday
     N DAYS                              every other tuesday (every two weeks on Tuesday)
     month | N months [on POSITION]      every month, every month on the 15th, every 3 months on the last day
     POSITION [of the month]             every 15th, every 3rd of the month, every 2nd tuesday, every last day
     year | N years [on DATE]            every year, every year on march 5
     DATE                                every march 5, every 5th of march
     hour | N hours                      every hour, every 4 hours (at the due time's minute; no 'at')
   and optionally 'at TIME', where TIME is 09:00, 17:30, 9am, 5:30pm, noon or midnight
   (every monday at 09:00, every day at 9am, every last friday at 5:30pm).
   N is 1 to 999, a word from one to twelve, or 'other' (2). Intervals count from the due date.
   DAYS are weekday names (monday or mon, plurals allowed) separated by commas, 'and' or '&'.
   POSITION is 'the 15th' (1st to 31st; a day past the end of a short month falls on its last day),
   'the last day', or first|second|third|fourth|fifth|last WEEKDAY ('fifth' skips months without one).
   DATE is 'march 5', 'mar 5th', '5 march' or 'the 5th of march'.
   'twice a month' and the like say how often but not when: the error says what to write instead.

Without a time, the time of day comes from the due time. Times are local wall-clock time: a daily 09:00 rule
stays at 09:00 across daylight-saving changes. A time that does not exist on a spring-forward day moves
forward by the gap (02:30 becomes 03:30); a time repeated on a fall-back day happens once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrule, rrulestr

from domain.errors import InvalidInput, InvalidRecurrence, InvalidTimezone
from domain.recurrence_cron import check_cron, cron_wall_clock
from domain.recurrence_phrases import PHRASE_EXAMPLES, PRESETS, Builder, frequency_hint, parse_phrase
from domain.values import RULE_MAX

_FORMS = ("use a preset (e.g. 'daily', 'weekdays', 'weekly', 'biweekly', 'monthly', 'yearly'), "
          "a 5-field cron expression (e.g. '0 9 * * 1-5'), an RRULE (e.g. 'FREQ=MONTHLY;BYDAY=-1FR') "
          f"or a phrase ({PHRASE_EXAMPLES})")
_RRULE_EXAMPLE = "'FREQ=MONTHLY;BYDAY=-1FR'"
_FREQS = ("HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY")
_DUMMY_ANCHOR = datetime(2000, 1, 3, 9, 0)
_PROBE_START = datetime(9968, 1, 1)  # a leap year; dateutil stops at 9999, so an empty rule fails fast


class RecurrenceMode(StrEnum):
    DUE = "due"  # next occurrence after the previous due
    COMPLETION = "completion"  # next occurrence after the completion time


@dataclass(frozen=True)
class Rule:
    text: str  # what the user wrote, trimmed
    kind: str  # "preset" | "cron" | "rrule" | "phrase"
    expression: str  # the normalized form actually evaluated: a 5-field cron, or an RRULE string
    dtstart: datetime | None = None  # naive local wall-clock start of an RRULE (the anchor)

    def occurrences_after(self, start: datetime) -> Iterator[datetime]:
        """Aware occurrences in start's zone, strictly after start, ascending, until the rule ends."""
        zone = start.tzinfo
        if zone is None or start.utcoffset() is None:
            raise InvalidInput("start must be timezone-aware, e.g. 2026-03-02T09:00:00-05:00", field="start")
        start = start.astimezone(UTC).astimezone(zone)
        return _localize(self._wall_clock_after(_search_from(start)), start, zone)

    def _wall_clock_after(self, after: datetime) -> Iterator[datetime]:
        if self.expression.startswith("FREQ="):
            return _compile_rrule(self.expression, self.dtstart or after).xafter(after)
        return cron_wall_clock(self.expression, after)


def _search_from(start: datetime) -> datetime:
    """Naive wall-clock to search from: earlier by the gap if the clocks just jumped (02:30 -> 03:30)."""
    jump = (start.utcoffset() or timedelta()) - ((start - timedelta(days=1)).utcoffset() or timedelta())
    return start.replace(tzinfo=None) - max(jump, timedelta())


def _localize(wall_clock: Iterator[datetime], start: datetime, zone: tzinfo) -> Iterator[datetime]:
    """Attach zone (fold=0: a repeated time happens once), move nonexistent times forward, keep ascending."""
    last = start
    for naive in wall_clock:
        try:
            moment = naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)
        except OverflowError:
            return
        if moment > last:
            last = moment
            yield moment


@lru_cache(maxsize=1024)
def _compile_rrule(expression: str, dtstart: datetime) -> rrule:
    result = rrulestr(expression, dtstart=dtstart)
    assert isinstance(result, rrule)  # a single RRULE line, checked by _check_rrule
    return result


def _rrule_params(body: str) -> dict[str, str]:
    if "DTSTART" in body:
        raise InvalidRecurrence(f"RRULE '{body}': DTSTART is not allowed (the task's due time is the start), "
                                f"e.g. {_RRULE_EXAMPLE}", field="rule")
    params: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in body.split(";"))):
        name, _, value = part.partition("=")
        if not value or name in params:
            why = "is repeated" if value else "is not NAME=VALUE"
            raise InvalidRecurrence(f"RRULE part '{part}' {why}, e.g. {_RRULE_EXAMPLE}", field="rule")
        params[name] = value
    return params


def _rrule_problem(params: dict[str, str]) -> str | None:
    freq, interval = params.get("FREQ"), params.get("INTERVAL", "1")
    if freq in ("SECONDLY", "MINUTELY"):
        return f"FREQ={freq} is too frequent for tasks (the most frequent is FREQ=HOURLY)"
    if freq not in _FREQS:
        return "FREQ must be HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY"
    if "COUNT" in params:
        return "COUNT is not allowed (set the recurrence count on the task instead)"
    if not interval.isdigit() or not 1 <= int(interval) <= 999:
        return f"INTERVAL must be a whole number from 1 to 999, not '{interval}'"
    if "UNTIL" in params and not re.fullmatch(r"\d{8}(T\d{6})?", params["UNTIL"]):
        return "UNTIL must be a local date or date-time without 'Z', like 20261231 or 20261231T235959"
    return None


def _probe_rrule(body: str, expression: str) -> None:
    """Build the rule once; raise if dateutil refuses it or it never yields (searched up to year 9999)."""
    try:
        probe = rrulestr(expression, dtstart=_PROBE_START)
    except (ValueError, TypeError, KeyError) as exc:
        message = f"RRULE '{body}' is not valid: {exc}, e.g. {_RRULE_EXAMPLE}"
        raise InvalidRecurrence(message, field="rule") from exc
    try:
        first = next(iter(probe), None)
    except (ValueError, OverflowError):  # ran past year 9999
        first = None
    if first is None:
        raise InvalidRecurrence(f"RRULE '{body}' never produces a date, e.g. {_RRULE_EXAMPLE}", field="rule")


def _check_rrule(key: str) -> str:
    body = re.sub(r"^RRULE:\s*", "", key.upper())
    params = _rrule_params(body)
    if problem := _rrule_problem(params):
        raise InvalidRecurrence(f"RRULE '{body}': {problem}, e.g. {_RRULE_EXAMPLE}", field="rule")
    if "BYHOUR" in params and "BYMINUTE" not in params and params["FREQ"] != "HOURLY":
        params["BYMINUTE"] = "0"
    until = params.pop("UNTIL", None)
    until = until + "T235959" if until and len(until) == 8 else until  # a date includes that whole day
    expression = ";".join(f"{k}={v}" for k, v in params.items())
    _probe_rrule(body, expression)
    return expression + (f";UNTIL={until}" if until else "")


def _constant(expression: str) -> Builder:
    return lambda _anchor: expression


@lru_cache(maxsize=1024)
def _parse_text(key: str) -> tuple[str, Builder]:
    """Text-level parsing (lower-cased, single-spaced): the rule's kind and a builder taking the anchor."""
    if key in PRESETS:
        return "preset", PRESETS[key]
    if hint := frequency_hint(key):
        raise InvalidRecurrence(f"recurrence rule {hint}", field="rule")
    if key.startswith("@") or re.match(r"[\d*?/,\-]+( |$)", key):
        return "cron", _constant(check_cron(key))
    if key == "every" or key.startswith("every "):
        return "phrase", parse_phrase(key)
    if "=" in key:
        return "rrule", _constant(_check_rrule(key))
    problem = "is empty" if not key else f"'{key}' is not a recognized rule"
    raise InvalidRecurrence(f"recurrence rule {problem}: {_FORMS}", field="rule")


def parse_rule(text: str, anchor: datetime) -> Rule:
    """Parse a rule; presets and phrases without a time take time, weekday, day and month from anchor."""
    if len(text) > RULE_MAX:  # before parsing and before the caches, which are keyed by the text
        raise InvalidRecurrence(f"a recurrence rule is at most {RULE_MAX} characters (got {len(text)}): {_FORMS}",
                                field="rule")
    kind, build = _parse_text(" ".join(text.lower().split()))
    wall_clock = anchor.replace(tzinfo=None, second=0, microsecond=0)
    expression = build(wall_clock)
    return Rule(text.strip(), kind, expression, wall_clock if expression.startswith("FREQ=") else None)


def validate_rule(text: str) -> str:
    """Return the trimmed rule text, or raise InvalidRecurrence naming the problem with an example."""
    parse_rule(text, _DUMMY_ANCHOR)
    return text.strip()


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidTimezone(f"unknown timezone '{tz}'; use an IANA name, e.g. 'Europe/Berlin'",
                              field="timezone") from exc


def _in_zone(moment: datetime, zone: ZoneInfo) -> datetime:
    """Aware in zone; a naive moment is local wall-clock time in zone."""
    aware = moment if moment.utcoffset() is not None else moment.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone)


def next_occurrences(rule: str | Rule, start: datetime, tz: str | ZoneInfo, count: int, *,
                     anchor: datetime | None = None, until: datetime | None = None) -> list[datetime]:
    """The next `count` (1-100) occurrences strictly after start, aware in tz, stopping after `until`."""
    if not 1 <= count <= 100:
        raise InvalidInput(f"count must be between 1 and 100, not {count}, e.g. 10", field="count")
    zone = _zone(tz)
    begin = _in_zone(start, zone)
    parsed = rule if isinstance(rule, Rule) else parse_rule(rule, _in_zone(anchor or begin, zone))
    limit = _in_zone(until, zone) if until else None
    result: list[datetime] = []
    for moment in parsed.occurrences_after(begin):
        if limit and moment > limit:
            break
        result.append(moment)
        if len(result) == count:
            break
    return result


def next_occurrence(rule: str, *, mode: RecurrenceMode, previous_due: datetime | None, completed_at: datetime,
                    tz: str | ZoneInfo, until: datetime | None = None) -> datetime | None:
    """The successor's due: first occurrence after previous_due (mode due) or after completion (completion mode;
    never on or before the completed instance's own due, so completing early doesn't repeat it)."""
    zone = _zone(tz)
    done = _in_zone(completed_at, zone)
    previous = _in_zone(previous_due, zone) if previous_due else None
    if previous is None:
        start = done
    else:
        start = previous if mode == RecurrenceMode.DUE else max(previous, done)
    found = next(parse_rule(rule, previous or done).occurrences_after(start), None)
    if found is None or (until is not None and found > _in_zone(until, zone)):
        return None
    return found
