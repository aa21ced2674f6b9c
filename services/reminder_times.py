"""When a reminder fires: due minus its offset, with offsets of a day or more kept in local wall-clock time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from domain.timeutil import Due, normalize_local

MINUTES_PER_DAY = 24 * 60


def reminder_base(due: Due, tz: ZoneInfo, all_day_at: time) -> datetime:
    """The local moment reminders count back from: the due, or the all-day reminder time on the due day."""
    if due.at is not None:
        return due.at.astimezone(tz)
    assert due.day is not None
    return normalize_local(datetime.combine(due.day, all_day_at), tz)


def fire_time(due: Due, offset_minutes: int, tz: ZoneInfo, all_day_at: time) -> datetime:
    """The UTC moment a reminder `offset_minutes` before `due` fires.

    Whole days are taken off the local wall clock (a reminder a day before a 09:00 task comes at 09:00 even across
    a DST change); the remaining minutes are taken off in absolute time.
    """
    base = reminder_base(due, tz, all_day_at)
    days, minutes = divmod(offset_minutes, MINUTES_PER_DAY)
    if days:
        base = normalize_local(base.replace(tzinfo=None) - timedelta(days=days), tz)
    return base.astimezone(UTC) - timedelta(minutes=minutes)


def fire_times(due: Due, offsets: list[int], tz: ZoneInfo, all_day_at: time) -> dict[int, datetime]:
    """Offset -> UTC fire time for each of a task's reminder offsets."""
    return {offset: fire_time(due, offset, tz, all_day_at) for offset in offsets}
