"""Task events: CloudEvents written to the outbox in the use case's transaction, with versioned, exported schemas."""

import json
import uuid

import jsonschema
import pytest
from sqlmodel import col, select

from domain.errors import InvalidInput
from domain.events import SCHEMA_DIR, TASK_COMPLETED, TASK_CREATED, TASK_UPDATED, event_schemas
from domain.models import OutboxEvent
from domain.schemas import TaskCreate, TaskUpdate
from domain.usecases import complete_task, create_task, update_task


async def _events(uow, actor):
    async with uow.read() as tx:
        stmt = select(OutboxEvent).where(OutboxEvent.user_id == actor.id).order_by(col(OutboxEvent.seq))
        return list((await tx.session.exec(stmt)).all())


def test_exported_schema_files_match_the_event_models():
    files = {p.stem: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")}
    assert files == event_schemas(), "run `todo-agent events schemas` to re-export"


async def test_creating_a_task_writes_one_cloudevent_with_snapshot_and_changes(uow, actor):
    task = await create_task(uow, actor, TaskCreate(title="Pay rent", priority="high"))
    [row] = await _events(uow, actor)
    event = row.payload
    assert event["specversion"] == "1.0" and uuid.UUID(event["id"]) and event["id"] == row.event_id
    assert event["type"] == TASK_CREATED and row.topic == "tasks" and row.key == str(actor.id)
    assert event["subject"] == str(task.id) and event["source"] == "todo-agent/web"
    assert event["data"]["schema_version"] == 2 and event["data"]["user_id"] == actor.id
    assert event["data"]["task"]["title"] == "Pay rent"
    assert event["data"]["changes"]["priority"] == [None, "high"]
    jsonschema.validate(event["data"], event_schemas()[f"{TASK_CREATED}.v2"])


async def test_an_update_records_old_and_new_values_of_only_the_changed_fields(uow, actor):
    task = await create_task(uow, actor, TaskCreate(title="Draft", tags=["work"]))
    await update_task(uow, actor, task.id, TaskUpdate(title="Final", priority="low"))
    await complete_task(uow, actor, task.id)
    rows = await _events(uow, actor)
    assert [r.type for r in rows] == [TASK_CREATED, TASK_UPDATED, TASK_COMPLETED]
    changes = rows[1].payload["data"]["changes"]
    assert changes == {"title": ["Draft", "Final"], "priority": ["none", "low"]}
    assert rows[2].payload["data"]["changes"]["status"] == ["open", "completed"]
    for row in rows:
        jsonschema.validate(row.payload["data"], event_schemas()[f"{row.type}.v2"])


async def test_a_change_that_changes_nothing_writes_no_event_and_keeps_the_version(uow, actor):
    task = await create_task(uow, actor, TaskCreate(title="Same"))
    again = await update_task(uow, actor, task.id, TaskUpdate(title="Same"))
    assert again.version == task.version
    assert len(await _events(uow, actor)) == 1


async def test_a_failing_use_case_writes_no_event(uow, actor):
    task = await create_task(uow, actor, TaskCreate(title="Keep"))
    with pytest.raises(InvalidInput):
        await update_task(uow, actor, task.id, TaskUpdate(title="ok", priority="galactic"))
    assert len(await _events(uow, actor)) == 1
