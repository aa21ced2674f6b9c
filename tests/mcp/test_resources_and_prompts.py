"""Resources (tasks://today, tasks://overdue, tasks://upcoming, task://{id}) and prompts (plan_my_day,
weekly_review) through an in-process MCP client.

The user is in Asia/Tokyo (UTC+9) and "now" is 12:00 on Tuesday 2026-03-10 there; the resources read that
clock through the unit of work."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError
from mcp.types import INTERNAL_ERROR, TextContent

from tests.mcp.conftest import COMPACT_ROW, UNKNOWN, Session


async def ids(me: Session, uri: str) -> set[int]:
    """The ids a list resource shows; its rows must be compact and its count the number of rows."""
    body = await me.resource(uri)
    assert set(body) == {"data", "count", "count_exact", "next_cursor"}
    for row in body["data"]:
        assert set(row) == COMPACT_ROW
    assert body["count"] == len(body["data"])
    return {row["id"] for row in body["data"]}


async def test_the_server_lists_its_resources_and_the_task_template(me: Session):
    listed = {str(r.uri) for r in (await me.client.list_resources()).resources}
    assert listed == {"tasks://today", "tasks://overdue", "tasks://upcoming"}
    templates = {t.uri_template for t in (await me.client.list_resource_templates()).resource_templates}
    assert templates == {"task://{task_id}", "project://{project_id}"}


async def test_today_overdue_and_upcoming_show_the_right_open_tasks_in_the_users_day(me: Session):
    async def add(title: str, due_at: str | None = None) -> int:
        return (await me.add(title, due_at=due_at) if due_at else await me.add(title))["id"]

    yesterday = await add("Yesterday evening", "2026-03-09T18:00")
    all_day_yesterday = await add("All day yesterday", "2026-03-09")
    this_morning = await add("This morning", "2026-03-10T09:00")
    tonight = await add("Tonight", "2026-03-10T20:00")
    all_day_today = await add("All day today", "2026-03-10")
    in_three_days = await add("In three days", "2026-03-13T09:00")
    in_six_days = await add("All day in six days", "2026-03-16")
    await add("In ten days", "2026-03-20T09:00")
    await add("No due")
    done = await add("Done", "2026-03-09T09:00")
    await me.ok("complete_task", task_id=done)
    trashed = await add("Trashed", "2026-03-10T20:00")
    await me.ok("delete_task", task_id=trashed)

    assert await ids(me, "tasks://today") == {this_morning, tonight, all_day_today}
    assert await ids(me, "tasks://overdue") == {yesterday, all_day_yesterday, this_morning}
    assert await ids(me, "tasks://upcoming") - {all_day_today} == {tonight, in_three_days, in_six_days}


async def test_the_list_resources_follow_the_clock(me: Session, clock):
    task = (await me.add("Tomorrow", due_at="2026-03-11T09:00"))["id"]
    assert await ids(me, "tasks://today") == set() and await ids(me, "tasks://overdue") == set()
    clock.advance(days=1)
    assert await ids(me, "tasks://today") == {task} and await ids(me, "tasks://overdue") == {task}
    clock.advance(days=1)
    assert await ids(me, "tasks://today") == set() and await ids(me, "tasks://upcoming") == set()


async def test_the_task_resource_shows_every_field_like_get_task(me: Session):
    task = await me.add("Dentist", tags=["health"], due_at="2026-03-11T10:30", recurrence="yearly")
    assert await me.resource(f"task://{task['id']}") == task


@pytest.mark.parametrize("task_id", [str(UNKNOWN), "abc"])
async def test_reading_a_task_resource_that_does_not_exist_is_an_error(me: Session, task_id):
    with pytest.raises(MCPError):
        await me.client.read_resource(f"task://{task_id}")


async def test_an_unknown_task_resource_says_not_found_rather_than_internal_error(me: Session):
    with pytest.raises(MCPError) as info:
        await me.client.read_resource(f"task://{UNKNOWN}")
    assert info.value.code != INTERNAL_ERROR and "not found" in info.value.message


@pytest.mark.parametrize(("name", "mentions"), [
    ("plan_my_day", ["whoami", "list_tasks", "overdue", "due_today", "set_due_date"]),
    ("weekly_review", ["whoami", "list_tasks", "completed", "overdue"]),
])
async def test_the_prompts_walk_the_model_through_the_tools(me: Session, name, mentions):
    listed = {p.name: p for p in (await me.client.list_prompts()).prompts}
    assert set(listed) == {"plan_my_day", "weekly_review"} and listed[name].description
    prompt = await me.client.get_prompt(name)
    text = "\n".join(m.content.text for m in prompt.messages if isinstance(m.content, TextContent))
    for word in mentions:
        assert word in text, word
