"""The same operations through REST and through MCP answer alike (REST status, MCP error; the same refusal in the
same words; the same values where the answers share a shape) and leave identical database state (one use-case
layer)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from mcp import Client
from sqlmodel import col, select

from domain.models import OutboxEvent, Project, Tag, Task, TaskTag
from mcp_server import McpPorts, build_server
from mcp_server.errors import finish
from tests.api.conftest import SECRET

T = "/api/v1/tasks"
P = "/api/v1/projects"
QUICK = "Buy stamps dec 5 at 9am p2 #errands every week"  # a date that moves once a year, not at midnight
UNKNOWN = 999_999_999  # a valid id no task has
_VOLATILE = {"id", "owner_id", "created_at", "updated_at", "completed_at", "deleted_at", "series_id",
             "predecessor_id", "project_id", "parent_id"}  # the last two are compared by name and title


@dataclass(frozen=True)
class Ref:
    """The id of a task an earlier step created (`save=`), filled in when the step runs."""

    name: str


A, B = Ref("a"), Ref("b")
SHOP, MILK, OAT, INBOX = Ref("shop"), Ref("milk"), Ref("oat"), Ref("inbox")


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
    same: tuple[str, str] | None = None  # a value both answers must hold alike: (REST path, MCP path), see _pick


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
    # projects and subtasks (issue 17)
    Step("POST", (P,), {"name": "Shopping", "colour": "#22C55E"}, 201,
         "add_project", {"name": "Shopping", "colour": "#22C55E"}, save="shop", same=("colour", "colour")),
    Step("POST", (P,), {"name": "shopping"}, 409, "add_project", {"name": "shopping"}),
    Step("POST", (P,), {"name": "Paint", "colour": "red"}, 422, "add_project", {"name": "Paint", "colour": "red"}),
    Step("POST", (T,), {"title": "Milk", "project": "shopping"}, 201,
         "add_task", {"title": "Milk", "project": "shopping"}, save="milk"),
    Step("POST", (T,), {"title": "Oat milk", "parent_id": MILK}, 201,
         "add_task", {"title": "Oat milk", "parent_id": MILK}, save="oat"),
    Step("POST", (T,), {"title": "Lost", "project": "Nowhere"}, 404,
         "add_task", {"title": "Lost", "project": "Nowhere"}),
    Step("POST", (T, MILK, "complete"), None, 409, "complete_task", {"task_id": MILK}),
    Step("POST", (T, MILK, "move"), {"parent_id": OAT}, 422, "move_task", {"task_id": MILK, "parent_id": OAT}),
    Step("POST", (T, B, "move"), {"project": SHOP}, 200, "move_task", {"task_id": B, "project": SHOP},
         same=("title", "title")),
    Step("PATCH", (P, SHOP), {"name": "Groceries"}, 200, "rename_project", {"project": SHOP, "new_name": "Groceries"},
         same=("name", "name")),
    Step("PATCH", (P, INBOX), {"name": "Later"}, 422, "rename_project", {"project": INBOX, "new_name": "Later"}),
    Step("POST", (P, INBOX, "archive"), None, 422, "archive_project", {"project": INBOX}),
    Step("POST", (P, SHOP, "archive"), None, 200, "archive_project", {"project": SHOP}, same=("archived", "archived")),
    Step("POST", (T,), {"title": "Late", "project": SHOP}, 409, "add_task", {"title": "Late", "project": SHOP}),
    Step("POST", (P, SHOP, "unarchive"), None, 200, "unarchive_project", {"project": SHOP},
         same=("open_count", "open_count")),
    Step("GET", (T,), {"project": "Groceries", "top_level": "false"}, 200,
         "list_tasks", {"project": ["Groceries"], "top_level": False}, same=("data[].title", "data[].title")),
    Step("GET", (P,), None, 200, "list_projects", {}, same=("[].open_count", "data[].open_count")),
    Step("POST", (T, MILK, "complete"), {"subtasks": "complete"}, 200,
         "complete_task", {"task_id": MILK, "subtasks": "complete"}),
    Step("DELETE", (P, SHOP), {"tasks": "inbox"}, 200, "delete_project", {"project": SHOP, "tasks": "inbox"},
         same=("moved", "moved")),
    Step("POST", ("/api/v1/undo",), None, 200, "undo_last_change", {}, same=("projects[].name", "projects[].name")),
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


def _pick(body: Any, path: str) -> Any:
    """The value at `path` ('name', 'data[].title', '[].open_count', 'projects[].name') of an answer."""
    head, _, rest = path.partition("[].")
    if not rest:
        return body[head]
    items = body[head] if head else body
    return [item[rest] for item in items]


def _named(message: str, ids: dict[str, int]) -> str:
    """A refusal with the ids of this user's tasks and projects replaced by their step names (`task <milk>`)."""
    by_id = {str(v): f"<{k}>" for k, v in ids.items()}
    return re.sub(r"(?<=task )\d+|(?<=project )\d+", lambda m: by_id.get(m.group(), m.group()), message)


def _send(client: httpx.AsyncClient, step: Step, path: str, body: Any, headers: dict[str, str]) -> Any:
    """The REST request of a step: a GET's or a DELETE's body is its query string."""
    if step.method in ("GET", "DELETE") and body is not None:
        return client.request(step.method, path, params=body, headers=headers)
    return client.request(step.method, path, json=body, headers=headers)


async def _via_rest(client, headers) -> list[Any]:
    """Each step's outcome: the value `same` names, or the refusal's sentence."""
    ids: dict[str, int] = {"inbox": (await client.get(P, headers=headers)).json()[0]["id"]}
    outcomes = []
    for step in STEPS:
        path = "/".join(str(_fill(part, ids)) for part in step.path)
        response = await _send(client, step, path, _fill(step.body, ids), headers)
        assert response.status_code == step.status, f"{step.method} {path}: {response.text}"
        if step.save:
            ids[step.save] = response.json()["id"]
        body = response.json()
        if step.status >= 400:
            outcomes.append(_named(finish(body["detail"]), ids))
        else:
            outcomes.append(_pick(body, step.same[0]) if step.same else None)
    return outcomes


async def _via_mcp(mcp: Client) -> list[Any]:
    ids: dict[str, int] = {"inbox": ((await mcp.call_tool("list_projects", {})).structured_content or {})["data"][0]
                           ["id"]}
    outcomes = []
    for step in STEPS:
        args = _fill(step.args, ids)
        result = await mcp.call_tool(step.tool, args)
        assert result.is_error == (step.status >= 400), f"{step.tool}({args}): {result.content}"
        if step.save:
            ids[step.save] = (result.structured_content or {})["id"]
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        answer = result.structured_content
        outcomes.append(_named(text, ids) if result.is_error else _pick(answer, step.same[1]) if step.same else None)
    return outcomes


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
        projects = (await tx.session.exec(select(Project).where(Project.owner_id == user_id)
                                          .order_by(col(Project.id)))).all()
    names = {p.id: p.name for p in projects}
    titles = {t.id: t.title for t in tasks}
    return {
        "tasks": [{k: v for k, v in t.model_dump().items() if k not in _VOLATILE} for t in tasks],
        "placement": [(t.title, names[t.project_id], titles.get(t.parent_id)) for t in tasks],
        "projects": [(p.name, p.colour, p.is_inbox, p.archived_at is None, p.deleted_at is None, p.version)
                     for p in projects],
        "flags": [(t.completed_at is None, t.deleted_at is None) for t in tasks],
        "tags": list(tags),
        "events": [(e.type, sorted(e.payload["data"]["changes"])) for e in events],
    }


async def test_the_same_operations_through_rest_and_mcp_leave_identical_state(client, uow, alice, bob):
    rest_outcomes = await _via_rest(client, alice.headers)
    server = build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=bob.id))
    await _set_timezone(uow, bob.id, "Europe/Berlin")  # alice's timezone, so local dates mean the same instants
    async with Client(server) as mcp:
        mcp_outcomes = await _via_mcp(mcp)
    rest, via_mcp = await _state(uow, alice.id), await _state(uow, bob.id)
    assert rest["tasks"] and rest == via_mcp
    assert len(rest["projects"]) == 2 and rest["projects"][1][4], "the deleted project is back after the undo"
    for step, in_rest, in_mcp in zip(STEPS, rest_outcomes, mcp_outcomes, strict=True):
        if step.status >= 400:  # the same refusal in the same words (MCP may add how to go on, after them)
            assert in_mcp.startswith(in_rest), (step.tool, in_rest, in_mcp)
        else:
            assert in_rest == in_mcp, (step.tool, in_rest, in_mcp)


async def _set_timezone(uow, user_id: int, timezone: str) -> None:
    from domain.usecases import Actor, set_timezone

    await set_timezone(uow, Actor(id=user_id), timezone)
