"""Single-aspect tools (priority, tags, due date, recurrence, reminders), tag tools, undo and whoami through an
in-process MCP client: happy paths checked against the output schema, bad input refused with a message that says
how to fix the call, and nothing half-written.

The user is in Asia/Tokyo (UTC+9) and "now" is 12:00 on Tuesday 2026-03-10 there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mcp.conftest import COMPACT_ROW, PRIORITIES, UNKNOWN, Session, arg_id, assert_not_found

# Every tool that changes one existing task, with valid arguments besides the task id.
SINGLE_TASK_CHANGES: dict[str, dict[str, Any]] = {
    "update_task": {"title": "Changed"},
    "set_priority": {"priority": "high"},
    "add_tags": {"tags": ["new"]},
    "remove_tags": {"tags": ["old"]},
    "set_due_date": {"due_at": "2026-04-01T09:00"},
    "clear_due_date": {},
    "set_recurrence": {"rule": "daily"},
    "clear_recurrence": {},
    "set_reminders": {"minutes_before": [5]},
}


async def a_full_task(me: Session) -> dict[str, Any]:
    return await me.add("Full", tags=["old"], due_at="2026-03-11T09:00", recurrence="weekly", reminders=[10])


@pytest.mark.parametrize("tool", sorted(SINGLE_TASK_CHANGES))
async def test_a_field_change_of_an_unknown_task_says_not_found(me: Session, tool):
    assert_not_found(await me.error(tool, task_id=UNKNOWN, **SINGLE_TASK_CHANGES[tool]), UNKNOWN)


@pytest.mark.parametrize("tool", sorted(SINGLE_TASK_CHANGES))
async def test_a_field_change_with_a_stale_version_is_refused_and_changes_nothing(me: Session, tool):
    task = await a_full_task(me)
    await me.ok("set_priority", task_id=task["id"], priority="low")
    before = await me.task(task["id"])
    message = await me.error(tool, task_id=task["id"], expected_version=1, **SINGLE_TASK_CHANGES[tool])
    assert "version 2" in message and "get_task" in message
    assert await me.task(task["id"]) == before


@pytest.mark.parametrize("tool", sorted(SINGLE_TASK_CHANGES))
async def test_a_field_change_with_the_current_version_succeeds(me: Session, tool):
    task = await a_full_task(me)
    await me.ok(tool, task_id=task["id"], expected_version=1, **SINGLE_TASK_CHANGES[tool])
    assert (await me.task(task["id"]))["version"] == 2


# --- priority -----------------------------------------------------------------------------------------------------


async def test_set_priority_sets_and_none_clears_it(me: Session):
    task = await me.add("Taxes")
    reply = await me.ok("set_priority", task_id=task["id"], priority="urgent")
    assert reply.data["data"][0]["priority"] == "urgent" and set(reply.data["data"][0]) == COMPACT_ROW
    assert "urgent" in reply.text
    await me.ok("set_priority", task_id=task["id"], priority="none")
    assert (await me.task(task["id"]))["priority"] == "none"


@pytest.mark.parametrize("priority", ["bogus", "HIGHEST", ""])
async def test_an_unknown_priority_lists_the_valid_ones_and_changes_nothing(me: Session, priority):
    task = await me.add("Taxes", priority="low")
    message = await me.error("set_priority", task_id=task["id"], priority=priority)
    for name in PRIORITIES:
        assert name in message
    assert await me.task(task["id"]) == task


# --- tags ---------------------------------------------------------------------------------------------------------


async def test_add_tags_keeps_existing_tags_and_normalizes_new_ones(me: Session):
    task = await me.add("Plan trip", tags=["travel"])
    reply = await me.ok("add_tags", task_id=task["id"], tags=["#Summer", "travel", "  Family  Time "])
    assert reply.data["data"][0]["tags"] == ["family time", "summer", "travel"]
    assert (await me.task(task["id"]))["tags"] == ["family time", "summer", "travel"]


@pytest.mark.parametrize(
    ("tags", "hint"), [(["x" * 51], "at most 50"), ([f"t{i}" for i in range(21)], "at most 20"), ([" "], "empty")]
)
async def test_add_tags_refuses_bad_tags_and_changes_nothing(me: Session, tags, hint):
    task = await me.add("Plan trip", tags=["travel"])
    assert hint in await me.error("add_tags", task_id=task["id"], tags=tags)
    assert await me.task(task["id"]) == task
    assert [t["name"] for t in (await me.ok("list_tags")).data["data"]] == ["travel"]


async def test_bulk_add_tags_that_would_overfill_one_task_tags_none(me: Session):
    full = await me.add("Full", tags=[f"t{i}" for i in range(19)])
    roomy = await me.add("Roomy")
    message = await me.error("add_tags", task_ids=[roomy["id"], full["id"]], tags=["a", "b"])
    assert "at most 20" in message
    assert await me.task(roomy["id"]) == roomy and await me.task(full["id"]) == full


async def test_remove_tags_removes_the_named_tags_and_ignores_others(me: Session):
    task = await me.add("Plan trip", tags=["travel", "summer", "family"])
    reply = await me.ok("remove_tags", task_id=task["id"], tags=["Summer", "never-had"])
    assert reply.data["tags"] == ["family", "travel"] and reply.text.startswith("Untagged")


@pytest.mark.parametrize(("tags", "hint"), [([""], "empty"), (["y" * 51], "at most 50")])
async def test_remove_tags_refuses_bad_tags_and_changes_nothing(me: Session, tags, hint):
    task = await me.add("Plan trip", tags=["travel"])
    assert hint in await me.error("remove_tags", task_id=task["id"], tags=tags)
    assert await me.task(task["id"]) == task


async def test_list_tags_counts_tasks_outside_the_trash_most_used_first(me: Session):
    for tags in (["home"], ["home", "garden"], ["work"], ["home"]):
        await me.add("t", tags=tags)
    trashed = await me.add("t", tags=["work"])
    await me.ok("delete_task", task_id=trashed["id"])
    reply = await me.ok("list_tags")
    assert reply.data["data"][0] == {"name": "home", "count": 3}
    assert {(t["name"], t["count"]) for t in reply.data["data"]} == {("home", 3), ("garden", 1), ("work", 1)}
    assert reply.data["count"] == 3 and "home (3)" in reply.text


async def test_rename_tag_renames_it_everywhere_and_merges_into_an_existing_tag(me: Session):
    a = await me.add("a", tags=["job"])
    b = await me.add("b", tags=["job", "work"])
    renamed = await me.ok("rename_tag", name="Job", new_name="work")
    assert renamed.data == {"name": "work", "count": 2} and "work" in renamed.text
    assert (await me.task(a["id"]))["tags"] == ["work"] and (await me.task(b["id"]))["tags"] == ["work"]


@pytest.mark.parametrize(
    ("args", "hint"),
    [({"name": "nope", "new_name": "x"}, "list_tags"), ({"name": "job", "new_name": ""}, "empty"),
     ({"name": "job", "new_name": "z" * 51}, "at most 50")],
    ids=arg_id,
)
async def test_rename_tag_refuses_bad_names_and_changes_nothing(me: Session, args, hint):
    task = await me.add("a", tags=["job"])
    message = await me.error("rename_tag", **args)
    assert hint in message
    assert await me.task(task["id"]) == task


async def test_delete_tag_untags_every_task_and_keeps_the_tasks(me: Session):
    a = await me.add("a", tags=["old", "keep"])
    b = await me.add("b", tags=["old"])
    reply = await me.ok("delete_tag", name="old")
    assert reply.data == {"name": "old", "tasks": 2} and "2 task" in reply.text
    assert (await me.task(a["id"]))["tags"] == ["keep"] and (await me.task(b["id"]))["tags"] == []
    assert [t["name"] for t in (await me.ok("list_tags")).data["data"]] == ["keep"]


@pytest.mark.parametrize(("name", "hint"), [("nope", "not found — call list_tags"), ("", "empty")])
async def test_delete_tag_refuses_an_unknown_or_empty_name_and_changes_nothing(me: Session, name, hint):
    task = await me.add("a", tags=["old"])
    assert hint in await me.error("delete_tag", name=name)
    assert await me.task(task["id"]) == task


# --- due date -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("due", "due_at", "due_local"),
    [
        ("2026-12-01T09:00", "2026-12-01T09:00:00+09:00", "2026-12-01 09:00 Tue"),
        ("2026-12-01T09:00:00Z", "2026-12-01T18:00:00+09:00", "2026-12-01 18:00 Tue"),
        ("2026-12-01", None, "2026-12-01 Tue (all day)"),
    ],
)
async def test_set_due_date_takes_a_local_time_a_moment_with_offset_or_an_all_day_date(me: Session, due, due_at,
                                                                                       due_local):
    task = await me.add("Report")
    reply = await me.ok("set_due_date", task_id=task["id"], due_at=due)
    assert (reply.data["due_at"], reply.data["due_date"], reply.data["due_local"]) == (due_at, "2026-12-01",
                                                                                       due_local)
    assert reply.data["all_day"] is (due_at is None)
    assert reply.text.startswith("Rescheduled") and due_local in reply.text


@pytest.mark.parametrize("due", ["2026-02-30", "next blursday", "", "12/01/2026"])
async def test_set_due_date_refuses_an_unreadable_date_showing_examples_and_changes_nothing(me: Session, due):
    task = await me.add("Report", due_at="2026-03-11")
    message = await me.error("set_due_date", task_id=task["id"], due_at=due)
    assert "e.g." in message and "2026-12-05T09:00" in message and "all day" in message
    assert await me.task(task["id"]) == task


async def test_clear_due_date_removes_the_due_entirely(me: Session):
    task = await me.add("Report", due_at="2026-03-11T09:00", reminders=[30])
    reply = await me.ok("clear_due_date", task_id=task["id"])
    assert (reply.data["due_at"], reply.data["due_date"], reply.data["due_local"]) == (None, None, None)
    assert reply.text.startswith("Cleared")


# --- recurrence ---------------------------------------------------------------------------------------------------


async def test_set_recurrence_gives_a_task_without_a_due_its_first_occurrence_in_the_users_timezone(me: Session):
    task = await me.add("Team sync")
    reply = await me.ok("set_recurrence", task_id=task["id"], rule="every monday at 09:00", mode="completion",
                        count=5, until="2026-12-31")
    data = reply.data
    assert data["recurrence"]["rule"] == "every monday at 09:00" and data["recurrence"]["mode"] == "completion"
    assert data["recurrence"]["count"] == 5 and data["recurrence"]["until"].startswith("2026-12-31T")
    assert data["due_at"] == "2026-03-16T09:00:00+09:00" and data["due_local"] == "2026-03-16 09:00 Mon"
    assert "repeat" in reply.text


async def test_set_recurrence_keeps_an_existing_due(me: Session):
    task = await me.add("Rent", due_at="2026-04-01")
    reply = await me.ok("set_recurrence", task_id=task["id"], rule="FREQ=MONTHLY;BYMONTHDAY=1")
    assert reply.data["due_date"] == "2026-04-01" and reply.data["recurrence"]["rule"] == "FREQ=MONTHLY;BYMONTHDAY=1"


@pytest.mark.parametrize(
    ("args", "hints"),
    [
        ({"rule": "every blursday"}, ["e.g."]),
        ({"rule": "0 9 * *"}, ["5 fields", "e.g."]),
        ({"rule": "FREQ=SOMETIMES"}, ["e.g."]),
        ({"rule": "daily", "count": 0}, ["greater than or equal to 1"]),
        ({"rule": "daily", "mode": "whenever"}, ["due", "completion"]),
        ({"rule": "daily", "until": "nope"}, ["e.g."]),
    ],
    ids=arg_id,
)
async def test_set_recurrence_refuses_a_bad_rule_showing_an_example_and_changes_nothing(me: Session, args, hints):
    task = await me.add("Team sync")
    message = await me.error("set_recurrence", task_id=task["id"], **args)
    for hint in hints:
        assert hint in message, message
    assert await me.task(task["id"]) == task


async def test_a_bad_until_is_reported_as_until(me: Session):
    task = await me.add("Team sync")
    assert "until" in await me.error("set_recurrence", task_id=task["id"], rule="daily", until="nope")


async def test_clear_recurrence_stops_the_repeat_and_keeps_the_due(me: Session):
    task = await me.add("Rent", due_at="2026-04-01", recurrence="monthly")
    reply = await me.ok("clear_recurrence", task_id=task["id"])
    assert reply.data["recurrence"] is None and reply.data["due_date"] == "2026-04-01"
    assert reply.text.startswith("Stopped repeating")


async def test_preview_recurrence_shows_occurrences_in_the_users_timezone_and_saves_nothing(me: Session):
    # 08:30 in Tokyo, so Monday 09:00 is still to come that day (08:30 UTC would be 17:30 there).
    reply = await me.ok("preview_recurrence", rule="every monday at 09:00", count=3, start="2026-03-23T08:30")
    assert reply.data["timezone"] == "Asia/Tokyo"
    assert reply.data["occurrences"] == ["2026-03-23T09:00:00+09:00", "2026-03-30T09:00:00+09:00",
                                         "2026-04-06T09:00:00+09:00"]
    assert reply.data["occurrences_local"][0] == "2026-03-23 09:00 Mon" and "2026-03-23 09:00 Mon" in reply.text
    assert len((await me.ok("preview_recurrence", rule="weekdays")).data["occurrences"]) == 5
    assert (await me.ok("list_tasks")).data["count"] == 0


@pytest.mark.parametrize(
    ("args", "hints"),
    [
        ({"rule": "every blursday"}, ["e.g."]),
        ({"rule": "daily", "count": 0}, ["greater than or equal to 1"]),
        ({"rule": "daily", "count": 101}, ["100"]),
        ({"rule": "daily", "start": "nope"}, ["e.g."]),
    ],
    ids=arg_id,
)
async def test_preview_recurrence_refuses_bad_arguments_saying_how_to_fix_them(me: Session, args, hints):
    message = await me.error("preview_recurrence", **args)
    for hint in hints:
        assert hint in message, message


# --- reminders ----------------------------------------------------------------------------------------------------


async def test_set_reminders_replaces_them_sorted_and_an_empty_list_removes_them(me: Session):
    task = await me.add("Flight", due_at="2026-03-20T07:00", reminders=[5])
    reply = await me.ok("set_reminders", task_id=task["id"], minutes_before=[1440, 0, 60, 60])
    assert reply.data["reminders"] == [0, 60, 1440] and "[0, 60, 1440]" in reply.text
    assert (await me.ok("set_reminders", task_id=task["id"], minutes_before=[])).data["reminders"] == []


@pytest.mark.parametrize(
    ("minutes", "hint"),
    [([-5], "between 0 and 40320"), ([50_000], "between 0 and 40320"), (list(range(11)), "at most 10"),
     (["soon"], "integer")],
)
async def test_set_reminders_refuses_bad_offsets_and_changes_nothing(me: Session, minutes, hint):
    task = await me.add("Flight", due_at="2026-03-20T07:00", reminders=[5])
    assert hint in await me.error("set_reminders", task_id=task["id"], minutes_before=minutes)
    assert await me.task(task["id"]) == task


# --- undo and whoami ----------------------------------------------------------------------------------------------


async def test_undo_reverts_the_latest_change_then_the_one_before(me: Session):
    task = await me.add("Before", priority="low")
    await me.ok("update_task", task_id=task["id"], title="After", priority="high")
    await me.ok("delete_task", task_id=task["id"])
    first = await me.ok("undo_last_change")
    assert "deletion" in first.data["undone"] and "Undid" in first.text
    assert (await me.task(task["id"]))["title"] == "After"
    await me.ok("undo_last_change")
    now = await me.task(task["id"])
    assert (now["title"], now["priority"]) == ("Before", "low")
    creation = await me.ok("undo_last_change")
    assert "creation" in creation.data["undone"]
    assert_not_found(await me.error("get_task", task_id=task["id"]), task["id"])


async def test_undo_with_nothing_to_undo_says_so(me: Session):
    assert "no change to undo" in await me.error("undo_last_change")
    task = await me.add("Only")
    await me.ok("undo_last_change")
    assert "no change to undo" in await me.error("undo_last_change")
    assert (await me.ok("list_tasks", status=["deleted"])).data["data"][0]["id"] == task["id"]


async def test_whoami_gives_the_user_their_timezone_and_local_date_and_time(me: Session):
    reply = await me.ok("whoami")
    assert reply.data["user_id"] == me.actor.id and reply.data["email"].endswith("@example.com")
    assert (reply.data["timezone"], reply.data["local_date"], reply.data["local_time"], reply.data["weekday"]) == (
        "Asia/Tokyo", "2026-03-10", "12:00", "Tuesday")
    assert reply.data["utc"].startswith("2026-03-10T03:00:00")
    assert "Tuesday 2026-03-10 12:00 (Asia/Tokyo)" in reply.text


# --- arguments a tool does not have -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tool", "args"),
    [("update_task", {"due": "2026-12-01"}), ("list_tasks", {"tag": "work"}), ("whoami", {"user": "bob"}),
     ("list_tags", {"limit": 5}), ("undo_last_change", {"task_id": 1})],
    ids=arg_id,
)
async def test_an_argument_the_tool_does_not_have_is_refused(me: Session, tool, args):
    task = await me.add("Target")
    known = me.tools[tool].input_schema.get("properties", {})
    (unknown,) = set(args) - set(known)
    if "task_id" in known:
        args = {"task_id": task["id"], **args}
    assert unknown in await me.error(tool, **args)
    assert await me.task(task["id"]) == task
