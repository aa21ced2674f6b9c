"""The services and project events, and the two versions of task events: version 2 snapshots carry project_id and
parent_id, version 1 events are still consumed, project events are audited and acknowledged by the others."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from domain.events import (
    NEXT_OCCURRENCE_REQUESTED,
    PROJECT_CREATED,
    PROJECT_DELETED,
    PROJECT_EVENT_TYPES,
    PROJECT_RENAMED,
    TASK_COMPLETED,
    TASK_CREATED,
)
from domain.schemas import RecurrenceSpec, TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, complete_task, create_project, create_task, delete_project, rename_project
from services.consumer import Outcome
from services.subscriptions import Subscription
from services.tables import AuditEntry, ReminderSchedule
from tests.conftest import Clock, new_actor
from tests.services.conftest import T0, Outbox, dead_letter, signed_in
from web.live import PROJECT_CHANGED, TASK_CHANGED, LiveEvent, LiveHub
from web.live_feed import task_changed_feed

DUE = T0 + timedelta(days=1)


@pytest.fixture(autouse=True)
def at_t0(clock: Clock) -> Clock:
    clock.set(T0)
    return clock


def as_version_1(event: dict[str, Any]) -> dict[str, Any]:
    """The same event as a producer of version 1 wrote it: no project_id or parent_id in the snapshot."""
    old = copy.deepcopy(event)
    old["data"]["schema_version"] = 1
    for name in ("project_id", "parent_id"):
        old["data"]["task"].pop(name)
        old["data"]["changes"].pop(name, None)
    old["id"] = f"{event['id']}-v1"
    old["dataschema"] = old["dataschema"].replace("/v2", "/v1")
    return old


async def test_task_events_carry_a_version_2_snapshot_with_project_and_parent(uow: UnitOfWork, outbox: Outbox) -> None:
    actor = await new_actor(uow)
    work = await create_project(uow, actor, "Work")
    parent = await create_task(uow, actor, TaskCreate(title="Report", project="work"))
    await create_task(uow, actor, TaskCreate(title="Figures", parent_id=parent.id))
    *_, parent_created, child_created = await outbox.new(actor.id, TASK_CREATED)
    assert parent_created["data"]["schema_version"] == 2 and parent_created["dataschema"].endswith("/v2")
    assert parent_created["data"]["task"]["project_id"] == work.id
    assert parent_created["data"]["task"]["parent_id"] is None
    assert child_created["data"]["task"]["parent_id"] == parent.id
    assert child_created["data"]["changes"]["parent_id"] == [None, parent.id]
    assert "subtask_count" not in child_created["data"]["task"]  # counts are about other tasks: not in a snapshot


async def test_a_version_1_event_is_still_consumed_by_every_service(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    actor = await new_actor(uow)
    task = await create_task(uow, actor, TaskCreate(title="Water plants", due_at=DUE, reminders=[30],
                                                    recurrence=RecurrenceSpec(rule="daily")))
    await complete_task(uow, actor, task.id)
    created, completed = (as_version_1(e) for e in await outbox.new(actor.id))
    assert await groups["reminder"].deliver(created) is Outcome.SUCCESS
    async with uow.read() as tx:
        scheduled = (await tx.session.exec(select(ReminderSchedule).where(ReminderSchedule.task_id == task.id))).all()
    assert [r.offset_minutes for r in scheduled] == [30]
    assert await groups["recurrence"].deliver(completed) is Outcome.SUCCESS
    command = await outbox.one(actor.id, NEXT_OCCURRENCE_REQUESTED)
    assert command["data"]["predecessor_id"] == task.id
    assert await groups["audit"].deliver(completed) is Outcome.SUCCESS
    async with uow.read() as tx:
        entry = (await tx.session.exec(select(AuditEntry).where(AuditEntry.event_id == completed["id"]))).one()
    assert entry.type == TASK_COMPLETED and entry.task_id == task.id and "project_id" not in entry.after
    for group in ("reminder", "recurrence", "audit"):
        assert await dead_letter(uow, group, completed["id"]) is None


async def test_a_task_event_of_an_unknown_version_is_dead_lettered(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    actor = await new_actor(uow)
    await create_task(uow, actor, TaskCreate(title="Future"))
    event = await outbox.one(actor.id, TASK_CREATED)
    event["data"]["schema_version"] = 3
    assert await groups["audit"].deliver(event) is Outcome.DROP
    letter = await dead_letter(uow, "audit", event["id"])
    assert letter is not None and "reads 1, 2" in letter.error


async def project_history(uow: UnitOfWork, actor: Actor, outbox: Outbox) -> tuple[int, list[dict[str, Any]]]:
    project = await create_project(uow, actor, "Books")
    await rename_project(uow, actor, project.id, "Reading")
    await create_task(uow, actor, TaskCreate(title="Dune", project=project.id))
    await delete_project(uow, actor, project.id)
    return project.id, await outbox.new(actor.id)


async def test_project_events_are_audited_and_acknowledged_by_the_other_services(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription]
) -> None:
    actor = await new_actor(uow)
    project_id, events = await project_history(uow, actor, outbox)
    for group in ("reminder", "recurrence", "audit"):
        for event in events:
            assert await groups[group].deliver(event) is Outcome.SUCCESS, (group, event["type"])
            assert await dead_letter(uow, group, event["id"]) is None
    async with uow.read() as tx:
        stmt = (select(AuditEntry).where(AuditEntry.user_id == actor.id, col(AuditEntry.type).in_(PROJECT_EVENT_TYPES))
                .order_by(col(AuditEntry.id)))
        entries = list((await tx.session.exec(stmt)).all())
    assert [e.type for e in entries] == [PROJECT_CREATED, PROJECT_RENAMED, PROJECT_DELETED]
    assert {(e.task_id, e.project_id) for e in entries} == {(None, project_id)}
    assert entries[0].before is None and entries[0].after["name"] == "Books"
    assert entries[1].before is not None and entries[1].before["name"] == "Books"
    assert entries[1].after["name"] == "Reading"
    assert entries[2].after["deleted_at"] is not None and entries[2].before is not None
    assert entries[2].before["deleted_at"] is None


async def test_the_audit_log_lists_project_events_without_a_task(
    uow: UnitOfWork, outbox: Outbox, groups: dict[str, Subscription], client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow)
    project_id, events = await project_history(uow, Actor(id=user.id), outbox)
    for event in events:
        assert await groups["audit"].deliver(event) is Outcome.SUCCESS
    response = await client.get("/api/v1/audit", params={"type": "project.renamed"}, headers=user.headers)
    assert response.status_code == 200, response.text
    [entry] = response.json()["data"]
    assert entry["task_id"] is None and entry["project_id"] == project_id and entry["after"]["name"] == "Reading"


class _Hub(LiveHub):
    """The real hub, also keeping what it sent to pages."""

    def __init__(self) -> None:
        super().__init__(ping_seconds=0)
        self.shown: list[tuple[int, str, dict[str, Any]]] = []

    def publish(self, user_id: int, event: str, data: dict[str, Any], *, key: str | None = None) -> LiveEvent | None:
        live = super().publish(user_id, event, data, key=key)
        if live is not None:
            self.shown.append((user_id, event, data))
        return live


async def test_the_live_feed_shows_task_events_of_both_versions_and_project_events(
    uow: UnitOfWork, outbox: Outbox
) -> None:
    actor = await new_actor(uow)
    task = await create_task(uow, actor, TaskCreate(title="Shown"))
    project = await create_project(uow, actor, "Errands")
    created, project_created = await outbox.new(actor.id)
    hub = _Hub()
    feed = task_changed_feed(hub)
    for event in (created, as_version_1(created), project_created):
        await feed(event)
    assert hub.shown == [(actor.id, TASK_CHANGED, {"id": task.id, "type": TASK_CREATED, "version": 1})] * 2 + [
        (actor.id, PROJECT_CHANGED, {"id": project.id, "type": PROJECT_CREATED, "version": 1})]
