"""User isolation through MCP: user B can neither see nor change user A's tasks, tags or projects through any tool
that takes an id, a tag name or a project, single or bulk, nor through task://{id} or project://{id}; B's lists,
searches, tags and resources never show A's data; after every attempt all of A's data is exactly as it was.

A's data is made once per database (every case must leave it unchanged, and each compares before and after);
B is a new user in every test, on a server of his own over the same database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from domain import usecases as uc
from domain.db import Database
from domain.schemas import TaskCreate, TaskQuery
from domain.uow import UnitOfWork
from domain.values import StatusFilter
from tests.conftest import Clock, new_actor
from tests.mcp.conftest import NOW, Servers, Session

SECRET_WORD = "zanzibar"


@dataclass
class Victim:
    """User A and her tasks: open (with every field), completed, in the trash, overdue, due today, and one in her
    project."""

    actor: uc.Actor
    ids: dict[str, int]
    project_id: int


@pytest.fixture(scope="module")
async def victim(database: Database) -> Victim:
    clock = Clock()
    clock.set(NOW)
    uow = UnitOfWork(database, clock)
    actor = await new_actor(uow, "Europe/Berlin")

    async def make(name: str, **fields: Any) -> int:
        task = await uc.create_task(uow, actor, TaskCreate(title=f"Alice's {SECRET_WORD} {name}", **fields))
        return task.id

    ids = {
        "open": await make("plan", description="private", priority="high", tags=["private"],
                           due_at="2026-03-11T09:00", reminders=[10], recurrence={"rule": "weekly"}),
        "done": await make("done", tags=["private"]),
        "trashed": await make("trashed", tags=["private"]),
        "overdue": await make("overdue", due_at="2026-03-09T09:00"),
        "today": await make("today", due_at="2026-03-10T10:00"),
    }
    project = await uc.create_project(uow, actor, f"Alice's {SECRET_WORD} project")
    ids["in_project"] = await make("in a project", project=project.id)
    await uc.complete_task(uow, actor, ids["done"])
    await uc.delete_task(uow, actor, ids["trashed"])
    return Victim(actor=actor, ids=ids, project_id=project.id)


async def everything_of(uow: UnitOfWork, actor: uc.Actor) -> tuple[list[dict[str, Any]], ...]:
    """Every task (trash included, every field), every tag and every project of a user, read past MCP."""
    every_status = [StatusFilter.OPEN, StatusFilter.COMPLETED, StatusFilter.DELETED]
    page = await uc.list_tasks(uow, actor, TaskQuery(status=every_status, limit=100))
    tags = await uc.list_tags(uow, actor)
    projects = await uc.list_projects(uow, actor, include_archived=True)
    return [t.model_dump() for t in page.data], [t.model_dump() for t in tags], [p.model_dump() for p in projects]


@pytest.fixture
async def alice(servers: Servers, uow: UnitOfWork, now: Any, victim: Victim) -> Session:
    return await servers.session(uow, victim.actor)


# (tool, arguments): "{open}", "{done}", "{trashed}" stand for A's ids, "{project}" for A's project's id,
# "{mine}" for a task of B's own.
ATTEMPTS: list[tuple[str, dict[str, Any]]] = [
    ("get_task", {"task_id": "{open}"}),
    ("get_task", {"task_id": "{done}"}),
    ("update_task", {"task_id": "{open}", "title": "mine now"}),
    ("update_task", {"task_id": "{open}", "title": "mine now", "expected_version": 1}),
    ("complete_task", {"task_id": "{open}"}),
    ("complete_task", {"task_ids": ["{open}"]}),
    ("complete_task", {"task_ids": ["{mine}", "{open}"]}),
    ("reopen_task", {"task_id": "{done}"}),
    ("delete_task", {"task_id": "{open}"}),
    ("delete_task", {"task_ids": ["{open}", "{done}"]}),
    ("delete_task", {"task_ids": ["{mine}", "{open}"]}),
    ("restore_task", {"task_id": "{trashed}"}),
    ("set_priority", {"task_id": "{open}", "priority": "low"}),
    ("set_priority", {"task_ids": ["{open}"], "priority": "low"}),
    ("set_priority", {"task_ids": ["{mine}", "{open}"], "priority": "low"}),
    ("add_tags", {"task_id": "{open}", "tags": ["stolen"]}),
    ("add_tags", {"task_ids": ["{open}"], "tags": ["stolen"]}),
    ("add_tags", {"task_ids": ["{mine}", "{open}"], "tags": ["stolen"]}),
    ("remove_tags", {"task_id": "{open}", "tags": ["private"]}),
    ("set_due_date", {"task_id": "{open}", "due_at": "2030-01-01"}),
    ("clear_due_date", {"task_id": "{open}"}),
    ("set_recurrence", {"task_id": "{open}", "rule": "daily"}),
    ("clear_recurrence", {"task_id": "{open}"}),
    ("set_reminders", {"task_id": "{open}", "minutes_before": []}),
    ("rename_tag", {"name": "private", "new_name": "mine"}),
    ("delete_tag", {"name": "private"}),
    ("move_task", {"task_id": "{open}", "project": "Inbox"}),
    ("move_task", {"task_id": "{mine}", "parent_id": "{open}"}),
    ("move_task", {"task_id": "{mine}", "project": "{project}"}),
    ("update_task", {"task_id": "{mine}", "parent_id": "{in_project}"}),
    ("update_task", {"task_id": "{mine}", "project": "{project}"}),
    ("add_task", {"title": "x", "parent_id": "{open}"}),
    ("add_task", {"title": "x", "project": "{project}"}),
    ("list_tasks", {"project": ["{project}"]}),
    ("search_tasks", {"query": SECRET_WORD, "project": ["{project}"]}),
    ("rename_project", {"project": "{project}", "new_name": "mine"}),
    ("archive_project", {"project": "{project}"}),
    ("unarchive_project", {"project": "{project}"}),
    ("delete_project", {"project": "{project}", "tasks": "trash"}),
]


def fill(value: Any, ids: dict[str, int]) -> Any:
    """The arguments with the placeholders replaced by ids."""
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
        return ids[value[1:-1]]
    return value


def case_id(attempt: tuple[str, dict[str, Any]]) -> str:
    tool, args = attempt
    target = args.get("task_ids", args.get("task_id", args.get("name", args.get("project"))))
    if "parent_id" in args or ("project" in args and "task_id" in args):
        target = f"{target}-{args.get('parent_id', args.get('project'))}"
    return f"{tool}-{'+'.join(str(t).strip('{}') for t in target) if isinstance(target, list) else str(target)}"


@pytest.mark.parametrize(("tool", "args"), ATTEMPTS, ids=[case_id(a) for a in ATTEMPTS])
async def test_user_b_can_neither_see_nor_change_user_as_data_through_any_tool(
    uow: UnitOfWork, victim: Victim, alice: Session, bob: Session, tool: str, args: dict[str, Any]
):
    mine = await bob.add("Bob's own", tags=["bobs"])
    before = await everything_of(uow, victim.actor)
    alices_task = await alice.task(victim.ids["open"])

    message = await bob.error(tool, **fill(args, {**victim.ids, "mine": mine["id"], "project": victim.project_id}))

    assert "not found" in message, message
    assert SECRET_WORD not in message and "Alice" not in message
    assert await everything_of(uow, victim.actor) == before
    assert await alice.task(victim.ids["open"]) == alices_task
    assert await bob.task(mine["id"]) == mine


async def test_every_tool_that_takes_an_id_or_a_tag_name_has_an_isolation_case(bob: Session):
    attempted = {tool for tool, _ in ATTEMPTS}
    addressing = {"task_id", "task_ids", "name", "project", "parent_id"}
    takes_an_id = {n for n, t in bob.tools.items() if addressing & set(t.input_schema.get("properties", {}))}
    assert takes_an_id - attempted == {"add_project"}  # its name names the new project, which is B's own
    bulk = {n for n, t in bob.tools.items() if "task_ids" in t.input_schema.get("properties", {})}
    assert bulk <= {tool for tool, args in ATTEMPTS if "task_ids" in args}


@pytest.mark.parametrize("which", ["open", "done", "trashed"])
async def test_user_b_cannot_read_user_as_task_resource(victim: Victim, bob: Session, which: str):
    with pytest.raises(MCPError) as info:
        await bob.client.read_resource(f"task://{victim.ids[which]}")
    assert SECRET_WORD not in str(info.value)


async def test_user_b_cannot_read_user_as_project_resource_nor_see_her_projects(victim: Victim, bob: Session):
    with pytest.raises(MCPError) as info:
        await bob.client.read_resource(f"project://{victim.project_id}")
    assert SECRET_WORD not in str(info.value) and "not found" in str(info.value)
    listed = await bob.ok("list_projects", include_archived=True)
    assert [p["name"] for p in listed.data["data"]] == ["Inbox"] and SECRET_WORD not in listed.text


async def test_user_bs_lists_searches_tags_and_resources_never_show_user_as_data(
    uow: UnitOfWork, victim: Victim, bob: Session
):
    before = await everything_of(uow, victim.actor)
    mine = await bob.add("Bob's own", tags=["bobs"], due_at="2026-03-11T09:00")
    every = await bob.ok("list_tasks", status=["open", "completed", "deleted"], limit=100)
    assert [r["id"] for r in every.data["data"]] == [mine["id"]] and every.data["count"] == 1
    for query in ({"tags": ["private"]}, {"query": SECRET_WORD}, {"overdue": True}, {"due_today": True},
                  {"status": ["completed"]}, {"status": ["deleted"]}):
        page = await bob.ok("list_tasks", **query)
        assert page.data["count"] == 0 and page.data["data"] == [], query
    assert (await bob.ok("search_tasks", query=SECRET_WORD)).data["count"] == 0
    assert (await bob.ok("search_tasks", query="alice")).data["count"] == 0
    assert (await bob.ok("list_tags")).data == {"data": [{"name": "bobs", "count": 1}], "count": 1}
    assert (await bob.ok("whoami")).data["user_id"] == bob.actor.id
    for uri in ("tasks://today", "tasks://overdue", "tasks://upcoming"):
        shown = {row["id"] for row in (await bob.resource(uri))["data"]}
        assert shown.isdisjoint(victim.ids.values()), uri
    assert {row["id"] for row in (await bob.resource("tasks://upcoming"))["data"]} == {mine["id"]}
    assert await everything_of(uow, victim.actor) == before


async def test_user_bs_undo_never_reaches_user_as_changes(uow: UnitOfWork, victim: Victim, alice: Session,
                                                         bob: Session):
    await alice.ok("set_priority", task_id=victim.ids["today"], priority="urgent")
    await alice.ok("set_priority", task_id=victim.ids["today"], priority="none")
    before = await everything_of(uow, victim.actor)
    mine = await bob.add("Bob's own")
    undone = await bob.ok("undo_last_change")
    assert [r["id"] for r in undone.data["data"]] == [mine["id"]]
    assert "no change to undo" in await bob.error("undo_last_change")
    assert await everything_of(uow, victim.actor) == before
