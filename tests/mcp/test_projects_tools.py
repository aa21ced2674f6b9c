"""Project tools (list, add, rename, archive, unarchive, delete), move_task, the project and subtask arguments of
the task tools, and the project:// resource, through an in-process MCP client on SQLite and PostgreSQL. Every
refusal is a tool error that says how to fix the call and leaves everything as it was."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.shared.exceptions import MCPError

from tests.mcp.conftest import COMPACT_ROW, UNKNOWN, Session


async def projects(me: Session, **args: Any) -> list[dict[str, Any]]:
    return list((await me.ok("list_projects", **args)).data["data"])


async def project_named(me: Session, name: str) -> dict[str, Any]:
    (found,) = [p for p in await projects(me, include_archived=True) if p["name"] == name]
    return found


async def titles(me: Session, **query: Any) -> list[str]:
    return sorted(row["title"] for row in (await me.ok("list_tasks", **query)).data["data"])


# --- list_projects, add_project, rename_project -------------------------------------------------------------------


async def test_a_new_user_has_the_inbox_and_add_project_lists_after_it(me: Session):
    assert [(p["name"], p["is_inbox"]) for p in await projects(me)] == [("Inbox", True)]
    reply = await me.ok("add_project", name="Shopping", colour="#22C55E")
    assert (reply.data["name"], reply.data["colour"], reply.data["version"]) == ("Shopping", "#22c55e", 1)
    assert "Shopping" in reply.text and f"#{reply.data['id']}" in reply.text
    await me.ok("add_project", name="errands")
    listed = await me.ok("list_projects")
    assert [p["name"] for p in listed.data["data"]] == ["Inbox", "errands", "Shopping"]
    assert set(listed.data["data"][0]) == {"id", "name", "colour", "is_inbox", "archived", "open_count", "version"}
    assert "Shopping" in listed.text and "errands" in listed.text


@pytest.mark.parametrize(("args", "words"), [
    ({"name": "SHOPPING"}, ["already have a project named", "choose another name"]),
    ({"name": "  "}, ["must not be empty"]),
    ({"name": "x" * 101}, ["at most 100 characters"]),
    ({"name": "Red", "colour": "red"}, ["#rrggbb", "'#3b82f6'"]),
    ({"name": "Red", "colour": "#f00"}, ["#rrggbb"]),
], ids=["duplicate", "blank", "too-long", "colour-word", "colour-short"])
async def test_a_bad_new_project_is_a_tool_error_that_says_what_to_do(me: Session, args, words):
    await me.ok("add_project", name="Shopping")
    message = await me.error("add_project", **args)
    for word in words:
        assert word in message, message
    assert [p["name"] for p in await projects(me)] == ["Inbox", "Shopping"]


async def test_rename_project_by_name_or_id_and_its_refusals(me: Session):
    shop = (await me.ok("add_project", name="Shopping")).data
    await me.ok("add_project", name="Work")
    renamed = await me.ok("rename_project", project="shopping", new_name="Groceries", expected_version=1)
    assert (renamed.data["name"], renamed.data["version"]) == ("Groceries", 2)
    assert "Groceries" in renamed.text
    assert (await me.ok("rename_project", project=shop["id"], new_name="Food")).data["name"] == "Food"
    assert "version" in await me.error("rename_project", project="Food", new_name="Old", expected_version=1)
    assert "already have a project named 'work'" in await me.error("rename_project", project="Food", new_name="work")
    assert "Inbox cannot be renamed" in await me.error("rename_project", project="Inbox", new_name="Later")
    assert [p["name"] for p in await projects(me)] == ["Inbox", "Food", "Work"]


async def test_a_stale_project_version_says_to_read_list_projects(me: Session):
    await me.ok("add_project", name="Trip")
    await me.ok("rename_project", project="Trip", new_name="Journey")
    message = await me.error("archive_project", project="Journey", expected_version=1)
    assert "list_projects" in message and "get_task" not in message


# --- unknown and foreign projects ---------------------------------------------------------------------------------


async def test_an_unknown_project_lists_the_users_projects_and_the_closest_name(me: Session):
    shop = (await me.ok("add_project", name="Shopping")).data
    message = await me.error("add_task", title="Milk", project="Shoping")
    assert "project 'Shoping' not found" in message
    assert "Did you mean 'Shopping'?" in message
    assert f"Shopping ({shop['id']})" in message and "Inbox (" in message
    assert await titles(me) == []


@pytest.mark.parametrize(("tool", "args"), [
    ("add_task", {"title": "x", "project": "{p}"}),
    ("list_tasks", {"project": ["{p}"]}),
    ("search_tasks", {"query": "x", "project": ["{p}"]}),
    ("rename_project", {"project": "{p}", "new_name": "Mine"}),
    ("archive_project", {"project": "{p}"}),
    ("unarchive_project", {"project": "{p}"}),
    ("delete_project", {"project": "{p}"}),
    ("move_task", {"task_id": "{t}", "project": "{p}"}),
    ("update_task", {"task_id": "{t}", "project": "{p}"}),
], ids=lambda v: v if isinstance(v, str) else None)
@pytest.mark.parametrize("whose", ["bobs", "unknown"])
async def test_another_users_project_is_not_found_on_every_tool(me: Session, bob: Session, tool, args, whose):
    bobs = (await bob.ok("add_project", name="Bob's secret")).data
    task = await me.add("Mine")
    target = bobs["id"] if whose == "bobs" else UNKNOWN
    filled = {k: (target if v == "{p}" else [target] if v == ["{p}"] else task["id"] if v == "{t}" else v)
              for k, v in args.items()}
    message = await me.error(tool, **filled)
    assert f"project {target} not found" in message and "Bob" not in message
    assert await me.task(task["id"]) == task
    assert (await bob.ok("list_projects")).data["data"][1]["name"] == "Bob's secret"


async def test_another_users_project_name_is_not_found_and_not_shown(me: Session, bob: Session):
    await bob.ok("add_project", name="Surprise party")
    message = await me.error("list_tasks", project=["surprise party"])
    assert "project 'surprise party' not found" in message and "Surprise party" not in message


async def test_a_quoted_number_is_a_project_name(me: Session):
    project = (await me.ok("add_project", name="2026")).data
    assert (await me.add("Plan", project="2026"))["project_id"] == project["id"]
    assert f"project {project['id'] + 1000} not found" in await me.error("add_task", title="x",
                                                                        project=project["id"] + 1000)


# --- archive, unarchive, delete -----------------------------------------------------------------------------------


async def test_an_archived_project_takes_no_tasks_until_unarchive_project(me: Session):
    trip = (await me.ok("add_project", name="Trip")).data
    kept = await me.add("Pack", project="Trip")
    loose = await me.add("Loose")
    archived = await me.ok("archive_project", project="Trip", expected_version=1)
    assert archived.data["archived"] is True and "archived" in archived.text
    assert [p["name"] for p in await projects(me)] == ["Inbox"]
    assert [p["name"] for p in await projects(me, include_archived=True)] == ["Inbox", "Trip"]
    message = await me.error("add_task", title="x", project="Trip")
    assert "archived" in message and "unarchive_project" in message
    assert "archived" in await me.error("move_task", task_id=loose["id"], project=trip["id"])
    assert (await me.task(kept["id"]))["project_id"] == trip["id"]
    assert (await me.ok("unarchive_project", project=trip["id"])).data["archived"] is False
    assert (await me.ok("move_task", task_id=loose["id"], project="trip")).data["project_id"] == trip["id"]


@pytest.mark.parametrize("tool", ["archive_project", "delete_project"])
async def test_the_inbox_cannot_be_archived_or_deleted(me: Session, tool):
    message = await me.error(tool, project="inbox")
    assert "Inbox cannot be" in message and "add_project" in message
    assert await projects(me) == await projects(me, include_archived=True)


async def test_delete_project_moves_its_tasks_to_the_inbox_and_undo_brings_it_back(me: Session):
    trip = (await me.ok("add_project", name="Trip")).data
    parent = await me.add("Plan trip", project="Trip")
    step = await me.add("Book flights", parent_id=parent["id"])
    gone = await me.ok("delete_project", project="Trip")
    assert (gone.data["moved"], gone.data["trashed"], gone.data["project"]["id"]) == (2, 0, trip["id"])
    assert "moved 2 task(s) to the Inbox" in gone.text
    inbox = await project_named(me, "Inbox")
    assert (await me.task(step["id"]))["project_id"] == inbox["id"]
    assert (await me.task(step["id"]))["parent_id"] == parent["id"]
    assert "not found" in await me.error("rename_project", project="Trip", new_name="Again")
    undone = await me.ok("undo_last_change")
    assert [p["name"] for p in undone.data["projects"]] == ["Trip"] and "Trip" in undone.text
    assert (await me.task(parent["id"]))["project_id"] == trip["id"]
    assert (await project_named(me, "Trip"))["open_count"] == 2


async def test_delete_project_with_tasks_trash_trashes_them(me: Session):
    await me.ok("add_project", name="Old")
    await me.add("One", project="Old")
    await me.add("Two", project="Old")
    gone = await me.ok("delete_project", project="Old", tasks="trash")
    assert (gone.data["moved"], gone.data["trashed"]) == (0, 2) and "trashed 2" in gone.text
    assert await titles(me, status=["deleted"]) == ["One", "Two"]
    assert "inbox, trash" in await me.error("delete_project", project="Inbox", tasks="bin")


# --- tasks with projects and subtasks -----------------------------------------------------------------------------


async def test_task_rows_and_tasks_carry_project_parent_and_subtask_counts(me: Session):
    inbox = await project_named(me, "Inbox")
    parent = await me.add("Plan trip")
    assert (parent["project_id"], parent["parent_id"], parent["subtask_count"]) == (inbox["id"], None, 0)
    child = await me.add("Book flights", parent_id=parent["id"])
    await me.add("Book hotel", parent_id=parent["id"])
    await me.ok("complete_task", task_id=child["id"])
    rows = {r["title"]: r for r in (await me.ok("list_tasks")).data["data"]}
    assert set(rows["Plan trip"]) == COMPACT_ROW
    assert (rows["Plan trip"]["subtask_count"], rows["Plan trip"]["open_subtask_count"]) == (2, 1)
    assert rows["Book flights"]["parent_id"] == parent["id"]
    listing = (await me.ok("list_tasks")).text
    assert "1 of 2 subtasks open" in listing and f"subtask of #{parent['id']}" in listing
    got = await me.ok("get_task", task_id=parent["id"])
    assert [s["title"] for s in got.data["subtasks"]] == ["Book flights", "Book hotel"]
    assert "Book flights (completed)" in got.text and "Book hotel (open)" in got.text


async def test_list_tasks_filters_by_project_parent_and_level_and_search_by_project(me: Session):
    await me.ok("add_project", name="Home")
    work = (await me.ok("add_project", name="Work")).data
    parent = await me.add("Clean house", project="Home")
    await me.add("Clean kitchen", parent_id=parent["id"])
    await me.add("Clean desk", project=work["id"])
    await me.add("Loose")
    assert await titles(me, project=["home"]) == ["Clean house", "Clean kitchen"]
    assert await titles(me, project=["Home", work["id"]]) == ["Clean desk", "Clean house", "Clean kitchen"]
    assert await titles(me, parent_id=parent["id"]) == ["Clean kitchen"]
    assert await titles(me, top_level=True) == ["Clean desk", "Clean house", "Loose"]
    assert await titles(me, top_level=False) == ["Clean kitchen"]
    found = (await me.ok("search_tasks", query="clean", project=["Work"])).data["data"]
    assert [r["title"] for r in found] == ["Clean desk"]
    assert "at most 20 projects per call" in await me.error("list_tasks", project=[f"p{i}" for i in range(21)])


async def test_a_bad_parent_is_a_tool_error_naming_parent_id(me: Session, bob: Session):
    theirs = await bob.add("Bob's")
    for parent_id in (theirs["id"], UNKNOWN):
        message = await me.error("add_task", title="x", parent_id=parent_id)
        assert f"parent task {parent_id} not found" in message and "top-level" in message
    await me.ok("add_project", name="Work")
    inboxed = await me.add("In the Inbox")
    assert "another project" in await me.error("add_task", title="x", parent_id=inboxed["id"], project="Work")
    assert await titles(me) == ["In the Inbox"]


async def test_depth_four_and_cycles_are_refused_by_add_and_move(me: Session):
    one = await me.add("1")
    two = await me.add("2", parent_id=one["id"])
    three = await me.add("3", parent_id=two["id"])
    assert "at most 3 levels" in await me.error("add_task", title="4", parent_id=three["id"])
    assert "cycle" in await me.error("move_task", task_id=one["id"], parent_id=three["id"])
    assert "cycle" in await me.error("move_task", task_id=one["id"], parent_id=one["id"])
    pair = await me.add("pair")
    await me.add("pair child", parent_id=pair["id"])
    assert "deeper than 3" in await me.error("move_task", task_id=pair["id"], parent_id=two["id"])
    assert (await me.task(pair["id"]))["parent_id"] is None and (await me.task(one["id"]))["parent_id"] is None


async def test_move_task_to_a_project_under_a_parent_and_back_to_the_top(me: Session):
    work = (await me.ok("add_project", name="Work")).data
    parent = await me.add("Report")
    child = await me.add("Draft", parent_id=parent["id"])
    moved = await me.ok("move_task", task_id=parent["id"], project="Work", expected_version=1)
    assert (moved.data["project_id"], moved.data["version"]) == (work["id"], 2) and "Moved" in moved.text
    assert (await me.task(child["id"]))["project_id"] == work["id"]
    host = await me.add("Quarter", project=work["id"])
    assert (await me.ok("move_task", task_id=parent["id"], parent_id=host["id"])).data["parent_id"] == host["id"]
    top = (await me.ok("move_task", task_id=parent["id"], top_level=True)).data
    assert (top["parent_id"], top["project_id"]) == (None, work["id"])
    under = (await me.ok("update_task", task_id=parent["id"], parent_id=host["id"], title="Q report")).data
    assert (under["title"], under["parent_id"]) == ("Q report", host["id"])
    assert (await me.ok("update_task", task_id=parent["id"], project="Inbox")).data["parent_id"] is None


@pytest.mark.parametrize(("args", "words"), [
    ({}, ["say where to", "move_task(task_id=42, project='Shopping')"]),
    ({"parent_id": 1, "top_level": True}, ["not both"]),
    ({"project": "Inbox", "expected_version": 9}, ["version"]),
], ids=["nowhere", "parent-and-top", "stale"])
async def test_a_move_that_says_nothing_or_contradicts_itself_is_refused(me: Session, args, words):
    task = await me.add("Stay")
    message = await me.error("move_task", task_id=task["id"], **args)
    for word in words:
        assert word in message, message
    assert await me.task(task["id"]) == task


async def test_complete_task_refuses_open_subtasks_unless_told_to_complete_them(me: Session):
    parent = await me.add("Plan trip")
    child = await me.add("Book flights", parent_id=parent["id"])
    message = await me.error("complete_task", task_id=parent["id"])
    assert "1 open subtask" in message and "subtasks='complete'" in message
    assert (await me.task(parent["id"]))["status"] == "open"
    assert "refuse, complete" in await me.error("complete_task", task_id=parent["id"], subtasks="all")
    done = await me.ok("complete_task", task_id=parent["id"], subtasks="complete")
    assert done.data["data"][0]["status"] == "completed"
    assert (await me.task(child["id"]))["status"] == "completed"


async def test_bulk_complete_counts_subtasks_in_the_same_call_and_takes_subtasks_complete(me: Session):
    parent = await me.add("Parent")
    child = await me.add("Child", parent_id=parent["id"])
    other = await me.add("Other")
    other_child = await me.add("Other's child", parent_id=other["id"])
    assert "open subtask" in await me.error("complete_task", task_ids=[parent["id"], other["id"]])
    assert (await me.ok("complete_task", task_ids=[parent["id"], child["id"]])).data["count"] == 2
    await me.ok("complete_task", task_ids=[other["id"]], subtasks="complete")
    assert (await me.task(other_child["id"]))["status"] == "completed"


# --- the project:// resource --------------------------------------------------------------------------------------


async def test_the_project_resource_shows_the_project_and_its_open_tasks(me: Session):
    templates = {t.uri_template for t in (await me.client.list_resource_templates()).resource_templates}
    assert "project://{project_id}" in templates
    trip = (await me.ok("add_project", name="Trip", colour="#123456")).data
    pack = await me.add("Pack", project="Trip")
    done = await me.add("Visa", project="Trip")
    await me.ok("complete_task", task_id=done["id"])
    await me.add("Elsewhere")
    body = await me.resource(f"project://{trip['id']}")
    assert {k: body[k] for k in ("id", "name", "colour", "open_count")} == {
        "id": trip["id"], "name": "Trip", "colour": "#123456", "open_count": 1}
    assert [r["id"] for r in body["tasks"]["data"]] == [pack["id"]] and body["tasks"]["count"] == 1


@pytest.mark.parametrize("which", ["unknown", "bobs", "word"])
async def test_a_project_resource_that_is_not_the_users_is_not_found(me: Session, bob: Session, which):
    ids = {"unknown": str(UNKNOWN), "bobs": str((await bob.ok("add_project", name="Bob's")).data["id"]),
           "word": "trip"}
    with pytest.raises(MCPError) as info:
        await me.client.read_resource(f"project://{ids[which]}")
    assert "not found" in info.value.message or "a number" in info.value.message
