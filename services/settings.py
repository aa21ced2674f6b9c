"""The services' settings (runtime.settings.ServiceConfig fills them from TODO_AGENT_* variables)."""

from __future__ import annotations

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
