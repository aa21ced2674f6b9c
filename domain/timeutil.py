"""Time zones, due dates and the user's local "now": input without an offset is in the user's timezone."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidDue, InvalidTimezone
from domain.values import DATE_MAX, DATE_MIN


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name, or InvalidTimezone."""
    try:
        if not name or name != name.strip():
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidTimezone(
            f"unknown timezone {name!r}: use an IANA name such as 'Europe/Berlin' or 'America/New_York'",
            field="timezone",
        ) from None


def check_timezone(name: str) -> str:
    """Return the IANA name when it is known, else raise InvalidTimezone."""
    zone(name)
    return name


def utc(dt: datetime) -> datetime:
    return dt.astimezone(UTC)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local day (a day may start at 01:00 where DST begins at midnight)."""
    return normalize_local(datetime.combine(day, time(0, 0)), tz)


def normalize_local(naive: datetime, tz: ZoneInfo) -> datetime:
    """Attach tz to a wall-clock time; a time that does not exist (DST gap) moves forward by the gap."""
    aware = naive.replace(tzinfo=tz, fold=0)
    return aware.astimezone(UTC).astimezone(tz)


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day as UTC instants."""
    return utc(local_midnight(day, tz)), utc(local_midnight(day + timedelta(days=1), tz))


@dataclass(frozen=True)
class Due:
    """A due date: a moment (`at`, UTC) or a whole local day (`day` with all_day)."""

    at: datetime | None = None
    day: date | None = None

    @property
    def all_day(self) -> bool:
        return self.day is not None

    def key(self, tz: ZoneInfo) -> int:
        """Epoch seconds used to sort and range-filter: the moment, or the start of the local day."""
        instant = self.at if self.at is not None else local_midnight(self.day or date.min, tz)
        return int(instant.timestamp())

    def local(self, tz: ZoneInfo) -> datetime:
        """The due as an aware local datetime (local midnight for all-day)."""
        if self.at is not None:
            return self.at.astimezone(tz)
        return local_midnight(self.day or date.min, tz)


_PLAIN_DATE = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_DUE_EXAMPLE = "e.g. '2026-12-01T09:00:00+01:00', '2026-12-01T09:00' (your timezone) or '2026-12-01' (all day)"


def parse_due(value: str | datetime | date, tz: ZoneInfo) -> Due:
    """Parse a due date: an aware datetime, a naive one (local to tz) or a plain date (all day), 1900..2200."""
    parsed = value if isinstance(value, date) else _parse_text(value)
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    if not DATE_MIN <= day <= DATE_MAX:
        raise _out_of_range(parsed)
    if not isinstance(parsed, datetime):
        return Due(day=parsed)
    try:
        return Due(at=utc(normalize_local(parsed, tz) if parsed.tzinfo is None else parsed))
    except OverflowError:  # unreachable inside the range; kept so no offset can turn into a 500
        raise _out_of_range(parsed) from None


def _out_of_range(value: date) -> InvalidDue:
    return InvalidDue(
        f"due date {value.isoformat()} is out of range: give a date from {DATE_MIN} to {DATE_MAX}, {_DUE_EXAMPLE}",
        field="due_at",
    )


def _parse_text(text: str) -> datetime | date:
    text = str(text).strip()
    try:
        if _PLAIN_DATE.fullmatch(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise InvalidDue(f"cannot read due date {text!r}: {_DUE_EXAMPLE}", field="due_at") from None


def render_local(due: Due, tz: ZoneInfo) -> str:
    """Human-readable local rendering of a due date, e.g. '2026-12-01 09:00 Tue' or '2026-12-01 Tue (all day)'."""
    if due.at is None:
        day = due.day or date.min
        return f"{day.isoformat()} {day.strftime('%a')} (all day)"
    local = due.at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M %a")


@dataclass(frozen=True)
class LocalNow:
    """The user's local date, time and timezone."""

    utc: datetime
    local: datetime
    timezone: str

    @property
    def today(self) -> date:
        return self.local.date()


def local_now(now: datetime, tz_name: str) -> LocalNow:
    return LocalNow(utc=utc(now), local=now.astimezone(zone(tz_name)), timezone=tz_name)
