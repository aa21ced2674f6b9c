"""MCP: due dates in words on the task tools, and the quick_add tool. The user is in Asia/Tokyo and "now" is
12:00 on Tuesday 2026-03-10 there."""

from __future__ import annotations

from tests.mcp.conftest import Session

EXAMPLE = "buy stamps tomorrow at 9am p1 #errands every week"


async def count(me: Session) -> int:
    return int((await me.ok("list_tasks", status=["open", "completed", "deleted"])).data["count"])


async def test_add_task_reads_next_friday_as_the_friday_of_next_week_all_day(me: Session):
    task = await me.add("Report", due_at="next friday")
    assert (task["due_at"], task["due_date"], task["all_day"]) == (None, "2026-03-20", True)
    assert (await me.add("Review", due_at="friday"))["due_date"] == "2026-03-13"


async def test_add_task_reads_a_time_in_words_in_the_users_timezone(me: Session):
    task = await me.add("Dentist", due_at="tomorrow 9am")
    assert task["due_at"] == "2026-03-11T09:00:00+09:00" and task["due_local"] == "2026-03-11 09:00 Wed"


async def test_set_due_date_and_list_filters_take_words(me: Session):
    task = await me.add("Call")
    moved = (await me.ok("set_due_date", task_id=task["id"], due_at="in 3 days")).data
    assert (moved["due_date"], moved["all_day"]) == ("2026-03-13", True)
    rows = (await me.ok("list_tasks", due_before="next monday")).data["data"]
    assert [r["id"] for r in rows] == [task["id"]]


async def test_a_due_phrase_it_cannot_read_is_a_tool_error_with_examples(me: Session):
    message = await me.error("add_task", title="x", due_at="blorp")
    assert "cannot read due date 'blorp'" in message
    for example in ("'tomorrow 9am'", "'next friday'", "'in 3 days'", "'dec 5'", "'2026-12-05T09:00'"):
        assert example in message
    assert await count(me) == 0


async def test_quick_add_creates_the_task_it_reads(me: Session):
    reply = await me.ok("quick_add", text=EXAMPLE)
    task = reply.data
    assert (task["title"], task["priority"], task["tags"]) == ("buy stamps", "urgent", ["errands"])
    assert task["due_at"] == "2026-03-11T09:00:00+09:00" and task["recurrence"]["rule"] == "every week"
    assert reply.text.startswith(f"Added #{task['id']} buy stamps") and "repeats every week" in reply.text
    assert await me.task(task["id"]) == task


async def test_quick_add_with_the_same_key_returns_the_first_task(me: Session):
    first = (await me.ok("quick_add", text="water plants every monday", idempotency_key="q-1")).data
    assert (await me.ok("quick_add", text="water plants every monday", idempotency_key="q-1")).data == first
    assert first["due_date"] == "2026-03-16" and first["all_day"]  # the rule's first day
    assert await count(me) == 1


async def test_quick_add_with_nothing_left_for_the_title_says_how_to_fix_the_text(me: Session):
    message = await me.error("quick_add", text="#errands p1 tomorrow")
    assert "nothing is left for the title" in message
    assert "e.g. 'buy stamps tomorrow at 9am p1 #errands every week'" in message
    assert "two priorities: keep one" in await me.error("quick_add", text="x p1 !low")
    assert await count(me) == 0
