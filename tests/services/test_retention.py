"""Retention prunes what the services no longer need: old inbox rows, read notifications and sent reminders."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import select

from domain.uow import UnitOfWork
from runtime.retention import prune
from services.retention import PRUNERS
from services.tables import InboxRecord, Notification, ReminderSchedule
from tests.conftest import Clock
from tests.services.conftest import T0


async def test_old_inbox_rows_read_notifications_and_sent_reminders_are_pruned(uow: UnitOfWork, clock: Clock) -> None:
    clock.set(T0 + timedelta(days=3650))  # later than any other test's rows: this test owns what is that old
    old, recent = clock.now() - timedelta(days=8), clock.now() - timedelta(days=1)
    tag = uuid.uuid4().hex
    async with uow.write() as tx:
        for when, name in ((old, "old"), (recent, "recent")):
            tx.session.add(InboxRecord(consumer_group="retention", event_id=f"{name}-{tag}", processed_at=when))
            for read_at in (when, None):
                tx.session.add(Notification(user_id=0, task_id=0, event_id=f"{name}-{read_at is None}-{tag}",
                                            title="t", fire_at=when, created_at=when, read_at=read_at))
            for sent_at in (when, None):
                tx.session.add(ReminderSchedule(task_id=-1, user_id=0, offset_minutes=0, fire_at=clock.now() +
                                                timedelta(days=1), created_at=when, sent_at=sent_at))
    pruned = await prune(uow, timedelta(days=7), PRUNERS)
    assert pruned["inbox"] >= 1 and pruned["notifications"] >= 1 and pruned["reminders"] >= 1
    async with uow.read() as tx:
        stmt = select(InboxRecord.event_id).where(InboxRecord.consumer_group == "retention")
        inbox = {e for e in (await tx.session.exec(stmt)).all() if e.endswith(tag)}
        notes = (await tx.session.exec(select(Notification.event_id).where(Notification.user_id == 0))).all()
        reminders = (await tx.session.exec(select(ReminderSchedule).where(ReminderSchedule.task_id == -1))).all()
    assert inbox == {f"recent-{tag}"}
    assert {n for n in notes if n.endswith(tag)} == {f"old-True-{tag}", f"recent-False-{tag}", f"recent-True-{tag}"}
    assert sorted((r.sent_at is None) for r in reminders) == [False, True, True]
