"""Bounded input over MCP: tag and reminder lists are capped per call, rules at 200 characters, search at 12
words, and NUL characters are refused, each as a tool error that says how to fix the call."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mcp.conftest import Session, arg_id

TAGS_21 = [f"t{i}" for i in range(21)]
LONG_RULE = "FREQ=DAILY;BYHOUR=" + ",".join(["9"] * 100)


@pytest.mark.parametrize(("tool", "args"), [
    ("add_task", {"title": "x", "tags": TAGS_21}),
    ("update_task", {"task_id": "{id}", "tags": TAGS_21}),
    ("add_tags", {"task_id": "{id}", "tags": TAGS_21}),
    ("remove_tags", {"task_id": "{id}", "tags": TAGS_21}),
    ("list_tasks", {"tags": TAGS_21}),
], ids=arg_id)
async def test_more_than_twenty_tags_in_one_call_are_refused(me: Session, tool: str, args: dict[str, Any]):
    """Every tag list says at most 20 tags per call, and nothing changes."""
    task = await me.add("Kept", tags=["home"])
    filled = {k: task["id"] if v == "{id}" else v for k, v in args.items()}
    assert "at most 20 tags per call" in await me.error(tool, **filled)
    assert await me.task(task["id"]) == task


@pytest.mark.parametrize(("tool", "args"), [
    ("add_task", {"title": "x", "recurrence": LONG_RULE}),
    ("update_task", {"task_id": "{id}", "recurrence": LONG_RULE}),
    ("set_recurrence", {"task_id": "{id}", "rule": LONG_RULE}),
    ("preview_recurrence", {"rule": LONG_RULE}),
], ids=arg_id)
async def test_a_rule_over_200_characters_is_refused(me: Session, tool: str, args: dict[str, Any]):
    """Every rule argument is at most 200 characters."""
    task = await me.add("Kept")
    filled = {k: task["id"] if v == "{id}" else v for k, v in args.items()}
    assert "200" in await me.error(tool, **filled)
    assert await me.task(task["id"]) == task


async def test_more_than_ten_reminders_in_one_call_are_refused(me: Session):
    """A reminders list is capped at 10."""
    task = await me.add("Kept", due_at="2026-03-11T09:00")
    assert "10" in await me.error("set_reminders", task_id=task["id"], minutes_before=list(range(11)))
    assert await me.task(task["id"]) == task


async def test_search_with_more_than_twelve_words_is_refused(me: Session):
    """search_tasks takes at most 12 words and says so."""
    assert "12" in await me.error("search_tasks", query=" ".join("abcdefghijklm"))


@pytest.mark.parametrize(("tool", "args"), [
    ("add_task", {"title": "a\u0000b"}),
    ("add_task", {"title": "x", "tags": ["b\u0000d"]}),
    ("search_tasks", {"query": "mi\u0000lk"}),
    ("rename_tag", {"name": "home", "new_name": "h\u0000me"}),
], ids=arg_id)
async def test_a_nul_character_in_an_argument_is_refused(me: Session, tool: str, args: dict[str, Any]):
    """NUL cannot be stored on PostgreSQL: the tool refuses it and says why."""
    await me.add("Kept", tags=["home"])
    assert "NUL" in await me.error(tool, **args)
