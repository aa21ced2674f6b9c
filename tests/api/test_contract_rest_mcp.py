"""The same operations through REST and through MCP leave identical database state (one use-case layer)."""

from __future__ import annotations

from typing import Any

from mcp import Client
from sqlmodel import col, select

from domain.models import OutboxEvent, Tag, Task, TaskTag
from mcp_server import McpPorts, build_server
from tests.api.conftest import SECRET

T = "/api/v1/tasks"
QUICK = "Buy stamps dec 5 at 9am p2 #errands every week"  # a date that moves once a year, not at midnight
_VOLATILE = {"id", "owner_id", "created_at", "updated_at", "completed_at", "deleted_at", "series_id",
             "predecessor_id"}


async def _via_rest(client, headers) -> None:
    a = (await client.post(T, json={"title": "Water plants", "priority": "low", "tags": ["Home"],
                                     "due_at": "2026-12-01T08:00", "reminders": [15]}, headers=headers)).json()
    b = (await client.post(T, json={"title": "File taxes", "description": "before the 31st"}, headers=headers)).json()
    await client.post(f"{T}/quick", json={"text": QUICK}, headers=headers)
    await client.patch(f"{T}/{a['id']}", json={"title": "Water the plants", "recurrence": {"rule": "every 3 days"}},
                       headers=headers)
    await client.post(f"{T}/bulk", json={"action": "set_priority", "ids": [a["id"], b["id"]], "priority": "high"},
                      headers=headers)
    await client.post(f"{T}/bulk", json={"action": "add_tags", "ids": [b["id"]], "tags": ["money", "q4"]},
                      headers=headers)
    await client.post(f"{T}/{b['id']}/complete", headers=headers)
    await client.post(f"{T}/{b['id']}/reopen", headers=headers)
    await client.delete(f"{T}/{a['id']}", headers=headers)
    await client.post(f"{T}/{a['id']}/restore", headers=headers)
    await client.patch("/api/v1/tags/q4", json={"name": "quarter"}, headers=headers)
    await client.post("/api/v1/undo", headers=headers)


async def _via_mcp(mcp: Client) -> None:
    async def call(tool: str, **args: Any) -> dict[str, Any]:
        result = await mcp.call_tool(tool, args)
        assert not result.is_error, result.content
        return result.structured_content or {}

    a = await call("add_task", title="Water plants", priority="low", tags=["Home"], due_at="2026-12-01T08:00",
                   reminders=[15])
    b = await call("add_task", title="File taxes", description="before the 31st")
    await call("quick_add", text=QUICK)
    await call("update_task", task_id=a["id"], title="Water the plants", recurrence="every 3 days")
    await call("set_priority", task_ids=[a["id"], b["id"]], priority="high")
    await call("add_tags", task_ids=[b["id"]], tags=["money", "q4"])
    await call("complete_task", task_id=b["id"])
    await call("reopen_task", task_id=b["id"])
    await call("delete_task", task_id=a["id"])
    await call("restore_task", task_id=a["id"])
    await call("rename_tag", name="q4", new_name="quarter")
    await call("undo_last_change")


async def _state(uow, user_id: int) -> dict[str, Any]:
    async with uow.read() as tx:
        tasks = (await tx.session.exec(select(Task).where(Task.owner_id == user_id).order_by(col(Task.id)))).all()
        tags = (await tx.session.exec(
            select(Task.title, Tag.name).join(TaskTag, col(TaskTag.task_id) == Task.id)
            .join(Tag, col(Tag.id) == TaskTag.tag_id).where(Task.owner_id == user_id).order_by(Task.title, Tag.name)
        )).all()
        events = (await tx.session.exec(
            select(OutboxEvent).where(OutboxEvent.user_id == user_id).order_by(col(OutboxEvent.seq))
        )).all()
    return {
        "tasks": [{k: v for k, v in t.model_dump().items() if k not in _VOLATILE} for t in tasks],
        "flags": [(t.completed_at is None, t.deleted_at is None) for t in tasks],
        "tags": list(tags),
        "events": [(e.type, sorted(e.payload["data"]["changes"])) for e in events],
    }


async def test_the_same_operations_through_rest_and_mcp_leave_identical_state(client, uow, alice, bob):
    await _via_rest(client, alice.headers)
    server = build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=bob.id))
    await _set_timezone(uow, bob.id, "Europe/Berlin")  # alice's timezone, so local dates mean the same instants
    async with Client(server) as mcp:
        await _via_mcp(mcp)
    rest, via_mcp = await _state(uow, alice.id), await _state(uow, bob.id)
    assert rest["tasks"] and rest == via_mcp


async def _set_timezone(uow, user_id: int, timezone: str) -> None:
    from domain.usecases import Actor, set_timezone

    await set_timezone(uow, Actor(id=user_id), timezone)
