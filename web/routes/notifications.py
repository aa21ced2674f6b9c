"""/api/v1/notifications: the reminders delivered to you, and marking them read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from domain.values import ID_MAX, PAGE_DEFAULT, PAGE_MAX, Text
from services.notifications import NotificationPage, NotificationView, list_notifications, mark_read
from web.deps import CurrentActor, UowDep
from web.problems import responses

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"], responses=responses(401))

NotificationId = Annotated[int, Path(ge=1, le=ID_MAX, description="the notification id")]


@router.get("", response_model=NotificationPage, responses=responses(422))
async def get_notifications(
    uow: UowDep,
    actor: CurrentActor,
    unread: Annotated[bool, Query(description="only those not read yet")] = False,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = PAGE_DEFAULT,
    cursor: Annotated[Text | None, Query()] = None,
) -> NotificationPage:
    """Your notifications, newest first; `count` is the total matching."""
    return await list_notifications(uow, actor, unread=unread, limit=limit, cursor=cursor)


@router.post("/{notification_id}/read", response_model=NotificationView, responses=responses(404))
async def read_notification(uow: UowDep, actor: CurrentActor, notification_id: NotificationId) -> NotificationView:
    """Mark one of your notifications read."""
    return await mark_read(uow, actor, notification_id)
