"""The user's local "now"."""

from __future__ import annotations

from domain.schemas import NowView
from domain.timeutil import local_now
from domain.uow import UnitOfWork
from domain.usecases.common import Actor


async def whats_now(uow: UnitOfWork, actor: Actor) -> NowView:
    """The user's local date, time and timezone."""
    now = local_now(uow.clock.now(), actor.timezone)
    return NowView(
        timezone=now.timezone,
        utc=now.utc,
        local=now.local,
        local_date=now.today,
        local_time=now.local.strftime("%H:%M"),
        weekday=now.local.strftime("%A"),
    )
