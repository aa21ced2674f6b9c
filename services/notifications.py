"""Notifications in the web host: the handler storing each reminder for its user, and reading them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from domain.cursors import decode_id_cursor, encode_id_cursor
from domain.errors import NotFound
from domain.events import ReminderDueV1
from domain.uow import Tx, UnitOfWork
from domain.usecases import Actor
from domain.values import PAGE_DEFAULT, valid_id
from services.consumer import Event, decode, event_id_of, require_user
from services.tables import Notification


class NotificationView(BaseModel):
    id: int
    task_id: int
    title: str
    due_at: datetime | None
    due_date: date | None
    offset_minutes: int = Field(description="minutes before due")
    fire_at: datetime = Field(description="when the reminder was scheduled for")
    late: bool = Field(description="sent after downtime, later than scheduled")
    created_at: datetime
    read_at: datetime | None


class NotificationPage(BaseModel):
    data: list[NotificationView]
    count: int = Field(description="notifications matching the filter")
    next_cursor: str | None


async def on_reminder_due(tx: Tx, event: Event) -> None:
    """Store the reminder as a notification of its user (Poison if there is no such user)."""
    due = decode(event, ReminderDueV1)
    await require_user(tx, due.user_id)  # no notification for an account that does not exist
    tx.session.add(Notification(
        user_id=due.user_id, task_id=due.task_id, event_id=event_id_of(event), title=due.title[:500],
        due_at=due.due_at, due_date=due.due_date, offset_minutes=due.offset_minutes, fire_at=due.scheduled_for,
        late=due.late, created_at=tx.now,
    ))


async def list_notifications(
    uow: UnitOfWork, actor: Actor, *, unread: bool = False, limit: int = PAGE_DEFAULT, cursor: str | None = None
) -> NotificationPage:
    """The actor's notifications, newest first (only unread ones with `unread`)."""
    filters = [col(Notification.user_id) == actor.id]
    if unread:
        filters.append(col(Notification.read_at).is_(None))
    async with uow.read() as tx:
        total = (await tx.session.exec(select(func.count()).select_from(Notification).where(*filters))).one()
        stmt = select(Notification).where(*filters)
        if cursor:
            stmt = stmt.where(col(Notification.id) < decode_id_cursor(cursor))
        rows = list((await tx.session.exec(stmt.order_by(col(Notification.id).desc()).limit(limit + 1))).all())
    page = rows[:limit]
    return NotificationPage(
        data=[NotificationView.model_validate(r, from_attributes=True) for r in page], count=int(total),
        next_cursor=encode_id_cursor(page[-1].id or 0) if len(rows) > limit else None,
    )


async def mark_read(uow: UnitOfWork, actor: Actor, notification_id: int) -> NotificationView:
    """Mark one of the actor's notifications read (reading it again keeps the first time)."""
    async with uow.write() as tx:
        row = await tx.session.get(Notification, notification_id) if valid_id(notification_id) else None
        if row is None or row.user_id != actor.id:
            raise NotFound(f"notification {notification_id} not found", field="id")
        if row.read_at is None:
            row.read_at = tx.now
            tx.session.add(row)
        return NotificationView.model_validate(row, from_attributes=True)


async def notification_of_event(uow: UnitOfWork, event_id: str) -> tuple[int, NotificationView] | None:
    """The user and the notification stored for a reminder event, if any."""
    return (await notifications_of_events(uow, [event_id])).get(event_id)


async def notifications_of_events(
    uow: UnitOfWork, event_ids: Collection[str]
) -> dict[str, tuple[int, NotificationView]]:
    """The users and notifications stored for these reminder events, by event id (one query; missing if none)."""
    if not event_ids:
        return {}
    async with uow.read() as tx:
        query = select(Notification).where(col(Notification.event_id).in_(list(event_ids)))
        rows = (await tx.session.exec(query)).all()
    return {row.event_id: (row.user_id, NotificationView.model_validate(row, from_attributes=True)) for row in rows}
