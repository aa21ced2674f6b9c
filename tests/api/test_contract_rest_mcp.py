"""The same operations through REST and through MCP answer alike (REST status, MCP error) and leave identical
database state (one use-case layer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp import Client
from sqlmodel import col, select

from domain.models import OutboxEvent, Tag, Task, TaskTag
from mcp_server import McpPorts, build_server
from tests.api.conftest import SECRET

T = "/api/v1/tasks"
QUICK = "Buy stamps dec 5 at 9am p2 #errands every week"  # a date that moves once a year, not at midnight
UNKNOWN = 999_999_999  # a valid id no task has
_VOLATILE = {"id", "owner_id", "created_at", "updated_at", "completed_at", "deleted_at", "series_id",
             "predecessor_id"}


@dataclass(frozen=True)
class Ref:
    """The id of a task an earlier step created (`save=`), filled in when the step runs."""

    name: str


A, B = Ref("a"), Ref("b")


@dataclass(frozen=True)
class Step:
    """One operation on both surfaces: the REST request and the status it must answer, and the same MCP call
    (which must fail exactly when REST answers 4xx)."""

    method: str
    path: tuple[str | Ref, ...]
    body: dict[str, Any] | None
    status: int
    tool: str
    args: dict[str, Any]
    save: str | None = None


STEPS = [
    Step("POST", (T,), {"title": "Water plants", "priority": "low", "tags": ["Home"], "due_at": "2026-12-01T08:00",
                        "reminders": [15]}, 201,
         "add_task", {"title": "Water plants", "priority": "low", "tags": ["Home"], "due_at": "2026-12-01T08:00",
                      "reminders": [15]}, save="a"),
    Step("POST", (T,), {"title": "File taxes", "description": "before the 31st"}, 201,
         "add_task", {"title": "File taxes", "description": "before the 31st"}, save="b"),
    Step("POST", (T, "quick"), {"text": QUICK}, 201, "quick_add", {"text": QUICK}),
    Step("PATCH", (T, A), {"title": "Water the plants", "recurrence": {"rule": "every 3 days"}}, 200,
         "update_task", {"task_id": A, "title": "Water the plants", "recurrence": "every 3 days"}),
    Step("PATCH", (T, A), {"title": ""}, 422, "update_task", {"task_id": A, "title": ""}),
    Step("POST", (T, "bulk"), {"action": "set_priority", "ids": [A, B], "priority": "high"}, 200,
         "set_priority", {"task_ids": [A, B], "priority": "high"}),
    Step("POST", (T, "bulk"), {"action": "add_tags", "ids": [B], "tags": ["money", "q4"]}, 200,
         "add_tags", {"task_ids": [B], "tags": ["money", "q4"]}),
    Step("POST", (T, B, "complete"), None, 200, "complete_task", {"task_id": B}),
    Step("POST", (T, UNKNOWN, "complete"), None, 404, "complete_task", {"task_id": UNKNOWN}),
    Step("POST", (T, B, "reopen"), None, 200, "reopen_task", {"task_id": B}),
    Step("DELETE", (T, A), None, 200, "delete_task", {"task_id": A}),
    Step("POST", (T, A, "restore"), None, 200, "restore_task", {"task_id": A}),
    Step("PATCH", ("/api/v1/tags", "q4"), {"name": "quarter"}, 200,
         "rename_tag", {"name": "q4", "new_name": "quarter"}),
    Step("POST", ("/api/v1/undo",), None, 200, "undo_last_change", {}),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    """`value` with every Ref replaced by the id it names."""
    if isinstance(value, Ref):
        return ids[value.name]
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


async def _via_rest(client, headers) -> None:
    ids: dict[str, int] = {}
    for step in STEPS:
        path = "/".join(str(_fill(part, ids)) for part in step.path)
        response = await client.request(step.method, path, json=_fill(step.body, ids), headers=headers)
        assert response.status_code == step.status, f"{step.method} {path}: {response.text}"
        if step.save:
            ids[step.save] = response.json()["id"]


async def _via_mcp(mcp: Client) -> None:
    ids: dict[str, int] = {}
    for step in STEPS:
        args = _fill(step.args, ids)
        result = await mcp.call_tool(step.tool, args)
        assert result.is_error == (step.status >= 400), f"{step.tool}({args}): {result.content}"
        if step.save:
            ids[step.save] = (result.structured_content or {})["id"]


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
