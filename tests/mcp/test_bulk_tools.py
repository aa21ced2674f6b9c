"""Bulk requests through MCP: complete_task, delete_task, set_priority and add_tags with task_ids (up to 50)
change every task listed or none of them, and undo reverts a bulk change as a whole."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mcp.conftest import UNKNOWN, Session, assert_not_found

BULK = {
    "complete_task": ({}, lambda t: t["status"] == "completed"),
    "delete_task": ({}, lambda t: t is None),
    "set_priority": ({"priority": "high"}, lambda t: t["priority"] == "high"),
    "add_tags": ({"tags": ["Bulk"]}, lambda t: t["tags"] == ["bulk", "mine"]),
}


async def state(me: Session, task_id: int) -> dict[str, Any] | None:
    """The task as get_task shows it, or None once it is in the trash."""
    result = await me.client.call_tool("get_task", {"task_id": task_id})
    return None if result.is_error else result.structured_content


@pytest.mark.parametrize("tool", sorted(BULK))
async def test_a_bulk_request_changes_every_task_listed(me: Session, tool):
    args, changed = BULK[tool]
    tasks = [await me.add(f"Bulk {i}", tags=["mine"]) for i in range(3)]
    reply = await me.ok(tool, task_ids=[t["id"] for t in tasks], **args)
    assert reply.data["count"] == 3 and {r["id"] for r in reply.data["data"]} == {t["id"] for t in tasks}
    assert "3 task(s)" in reply.text
    for task in tasks:
        assert changed(await state(me, task["id"])), tool


@pytest.mark.parametrize("tool", sorted(BULK))
async def test_a_bulk_request_naming_an_unknown_task_changes_none_of_them(me: Session, tool):
    args, _ = BULK[tool]
    tasks = [await me.add(f"Bulk {i}", tags=["mine"]) for i in range(2)]
    message = await me.error(tool, task_ids=[tasks[0]["id"], UNKNOWN, tasks[1]["id"]], **args)
    assert_not_found(message, UNKNOWN)
    for task in tasks:
        assert await me.task(task["id"]) == task


@pytest.mark.parametrize("tool", sorted(BULK))
@pytest.mark.parametrize("ids", ["neither", "both", "empty"])
async def test_a_bulk_capable_tool_wants_exactly_one_of_task_id_and_task_ids(me: Session, tool, ids):
    args, _ = BULK[tool]
    task = await me.add("One")
    targets = {"neither": {}, "both": {"task_id": task["id"], "task_ids": [task["id"]]}, "empty": {"task_ids": []}}
    message = await me.error(tool, **targets[ids], **args)
    assert "task_id" in message and "task_ids" in message, message
    assert await me.task(task["id"]) == task


@pytest.mark.parametrize("tool", sorted(BULK))
async def test_a_bulk_request_takes_at_most_50_ids(me: Session, tool):
    args, _ = BULK[tool]
    task = await me.add("One")
    message = await me.error(tool, task_ids=[task["id"], *range(UNKNOWN - 50, UNKNOWN)], **args)
    assert "50" in message
    assert await me.task(task["id"]) == task


@pytest.mark.parametrize("tool", sorted(BULK))
async def test_a_bulk_request_does_not_silently_drop_a_stale_expected_version(me: Session, tool):
    args, _ = BULK[tool]
    task = await me.add("One", tags=["mine"])
    await me.ok("update_task", task_id=task["id"], title="Changed meanwhile")
    before = await me.task(task["id"])
    message = await me.error(tool, task_ids=[task["id"]], expected_version=1, **args)
    assert "version" in message
    assert await me.task(task["id"]) == before


async def test_undo_after_a_bulk_request_reverts_every_task_of_it(me: Session):
    tasks = [await me.add(f"Bulk {i}", priority="low") for i in range(3)]
    await me.ok("set_priority", task_ids=[t["id"] for t in tasks], priority="urgent")
    await me.ok("complete_task", task_ids=[t["id"] for t in tasks])
    undone = await me.ok("undo_last_change")
    assert {r["id"] for r in undone.data["data"]} == {t["id"] for t in tasks}
    assert "completion" in undone.data["undone"]
    assert [(await me.task(t["id"]))["status"] for t in tasks] == ["open"] * 3
    await me.ok("undo_last_change")
    for task in tasks:
        now = await me.task(task["id"])
        assert (now["status"], now["priority"]) == ("open", "low")
