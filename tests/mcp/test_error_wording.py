"""Tool errors read as sentences, through the real SDK client and server: each names the argument, says what it
must be and, where it helps, shows a call that works; no SDK prefix, no pydantic report, no internals."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from mcp_server.errors import ReadableErrorsServer
from tests.mcp.conftest import UNKNOWN, Session, arg_id

NOISE = ("Error executing tool", "validation error", "pydantic", "[type=", "input_value", "input_type",
         "For further information", "Arguments", "Traceback")


def assert_a_sentence(message: str) -> None:
    """One line, ending in a full stop, with nothing of the SDK's or pydantic's own report in it."""
    assert "\n" not in message and message.endswith("."), message
    for noise in NOISE:
        assert noise not in message, message


@pytest.mark.parametrize(
    ("tool", "args", "expected"),
    [
        ("add_task", {}, 'title is required: add_task(title="Pay rent").'),
        ("search_tasks", {}, 'query is required: search_tasks(query="milk").'),
        ("get_task", {"task_id": "abc"}, "task_id must be an integer (got 'abc'), e.g. get_task(task_id=42)."),
        ("get_task", {"task_id": 1.5}, "task_id must be an integer (got 1.5), e.g. get_task(task_id=42)."),
        ("add_task", {"title": 5}, 'title must be a string (got 5), e.g. add_task(title="Pay rent").'),
        ("list_tasks", {"overdue": "maybe"},
         "overdue must be true or false (got 'maybe'), e.g. list_tasks(overdue=true)."),
        ("add_task", {"title": "Milk", "priority": "super"},
         "priority must be one of none, low, medium, high, urgent (got 'super')."),
        ("add_task", {"title": "Milk", "recurrence_mode": "never"},
         "recurrence_mode must be one of due, completion (got 'never')."),
        ("list_tasks", {"status": ["gone"]}, "status[0] must be one of open, completed, deleted (got 'gone')."),
        ("list_tasks", {"status": "open"}, "status must be a list even for one value, e.g. ['open'] (got 'open')."),
        ("add_task", {"title": "Milk", "idempotency_key": "k" * 300},
         "idempotency_key must have at most 255 characters (got 300)."),
        ("preview_recurrence", {"rule": "x" * 201}, "rule must have at most 200 characters (got 201)."),
        ("complete_task", {"task_ids": list(range(1, 52))},
         "task_ids must have at most 50 items (got 51); split the change into several calls."),
        ("add_task", {"title": "Milk", "tags": [f"t{i}" for i in range(21)]},
         "tags takes at most 20 tags per call (got 21); split the change into several calls."),
        ("add_task", {"title": "Milk", "reminders": ["soon"]},
         "reminders[0] must be an integer (got 'soon'), e.g. add_task(reminders=[1440])."),
        ("get_task", {"task_id": 0}, "task_id must be greater than or equal to 1 (got 0)."),
        ("list_tasks", {"limit": 500}, "limit must be less than or equal to 100 (got 500)."),
        ("add_task", {"title": "a\x00b"}, "title must not contain a NUL character (\\u0000)."),
        ("add_task", {"title": 5, "priority": "super"},
         'title must be a string (got 5), e.g. add_task(title="Pay rent"). '
         "priority must be one of none, low, medium, high, urgent (got 'super')."),
    ],
    ids=arg_id,
)
async def test_arguments_that_fail_the_input_schema_get_a_sentence_naming_the_argument(
    me: Session, tool: str, args: dict[str, Any], expected: str
):
    message = await me.error(tool, **args)
    assert message == expected
    assert_a_sentence(message)


async def test_an_unknown_task_id_says_not_found_and_how_to_find_the_id(me: Session):
    message = await me.error("update_task", task_id=UNKNOWN, title="x")
    assert message == f"task {UNKNOWN} not found — call list_tasks or search_tasks to find its id."


async def test_domain_errors_keep_their_words_without_the_sdk_prefix(me: Session):
    assert await me.error("undo_last_change") == "there is no change to undo."
    task = await me.add("Report")
    await me.ok("set_priority", task_id=task["id"], priority="high")
    conflict = await me.error("set_priority", task_id=task["id"], priority="low", expected_version=1)
    assert conflict.startswith(f"task {task['id']} is at version 2, not 1") and "get_task" in conflict
    assert_a_sentence(conflict)
    both = await me.error("complete_task", task_id=task["id"], task_ids=[task["id"]])
    assert both == "give either task_id (one task) or task_ids (up to 50 tasks), not both and not neither."


async def test_an_unknown_tool_is_named_with_the_closest_tool_and_the_list(me: Session):
    message = await me.error("get_tsk", task_id=1)
    assert message.startswith("There is no tool named 'get_tsk'. Did you mean get_task? The tools are: add_project, "
                              "add_tags, ")
    assert all(name in message for name in me.tools)
    assert_a_sentence(message)


async def test_a_misspelt_argument_is_named_with_the_one_meant(me: Session):
    message = await me.error("add_task", title="Milk", descriptionn="2 litres")
    assert message.startswith("add_task has no argument 'descriptionn'; it takes description, due_at, ")
    assert message.endswith("Did you mean description instead of descriptionn?")
    assert await me.ok("list_tasks") and (await me.ok("list_tasks")).data["count"] == 0


async def test_a_crash_in_a_tool_says_so_in_a_sentence_and_keeps_its_internals_on_the_server(
    caplog: pytest.LogCaptureFixture,
):
    server = ReadableErrorsServer("crashy")

    @server.tool()
    def explode() -> str:
        """Always crashes."""
        raise RuntimeError("connection to db password=hunter2 lost")

    async with Client(server) as client:
        result = await client.call_tool("explode", {})
    (content,) = result.content
    assert result.is_error and isinstance(content, TextContent)
    assert content.text.startswith("explode failed because of a problem on the server, not in your call")
    assert "hunter2" not in content.text and "RuntimeError" not in content.text
    assert_a_sentence(content.text)
    assert "hunter2" in caplog.text, "the server still logs the crash with its cause"
