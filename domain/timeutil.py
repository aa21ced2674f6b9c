"""Time zones, due dates and the user's local "now": input without an offset is in the user's timezone."""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, available_timezones

from domain.errors import InvalidDue, InvalidTimezone
from domain.values import DATE_MAX, DATE_MIN

# A current IANA name is a place (Region/City), UTC, or an Etc/ zone; the others the database still carries are
# legacy links (US/Eastern, Japan) and abbreviations or POSIX rules (EST, CET, EST5EDT) that mislead: 'EST' has no
# daylight saving time, so a New York user set to it would see every summer due an hour off.
_PLACE = re.compile(r"(?:Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/.+|UTC")
_OFFSET = re.compile(r"(?:(?:etc/)?(?:gmt|utc|ut)\s*)?[+-]\s*\d{1,2}(?::?\d{2})?", re.IGNORECASE)
_INSTEAD = {  # what people mean by the common abbreviations and legacy names
    **dict.fromkeys(("est", "edt", "est5edt", "us/eastern", "us/michigan"), "America/New_York"),
    **dict.fromkeys(("cst", "cdt", "cst6cdt", "us/central"), "America/Chicago"),
    **dict.fromkeys(("mst", "mdt", "mst7mdt", "us/mountain", "navajo"), "America/Denver"),
    **dict.fromkeys(("pst", "pdt", "pst8pdt", "us/pacific"), "America/Los_Angeles"),
    **dict.fromkeys(("akst", "akdt", "us/alaska"), "America/Anchorage"),
    **dict.fromkeys(("hst", "us/hawaii"), "Pacific/Honolulu"),
    "us/arizona": "America/Phoenix",
    **dict.fromkeys(("gmt", "bst", "gb", "gb-eire"), "Europe/London"),
    **dict.fromkeys(("cet", "cest", "met", "mez"), "Europe/Berlin"),
    **dict.fromkeys(("eet", "eest"), "Europe/Athens"),
    "wet": "Europe/Lisbon", "ist": "Asia/Kolkata", **dict.fromkeys(("jst", "japan"), "Asia/Tokyo"),
    **dict.fromkeys(("aest", "aedt"), "Australia/Sydney"), **dict.fromkeys(("prc", "cst-china"), "Asia/Shanghai"),
    **dict.fromkeys(("zulu", "uct", "universal", "greenwich", "gmt0", "gmt+0", "gmt-0"), "UTC"),
}
_IANA_EXAMPLE = "use an IANA name such as 'Europe/Berlin' or 'America/New_York'"


@functools.cache
def _zone_names() -> tuple[dict[str, str], dict[str, str]]:
    """Every name the tz database has, by its case-folded form; and the current places by case-folded city."""
    names = {n.casefold(): n for n in available_timezones() if n != "localtime"}
    cities = {n.rsplit("/", 1)[-1].casefold(): n for n in names.values() if _PLACE.fullmatch(n) and "/" in n}
    return names, cities


def canonical_zone(name: str) -> str:
    """The tz database's spelling of a name matched case-insensitively ('europe/berlin' -> 'Europe/Berlin'),
    legacy names included; an unknown name raises InvalidTimezone with the closest current name, if any."""
    names, _ = _zone_names()
    found = names.get(name.casefold()) if isinstance(name, str) else None
    if found is None:
        raise InvalidTimezone(_unknown(str(name)), field="timezone")
    return found


def _unknown(name: str) -> str:
    if (refused := _refusal(name)) is not None:
        return refused
    names, cities = _zone_names()
    key = name.casefold().replace(" ", "_")
    places = [k for k, v in names.items() if _PLACE.fullmatch(v)]
    close = [] if key in cities else difflib.get_close_matches(key, places, n=1, cutoff=0.75)
    guess = cities.get(key) or (names[close[0]] if close else None)
    if guess is None:
        return f"unknown timezone {name!r}: {_IANA_EXAMPLE}"
    return f"unknown timezone {name!r}: did you mean {guess!r}? (timezones are IANA names such as 'Europe/Berlin')"


def _refusal(name: str) -> str | None:
    """Why a name is not a current place name (an abbreviation, a fixed offset, a legacy name), or None."""
    if _PLACE.fullmatch(name):
        return None
    instead = _INSTEAD.get(name.casefold())
    use = f"use an IANA name such as {instead!r}" if instead else _IANA_EXAMPLE
    known = _zone_names()[0].get(name.casefold())
    if _OFFSET.fullmatch(name):
        return f"{name!r} is a fixed offset, not a place (it ignores daylight saving time): {use}"
    if re.fullmatch(r"[A-Z]{2,5}(?:\d[A-Z]{3})?", known or name.upper()) and (known or instead):
        return f"{name!r} is an abbreviation, not a place: {use}"
    if known is not None:
        return f"{name!r} is a legacy name: {use}"
    return None


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for a tz database name (any case; legacy names too, so a stored one keeps working)."""
    return ZoneInfo(canonical_zone(name))


def check_timezone(name: str) -> str:
    """The canonical current IANA name to store for a new timezone setting; abbreviations ('EST'), fixed offsets
    ('GMT+5') and legacy names ('US/Eastern') are refused with what to use instead, typos with a guess."""
    canonical = canonical_zone(name)
    if _PLACE.fullmatch(canonical) is None:
        why = _refusal(name)
        assert why is not None  # a name the database has that is not a place is a legacy name at least
        raise InvalidTimezone(why, field="timezone")
    return canonical


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


def parse_due(value: str | datetime | date, tz: ZoneInfo, now: datetime) -> Due:
    """Parse a due date, 1900..2200: an aware datetime, a naive one (local to tz), a plain date (all day), or a
    phrase such as 'tomorrow 9am' read in tz against `now`, the unit of work's clock (domain.dates)."""
    parsed = value if isinstance(value, date) else _parse_iso(value)
    if parsed is None:
        from domain.dates import parse_when  # it builds on this module, and loads dateparser on first use

        return parse_when(str(value), tz, now)
    day = parsed.date() if isinstance(parsed, datetime) else parsed
    check_due_range(day)
    if not isinstance(parsed, datetime):
        return Due(day=parsed)
    try:
        return Due(at=utc(normalize_local(parsed, tz) if parsed.tzinfo is None else parsed))
    except OverflowError:  # unreachable inside the range; kept so no offset can turn into a 500
        raise _out_of_range(parsed) from None


def check_due_range(day: date) -> None:
    """Refuse a due outside 1900..2200 (beyond them time zone arithmetic overflows)."""
    if not DATE_MIN <= day <= DATE_MAX:
        raise _out_of_range(day)


def _out_of_range(value: date) -> InvalidDue:
    return InvalidDue(
        f"due date {value.isoformat()} is out of range: give a date from {DATE_MIN} to {DATE_MAX}, {_DUE_EXAMPLE}",
        field="due_at",
    )


def _parse_iso(text: str) -> datetime | date | None:
    """An ISO 8601 date or datetime (the fast path: no phrase parsing), or None."""
    text = str(text).strip()
    try:
        if _PLAIN_DATE.fullmatch(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        return None


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
