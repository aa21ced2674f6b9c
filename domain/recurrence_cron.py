"""Cron rules (the 5-field form of domain.recurrence): checking an expression with an error that names the field
and gives an example, and listing its wall-clock times. Plain expressions are expanded once into sets and walked
month by month; the rarer forms (W) are left to croniter."""

from __future__ import annotations

import calendar
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from croniter import CroniterError, croniter  # type: ignore[import-untyped]

from domain.errors import InvalidRecurrence

_CRON_FIELDS = (("minute", "0-59", "'30 9 * * *'"), ("hour", "0-23", "'0 17 * * *'"),
                ("day-of-month", "1-31 or L", "'0 9 15 * *'"), ("month", "1-12 or JAN-DEC", "'0 9 1 JAN *'"),
                ("day-of-week", "0-6 (0 = Sunday) or SUN-SAT", "'0 9 * * MON-FRI'"))
_MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
           "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
_MAX_IDLE_MONTHS = 12 * 40
_ANY_START = datetime(2000, 1, 3, 9, 0)


@dataclass(frozen=True)
class _CronSpec:
    """A plain 5-field cron expression expanded to sets; None means any."""

    times: tuple[tuple[int, int], ...]  # (hour, minute), ascending
    days: frozenset[int] | None  # -1 = the last day of the month
    months: frozenset[int] | None
    weekdays: frozenset[tuple[int, int]] | None  # (weekday, 0 = every | n-th | -1 = last); weekday 0 = Sunday


@lru_cache(maxsize=4096)
def _month_days(
    days: frozenset[int] | None, weekdays: frozenset[tuple[int, int]] | None, year: int, month: int
) -> tuple[int, ...]:
    """The days of a month matching cron's day-of-month and day-of-week fields (either, if both are set)."""
    first_weekday, length = calendar.monthrange(year, month)
    every = range(1, length + 1)
    if days is None and weekdays is None:
        return tuple(every)
    by_date = {length if d == -1 else d for d in days or ()} & set(every)
    wanted = weekdays or frozenset()

    def weekday_matches(d: int) -> bool:
        w = (first_weekday + d) % 7
        return bool({(w, 0), (w, (d + 6) // 7)} & wanted) or ((w, -1) in wanted and d + 7 > length)

    return tuple(sorted(by_date | {d for d in every if weekday_matches(d)}))


def _cron_after(spec: _CronSpec, after: datetime) -> Iterator[datetime]:
    year, month, first_day, floor, idle = after.year, after.month, after.day, (after.hour, after.minute), 0
    while idle < _MAX_IDLE_MONTHS and year < 9999:
        if spec.months is None or month in spec.months:
            for day in _month_days(spec.days, spec.weekdays, year, month):
                if day >= first_day:
                    for h, m in spec.times[bisect_right(spec.times, floor) if day == first_day else 0:]:
                        idle = 0
                        yield datetime(year, month, day, h, m)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        first_day, idle = 0, idle + 1


def cron_wall_clock(expression: str, after: datetime) -> Iterator[datetime]:
    """Naive wall-clock times matching the (checked) expression, strictly after `after`, ascending."""
    spec = _compile_cron(expression)
    return _cron_after(spec, after) if spec else _croniter_after(expression, after)


def _croniter_after(expression: str, after: datetime) -> Iterator[datetime]:
    it = croniter(expression, after)
    while True:
        try:
            yield it.get_next(datetime)
        except (CroniterError, OverflowError):
            return


@lru_cache(maxsize=1024)
def _compile_cron(expression: str) -> _CronSpec | None:
    """Expanded sets for cron (numbers, names, ranges, steps, L, #); None for W (croniter evaluates it)."""
    expanded, nth = croniter.expand(expression)
    if "W" in expression.split()[2].upper() or (nth and expanded[2] != ["*"]):
        return None
    expanded = [*expanded[:2], [-1 if v == "l" else v for v in expanded[2]], *expanded[3:5]]
    if not all(isinstance(v, int) or v == "*" for values in expanded for v in values):
        return None
    minutes, hours, days, months, weekdays = ([] if vals == ["*"] else list(vals) for vals in expanded)
    times = tuple((h, m) for h in (hours or range(24)) for m in (minutes or range(60)))
    by_weekday = {(w, -1 if n == "l" else n) for w, ns in nth.items() for n in ns} or {(w, 0) for w in weekdays}
    return _CronSpec(tuple(sorted(times)), frozenset(days) or None, frozenset(months) or None,
                     frozenset(by_weekday) or None)


def _cron_error(expression: str) -> InvalidRecurrence | None:
    fields = expression.split()
    if len(fields) != 5:
        return InvalidRecurrence(f"cron expression '{expression}' must have 5 fields (minute hour day month "
                                 "weekday), e.g. '0 9 * * 1-5'", field="rule")
    for i, (name, allowed, example) in enumerate(_CRON_FIELDS):
        alone = " ".join(fields[i] if j == i else "*" for j in range(5))
        if not croniter.is_valid(alone):
            return InvalidRecurrence(f"cron {name} field '{fields[i]}' in '{expression}' is not valid "
                                     f"(allowed: {allowed}, lists, ranges and steps), e.g. {example}",
                                     field="rule")
    try:
        croniter.expand(expression, strict=True)
    except CroniterError as exc:
        detail = str(exc) if "\n" not in str(exc) else "unsupported syntax"
        problem = "never matches a date" if "never occur" in detail else f"is not valid ({detail})"
        return InvalidRecurrence(f"cron expression '{expression}' {problem}, "
                                 "e.g. '0 9 28 2 *' or '0 9 L * *'", field="rule")
    return None


def check_cron(key: str) -> str:
    """The normalized 5-field expression of a cron rule or macro, or InvalidRecurrence naming the problem."""
    expression = _MACROS.get(key) or " ".join(key.upper().split())
    if key.startswith("@") and key not in _MACROS:
        raise InvalidRecurrence(f"unknown cron macro '{key}'; use @hourly, @daily, @weekly, @monthly or "
                                "@yearly, or 5 fields, e.g. '0 9 * * 1-5'", field="rule")
    if error := _cron_error(expression):
        raise error
    if next(cron_wall_clock(expression, _ANY_START), None) is None:
        raise InvalidRecurrence(f"cron expression '{expression}' never matches a date, "
                                "e.g. '0 9 * * 5#3' (the third Friday)", field="rule")
    return expression
