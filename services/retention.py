"""What the services let retention prune: processed inbox rows, read notifications and sent reminders."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import col

from domain.ports import Pruner
from domain.uow import Tx
from services.sql import delete_where
from services.tables import InboxRecord, Notification, ReminderSchedule


async def prune_inbox(tx: Tx, cutoff: datetime) -> int:
    """Inbox rows processed before `cutoff` (redelivery that late is not expected)."""
    return await delete_where(tx, InboxRecord, col(InboxRecord.processed_at) < cutoff)


async def prune_notifications(tx: Tx, cutoff: datetime) -> int:
    """Notifications read before `cutoff` (unread ones stay)."""
    return await delete_where(tx, Notification, col(Notification.read_at) < cutoff)


async def prune_reminders(tx: Tx, cutoff: datetime) -> int:
    """Reminder rows sent before `cutoff`."""
    return await delete_where(tx, ReminderSchedule, col(ReminderSchedule.sent_at) < cutoff)


PRUNERS: Mapping[str, Pruner] = {
    "inbox": prune_inbox, "notifications": prune_notifications, "reminders": prune_reminders,
}
