"""The services' settings, read from TODO_AGENT_* environment variables (defaults otherwise)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time, timedelta


@dataclass(frozen=True)
class ServiceSettings:
    """Reminder times, the scheduler's pace and the live stream's limits."""

    all_day_reminder_time: time = time(9, 0)
    reminder_grace: timedelta = timedelta(seconds=60)
    scheduler_every: float = 0.5
    live_buffer: int = 200
    stream_ping_seconds: float = 15.0
    streams_per_user: int = 10  # one more closes the user's oldest stream
    streams_max: int = 2000  # open streams in the process; beyond it new ones get 503

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ServiceSettings:
        """Settings from TODO_AGENT_ALL_DAY_REMINDER_TIME (HH:MM), TODO_AGENT_REMINDER_GRACE_SECONDS, ..."""
        return cls(
            all_day_reminder_time=_time(env.get("TODO_AGENT_ALL_DAY_REMINDER_TIME", "09:00")),
            reminder_grace=timedelta(seconds=_number(env, "TODO_AGENT_REMINDER_GRACE_SECONDS", 60)),
            scheduler_every=_number(env, "TODO_AGENT_SCHEDULER_SECONDS", cls.scheduler_every),
            live_buffer=int(_number(env, "TODO_AGENT_LIVE_BUFFER", cls.live_buffer)),
            stream_ping_seconds=_number(env, "TODO_AGENT_STREAM_PING_SECONDS", cls.stream_ping_seconds),
            streams_per_user=_count(env, "TODO_AGENT_STREAMS_PER_USER", cls.streams_per_user),
            streams_max=_count(env, "TODO_AGENT_STREAMS_MAX", cls.streams_max),
        )


def _time(text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"TODO_AGENT_ALL_DAY_REMINDER_TIME: {text!r} is not a time of day; write e.g. 09:00") from None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    text = env.get(name)
    if text is None:
        return float(default)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number") from None
    if value < 0:
        raise ValueError(f"{name}: must not be negative (got {text})")
    return value


def _count(env: Mapping[str, str], name: str, default: int) -> int:
    value = _number(env, name, default)
    if value < 1 or value != int(value):
        raise ValueError(f"{name}: must be a whole number of at least 1 (got {env.get(name)})")
    return int(value)
