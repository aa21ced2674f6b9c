"""Whole-task tools through an in-process MCP client: add, get, list, search, update, complete, reopen, delete,
restore. Each happy path checks the structured content against the tool's output schema and the short text;
each bad input must be a tool error that says how to fix the call and leaves everything as it was.

The user is in Asia/Tokyo (UTC+9) and "now" is 12:00 on Tuesday 2026-03-10 there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mcp.conftest import ALL_STATUSES, COMPACT_ROW, PRIORITIES, UNKNOWN, Session, arg_id, assert_not_found, aware


async def everything(me: Session) -> list[dict[str, Any]]:
    """Every row the user has, trash included."""
    return (await me.ok("list_tasks", status=ALL_STATUSES, limit=100)).data["data"]


async def titles(me: Session, **query: Any) -> list[str]:
    return [row["title"] for row in (await me.ok("list_tasks", **query)).data["data"]]


# --- add_task ---------------------------------------------------------------------------------------------------


async def test_add_task_takes_every_field_and_reads_a_time_without_offset_in_the_users_timezone(me: Session):
    reply = await me.ok(
        "add_task", title="Pay rent", description="to the landlord", priority="high",
        tags=["Home", "errands", "home"], due_at="2026-12-01T09:00", reminders=[60, 0], recurrence="monthly",
    )
    task = reply.data
    assert (task["title"], task["description"], task["priority"], task["status"]) == (
        "Pay rent", "to the landlord", "high", "open")
    assert task["tags"] == ["errands", "home"]
    assert task["due_at"] == "2026-12-01T09:00:00+09:00"
    assert (task["due_date"], task["all_day"], task["due_local"]) == ("2026-12-01", False, "2026-12-01 09:00 Tue")
    assert task["reminders"] == [0, 60]
    assert task["recurrence"]["rule"] == "monthly" and task["recurrence"]["mode"] == "due"
    assert task["version"] == 1 and aware(task["created_at"]) and aware(task["updated_at"])
    assert f"#{task['id']}" in reply.text and "Pay rent" in reply.text and len(reply.text) < 200
    assert await me.task(task["id"]) == task


async def test_add_task_with_a_plain_date_makes_an_all_day_task(me: Session):
    task = await me.add("Birthday", due_at="2026-12-01")
    assert (task["due_at"], task["due_date"], task["all_day"]) == (None, "2026-12-01", True)
    assert task["due_local"] == "2026-12-01 Tue (all day)"


async def test_a_time_with_an_offset_is_that_moment_shown_in_the_users_timezone(me: Session):
    task = await me.add("Call Berlin", due_at="2026-12-01T09:00:00+01:00")
    assert task["due_at"] == "2026-12-01T17:00:00+09:00" and task["due_local"] == "2026-12-01 17:00 Tue"


async def test_add_task_with_the_same_idempotency_key_returns_the_first_task(me: Session):
    first = await me.add("Buy milk", idempotency_key="k-1")
    assert await me.add("Buy milk", idempotency_key="k-1") == first
    message = await me.error("add_task", title="Buy bread", idempotency_key="k-1")
    assert "already used" in message and "new key" in message
    assert [row["id"] for row in await everything(me)] == [first["id"]]


@pytest.mark.parametrize(
    ("args", "hints"),
    [
        ({"priority": "bogus"}, PRIORITIES),
        ({"priority": 3}, PRIORITIES),
        ({"due_at": "someday"}, ["e.g.", "'tomorrow 9am'", "2026-12-05"]),
        ({"due_at": "2026-02-30"}, ["e.g.", "all day"]),
        ({"recurrence": "every blursday"}, ["e.g."]),
        ({"recurrence": "0 9 * *"}, ["5 fields", "e.g."]),
        ({"title": "   "}, ["title must not be empty"]),
        ({"title": "x" * 501}, ["at most 500"]),
        ({"reminders": [-5]}, ["between 0 and"]),
        ({"tags": ["a" * 51]}, ["at most 50"]),
        ({"idempotency_key": ""}, ["1..255"]),
    ],
    ids=arg_id,
)
async def test_add_task_refuses_bad_input_saying_how_to_fix_it_and_writes_nothing(me: Session, args, hints):
    call = {"title": "Half written", "tags": ["half"], **args}
    message = await me.error("add_task", **call)
    for hint in hints:
        assert hint in message, message
    assert await everything(me) == []
    assert (await me.ok("list_tags")).data == {"data": [], "count": 0}


# --- get_task ---------------------------------------------------------------------------------------------------


async def test_get_task_returns_every_field_and_a_one_line_summary(me: Session):
    task = await me.add("Dentist", priority="urgent", tags=["health"], due_at="2026-03-11T10:30")
    reply = await me.ok("get_task", task_id=task["id"])
    assert reply.data == task
    assert reply.text == f"#{task['id']} Dentist — open, urgent, due 2026-03-11 10:30 Wed [health]"


async def test_get_task_of_an_unknown_id_says_not_found_and_how_to_find_ids(me: Session):
    assert_not_found(await me.error("get_task", task_id=UNKNOWN), UNKNOWN)


async def test_get_task_of_a_task_in_the_trash_says_not_found(me: Session):
    task = await me.add("Gone")
    await me.ok("delete_task", task_id=task["id"])
    assert_not_found(await me.error("get_task", task_id=task["id"]), task["id"])


@pytest.mark.parametrize(("task_id", "hint"), [(0, "greater than or equal to 1"), ("abc", "integer"),
                                               (2**31, "less than or equal to 2147483647")])
async def test_get_task_refuses_an_id_that_cannot_exist(me: Session, task_id, hint):
    assert hint in await me.error("get_task", task_id=task_id)


# --- list_tasks and search_tasks ----------------------------------------------------------------------------------


async def test_list_tasks_pages_20_compact_rows_at_a_time_with_a_total_and_a_cursor(me: Session):
    made = [await me.add(f"Task {i:02}", tags=["t"], due_at=f"2026-04-{i + 1:02}T09:00") for i in range(25)]
    first = await me.ok("list_tasks")
    assert len(first.data["data"]) == 20 and first.data["count"] == 25 and first.data["next_cursor"]
    for row in first.data["data"]:
        assert set(row) == COMPACT_ROW
    row = first.data["data"][0]
    assert row == {"id": made[0]["id"], "title": "Task 00", "status": "open", "priority": "none", "tags": ["t"],
                   "due_at": "2026-04-01T09:00:00+09:00", "due_date": "2026-04-01", "due_local": "2026-04-01 09:00 Wed",
                   "project_id": made[0]["project_id"], "parent_id": None, "subtask_count": 0, "open_subtask_count": 0}
    assert "Task 00" in first.text and "next_cursor" in first.text
    second = await me.ok("list_tasks", cursor=first.data["next_cursor"])
    assert len(second.data["data"]) == 5 and second.data["count"] == 25 and second.data["next_cursor"] is None
    listed = [r["id"] for r in first.data["data"] + second.data["data"]]
    assert listed == [t["id"] for t in made]
    assert len((await me.ok("list_tasks", limit=100)).data["data"]) == 25


async def test_list_tasks_applies_every_filter_and_sort(me: Session):
    await me.add("Report", priority="high", tags=["work"], due_at="2026-03-09T09:00")
    await me.add("Standup", priority="low", tags=["work", "daily"], due_at="2026-03-10T18:00")
    await me.add("Groceries", tags=["home"], due_at="2026-03-12")
    await me.add("Someday", priority="urgent")
    done = await me.add("Done thing", due_at="2026-03-08T09:00")
    await me.ok("complete_task", task_id=done["id"])
    trashed = await me.add("Trashed")
    await me.ok("delete_task", task_id=trashed["id"])

    assert await titles(me) == ["Done thing", "Report", "Standup", "Groceries", "Someday"]
    assert await titles(me, status=["deleted"]) == ["Trashed"]
    assert await titles(me, status=["completed"]) == ["Done thing"]
    assert await titles(me, priority=["high", "urgent"]) == ["Report", "Someday"]
    assert await titles(me, tags=["work"]) == ["Report", "Standup"]
    assert await titles(me, tags=["work", "home"], tag_mode="any") == ["Report", "Standup", "Groceries"]
    assert await titles(me, tags=["work", "daily"], tag_mode="all") == ["Standup"]
    assert await titles(me, overdue=True) == ["Report"]
    assert await titles(me, due_today=True) == ["Standup"]
    assert await titles(me, has_due=False) == ["Someday"]
    assert await titles(me, due_before="2026-03-10") == ["Done thing", "Report"]
    assert await titles(me, due_after="2026-03-10T12:00") == ["Standup", "Groceries"]
    assert await titles(me, query="stand") == ["Standup"]
    assert await titles(me, sort="title") == ["Done thing", "Groceries", "Report", "Someday", "Standup"]
    assert await titles(me, sort="title", order="desc") == ["Standup", "Someday", "Report", "Groceries", "Done thing"]
    assert (await titles(me, sort="priority"))[:3] == ["Someday", "Report", "Standup"]
    assert await titles(me, sort="due", order="desc") == ["Groceries", "Standup", "Report", "Done thing", "Someday"]


async def test_an_empty_list_says_so(me: Session):
    reply = await me.ok("list_tasks")
    assert reply.data == {"data": [], "count": 0, "count_exact": True, "next_cursor": None} and "no tasks" in reply.text


@pytest.mark.parametrize(
    ("args", "hints"),
    [
        ({"limit": 500}, ["100"]),
        ({"limit": 0}, ["1"]),
        ({"cursor": "garbage"}, ["next_cursor"]),
        ({"status": ["gone"]}, ALL_STATUSES),
        ({"priority": ["bogus"]}, PRIORITIES),
        ({"sort": "size"}, ["due", "priority", "created", "updated", "title"]),
        ({"order": "up"}, ["asc", "desc"]),
        ({"tag_mode": "some"}, ["any", "all"]),
        ({"due_before": "soon"}, ["due_before", "e.g."]),
    ],
    ids=arg_id,
)
async def test_list_tasks_refuses_bad_arguments_saying_what_is_allowed(me: Session, args, hints):
    message = await me.error("list_tasks", **args)
    for hint in hints:
        assert hint in message, message


async def test_a_cursor_only_continues_the_query_that_made_it(me: Session):
    for i in range(3):
        await me.add(f"T{i}", priority="high")
    cursor = (await me.ok("list_tasks", limit=1)).data["next_cursor"]
    assert "same filters" in await me.error("list_tasks", limit=1, cursor=cursor, sort="title")


async def test_search_tasks_matches_word_prefixes_and_can_leave_out_completed_tasks(me: Session, clock):
    appointment = await me.add("Dentist appointment", tags=["health"])
    await me.add("Dental floss")
    bill = await me.add("Pay dentist bill")
    await me.ok("complete_task", task_id=bill["id"])
    reply = await me.ok("search_tasks", query="dent app")
    assert [r["id"] for r in reply.data["data"]] == [appointment["id"]] and reply.data["count"] == 1
    assert set(reply.data["data"][0]) == COMPACT_ROW and "Dentist appointment" in reply.text
    assert {r["title"] for r in (await me.ok("search_tasks", query="dentist")).data["data"]} == {
        "Dentist appointment", "Pay dentist bill"}
    open_only = await me.ok("search_tasks", query="dentist", include_completed=False)
    assert [r["title"] for r in open_only.data["data"]] == ["Dentist appointment"]
    clock.advance(minutes=5)
    await me.ok("set_priority", task_id=appointment["id"], priority="high")
    page = await me.ok("search_tasks", query="dent", limit=1)
    assert page.data["data"][0]["id"] == appointment["id"], "most recently changed first"
    assert page.data["count"] == 3 and page.data["next_cursor"]
    rest = await me.ok("search_tasks", query="dent", limit=5, cursor=page.data["next_cursor"])
    assert {r["title"] for r in rest.data["data"]} == {"Dental floss", "Pay dentist bill"}


@pytest.mark.parametrize(
    ("args", "hints"),
    [({"query": "!!!"}, ["e.g."]), ({"query": "milk", "limit": 500}, ["100"]), ({}, ["query"]),
     ({"query": "milk", "cursor": "garbage"}, ["next_cursor"])],
    ids=arg_id,
)
async def test_search_tasks_refuses_bad_arguments_saying_how_to_fix_them(me: Session, args, hints):
    message = await me.error("search_tasks", **args)
    for hint in hints:
        assert hint in message, message


# --- update_task ------------------------------------------------------------------------------------------------


async def test_update_task_changes_the_fields_given_and_keeps_the_rest(me: Session):
    task = await me.add("Call mum", description="about Sunday", tags=["family"], reminders=[10])
    reply = await me.ok(
        "update_task", task_id=task["id"], title="Call mum and dad", priority="medium", due_at="2026-03-12T18:00",
        recurrence="weekly", recurrence_mode="completion", expected_version=1,
    )
    updated = reply.data
    assert (updated["title"], updated["priority"], updated["description"]) == ("Call mum and dad", "medium",
                                                                               "about Sunday")
    assert updated["due_at"] == "2026-03-12T18:00:00+09:00" and updated["due_local"] == "2026-03-12 18:00 Thu"
    assert updated["tags"] == ["family"] and updated["reminders"] == [10]
    assert updated["recurrence"]["rule"] == "weekly" and updated["recurrence"]["mode"] == "completion"
    assert updated["version"] == 2
    assert reply.text.startswith("Updated") and f"#{task['id']}" in reply.text
    assert await me.task(task["id"]) == updated
    emptied = await me.ok("update_task", task_id=task["id"], description="", tags=["a", "b"], reminders=[])
    assert (emptied.data["description"], emptied.data["tags"], emptied.data["reminders"]) == ("", ["a", "b"], [])


@pytest.mark.parametrize(
    ("args", "hints"),
    [
        ({"title": "Changed", "expected_version": 7}, ["version 1", "get_task"]),
        ({"priority": "bogus"}, PRIORITIES),
        ({"title": "Changed", "due_at": "next blursday"}, ["e.g."]),
        ({"title": "Changed", "recurrence": "every blursday"}, ["e.g."]),
        ({"title": ""}, ["title must not be empty"]),
        ({"title": "x" * 501}, ["at most 500"]),
        ({"title": "Changed", "tags": ["ok", ""]}, ["tag must not be empty"]),
        ({"title": "Changed", "reminders": [99_999]}, ["between 0 and"]),
    ],
    ids=arg_id,
)
async def test_update_task_refuses_bad_input_and_changes_nothing(me: Session, args, hints):
    task = await me.add("Original", tags=["keep"], due_at="2026-03-11")
    message = await me.error("update_task", task_id=task["id"], **args)
    for hint in hints:
        assert hint in message, message
    assert await me.task(task["id"]) == task


async def test_update_task_of_an_unknown_id_says_not_found(me: Session):
    assert_not_found(await me.error("update_task", task_id=UNKNOWN, title="x"), UNKNOWN)


# --- complete, reopen, delete, restore ----------------------------------------------------------------------------


async def test_complete_task_marks_one_task_done(me: Session):
    task = await me.add("Water plants")
    reply = await me.ok("complete_task", task_id=task["id"], expected_version=1)
    assert reply.data["count"] == 1 and reply.data["data"][0]["status"] == "completed"
    assert set(reply.data["data"][0]) == COMPACT_ROW
    assert reply.text.startswith("Completed 1 task") and "Water plants" in reply.text
    done = await me.task(task["id"])
    assert done["status"] == "completed" and aware(done["completed_at"]) and done["version"] == 2


async def test_reopen_task_makes_a_completed_task_open_again(me: Session):
    task = await me.add("Water plants")
    await me.ok("complete_task", task_id=task["id"])
    reply = await me.ok("reopen_task", task_id=task["id"], expected_version=2)
    assert reply.data["status"] == "open" and reply.data["completed_at"] is None and reply.data["version"] == 3
    assert reply.text.startswith("Reopened")


async def test_delete_task_moves_a_task_to_the_trash_and_restore_task_brings_it_back(me: Session):
    task = await me.add("Old idea", tags=["ideas"])
    deleted = await me.ok("delete_task", task_id=task["id"])
    assert deleted.data["count"] == 1 and deleted.text.startswith("Deleted")
    assert_not_found(await me.error("get_task", task_id=task["id"]), task["id"])
    assert [r["id"] for r in (await me.ok("list_tasks", status=["deleted"])).data["data"]] == [task["id"]]
    restored = await me.ok("restore_task", task_id=task["id"], expected_version=2)
    assert restored.data["deleted_at"] is None and restored.data["tags"] == ["ideas"]
    assert restored.text.startswith("Restored")
    assert (await me.task(task["id"]))["version"] == 3


@pytest.mark.parametrize("tool", ["complete_task", "reopen_task", "delete_task", "restore_task"])
async def test_a_life_cycle_change_with_a_stale_version_is_refused_and_changes_nothing(me: Session, tool):
    task = await me.add("Versioned")
    await me.ok("update_task", task_id=task["id"], title="Versioned twice")
    before = await me.task(task["id"])
    message = await me.error(tool, task_id=task["id"], expected_version=1)
    assert "version 2" in message and "get_task" in message
    assert await me.task(task["id"]) == before


@pytest.mark.parametrize("tool", ["complete_task", "reopen_task", "delete_task", "restore_task"])
async def test_a_life_cycle_change_of_an_unknown_task_says_not_found(me: Session, tool):
    assert_not_found(await me.error(tool, task_id=UNKNOWN), UNKNOWN)


async def test_reopening_or_completing_a_task_in_the_trash_says_not_found(me: Session):
    task = await me.add("Trashed")
    await me.ok("delete_task", task_id=task["id"])
    for tool in ("complete_task", "reopen_task", "delete_task"):
        assert_not_found(await me.error(tool, task_id=task["id"]), task["id"])
