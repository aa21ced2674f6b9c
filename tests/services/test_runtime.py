"""The embedded default as `todo-agent serve` builds it: the lease holder's relay, services and scheduler run in
the web host's lifespan on the real clock, and its open streams end when the lifespan does."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from domain.models import Task
from domain.schemas import RecurrenceSpec, TaskCreate
from domain.usecases import Actor, complete_task, create_task
from runtime.apps import create_app
from runtime.bootstrap import Runtime
from services.audit_log import AuditQuery, list_audit
from tests.hosts import eventually, user_of
from tests.services.streaming import stream

pytestmark = pytest.mark.slow


async def test_the_web_host_runs_the_services_and_the_scheduler_while_it_leads(runtime: Runtime) -> None:
    app: FastAPI = create_app(runtime)
    ada = await user_of(runtime)
    actor = Actor(id=ada.id, timezone="Europe/Berlin")
    async with app.router.lifespan_context(app), stream(app, ada) as reader:
        due = datetime.now(UTC) + timedelta(seconds=2)
        task = await create_task(runtime.uow, actor, TaskCreate(title="Tea", due_at=due, reminders=[0],
                                                                recurrence=RecurrenceSpec(rule="daily")))
        created = await reader.event()
        assert (created.event, json.loads(created.data)["id"]) == ("task.changed", task.id)
        note = await reader.event(timeout=10)
        assert note.event == "notification" and json.loads(note.data)["task_id"] == task.id
        assert datetime.now(UTC) >= due

        await complete_task(runtime.uow, actor, task.id)

        async def successor() -> Task | None:
            async with runtime.uow.read() as tx:
                return (await tx.session.exec(select(Task).where(col(Task.predecessor_id) == task.id))).first()

        succ = await eventually(successor)
        seen = [json.loads((await reader.event()).data) for _ in range(2)]
        assert [s["id"] for s in seen] == [task.id, succ.id]

        async def audited() -> list[dict[str, Any]] | None:
            page = await list_audit(runtime.uow, actor, AuditQuery())
            return [e.model_dump() for e in page.data] if page.count == 3 else None

        trail = await eventually(audited)
    assert [e["task_id"] for e in trail] == [succ.id, task.id, task.id]
    assert runtime.lease.held is False


async def test_open_streams_end_when_the_web_host_stops(runtime: Runtime) -> None:
    app: FastAPI = create_app(runtime)
    ada = await user_of(runtime)
    async with stream(app, ada) as reader:
        async with app.router.lifespan_context(app):
            assert runtime.live.subscribers(ada.id) == 1
        assert await reader.ended(timeout=5)  # the server ended it, not the client
    assert runtime.live.subscribers(ada.id) == 0
