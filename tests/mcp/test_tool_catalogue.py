"""The tool catalogue a model reads: exactly the tools the issue lists, each with an example in its description,
explicit and consistent MCP annotations, an object output schema, described arguments and enums.

Every check iterates the catalogue the server offers, so a tool added later without these fails here."""

from __future__ import annotations

from typing import Any

from mcp import Client
from mcp.types import Tool

from domain.uow import UnitOfWork
from mcp_server import McpPorts, build_server
from tests.mcp.conftest import COMPACT_ROW, SECRET, Session

TOOLS = {
    "add_task", "quick_add", "get_task", "list_tasks", "search_tasks", "update_task", "complete_task", "reopen_task",
    "delete_task", "restore_task", "set_priority", "add_tags", "remove_tags", "list_tags", "rename_tag",
    "delete_tag", "set_due_date", "clear_due_date", "set_recurrence", "clear_recurrence", "preview_recurrence",
    "set_reminders", "undo_last_change", "whoami",
    # issue 17: projects and subtasks
    "list_projects", "add_project", "rename_project", "archive_project", "unarchive_project", "delete_project",
    "move_task",
}
READS = {"get_task", "list_tasks", "search_tasks", "list_tags", "preview_recurrence", "whoami", "list_projects"}
# destructiveHint is false only where nothing can be overwritten or removed: creating a task or a project, adding
# tags, taking a task out of the trash, bringing an archived project back.
ADDITIVE = {"add_task", "quick_add", "add_tags", "restore_task", "add_project", "unarchive_project"}
# Calling these twice does more than calling them once: a second task, a second step back. (A second add_project
# with the same name is refused: project names are unique.)
NOT_IDEMPOTENT = {"add_task", "quick_add", "undo_last_change"}
BULK = {"complete_task", "delete_task", "set_priority", "add_tags"}
ENUMS = {
    "priority": {"none", "low", "medium", "high", "urgent"},
    "status": {"open", "completed", "deleted"},
    "sort": {"due", "priority", "created", "updated", "title"},
    "order": {"asc", "desc"},
    "mode": {"due", "completion"},
    "recurrence_mode": {"due", "completion"},
    "tag_mode": {"any", "all"},
    "subtasks": {"refuse", "complete"},
    "tasks": {"inbox", "trash"},
}
UNDESCRIBED_KNOWN: set[tuple[str, str]] = set()


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref ('#/$defs/Priority')."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), f"unexpected $ref {ref}"
        node = schema["$defs"][ref.removeprefix("#/$defs/")]
    return node


def enum_values(schema: dict[str, Any], node: dict[str, Any]) -> set[str] | None:
    """The allowed values of a property, looking through $ref, anyOf (nullable) and array items."""
    node = resolve(schema, node)
    if "enum" in node:
        return set(node["enum"])
    if "const" in node:
        return {node["const"]}
    if node.get("type") == "array" and "items" in node:
        return enum_values(schema, node["items"])
    for branch in node.get("anyOf", []):
        values = enum_values(schema, branch)
        if values is not None:
            return values
    return None


def props(tool: Tool) -> dict[str, dict[str, Any]]:
    properties: dict[str, dict[str, Any]] = tool.input_schema.get("properties", {})
    return properties


async def test_the_server_offers_exactly_the_tools_the_issue_lists(me: Session):
    assert set(me.tools) == TOOLS


async def test_every_tool_description_says_what_it_does_and_shows_an_example(me: Session):
    offenders = {n: t.description for n, t in me.tools.items() if not t.description or "Example" not in t.description}
    assert offenders == {}
    for name, tool in me.tools.items():
        assert tool.description is not None and f"{name}(" in tool.description, f"{name}'s example does not call it"


async def test_every_tool_sets_every_annotation_hint_explicitly(me: Session):
    for name, tool in me.tools.items():
        hints = tool.annotations
        assert hints is not None, f"{name} has no annotations"
        missing = [h for h in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint")
                   if getattr(hints, h) is None]
        assert missing == [], f"{name} leaves {missing} unset"


async def test_read_only_hint_marks_exactly_the_reads_and_a_read_is_never_destructive(me: Session):
    read_only = {n for n, t in me.tools.items() if t.annotations and t.annotations.read_only_hint}
    assert read_only == READS
    for name in READS:
        hints = me.tools[name].annotations
        assert hints is not None and hints.destructive_hint is False and hints.idempotent_hint is True, name


async def test_every_writer_that_can_overwrite_or_remove_data_is_destructive(me: Session):
    writers = set(me.tools) - READS
    destructive = {n for n in writers if me.tools[n].annotations and me.tools[n].annotations.destructive_hint}
    assert destructive == writers - ADDITIVE
    assert {"update_task", "set_due_date", "set_priority", "rename_tag", "undo_last_change"} <= destructive


async def test_only_creating_a_task_and_undoing_are_not_idempotent(me: Session):
    not_idempotent = {n for n, t in me.tools.items() if t.annotations and t.annotations.idempotent_hint is False}
    assert not_idempotent == NOT_IDEMPOTENT


async def test_every_tool_declares_an_object_output_schema(me: Session):
    for name, tool in me.tools.items():
        assert tool.output_schema is not None, f"{name} has no outputSchema"
        assert tool.output_schema.get("type") == "object", f"{name}'s outputSchema is not an object"
        assert tool.output_schema.get("properties"), f"{name}'s outputSchema has no properties"


async def test_single_task_tools_return_the_local_due_and_list_tools_return_compact_rows(me: Session):
    for name in ("add_task", "get_task", "update_task", "reopen_task", "restore_task", "set_due_date"):
        assert {"due_at", "due_local", "version"} <= set(me.tools[name].output_schema["properties"]), name
    for name in ("list_tasks", "search_tasks"):
        schema = me.tools[name].output_schema
        assert set(schema["properties"]) == {"data", "count", "count_exact", "next_cursor"}, name
        row = resolve(schema, schema["properties"]["data"]["items"])
        assert set(row["properties"]) == COMPACT_ROW, name


async def test_every_input_property_of_every_tool_has_a_description(me: Session):
    undescribed = {(n, p) for n, t in me.tools.items() for p, s in props(t).items() if not s.get("description")}
    assert undescribed - UNDESCRIBED_KNOWN == set()


async def test_add_task_and_update_task_describe_due_at_reminders_and_recurrence(me: Session):
    undescribed = {(n, p) for n, t in me.tools.items() for p, s in props(t).items() if not s.get("description")}
    assert undescribed & UNDESCRIBED_KNOWN == set()


async def test_enumerated_arguments_list_their_allowed_values(me: Session):
    seen = set()
    for name, tool in me.tools.items():
        for prop, schema in props(tool).items():
            if prop in ENUMS:
                seen.add(prop)
                assert enum_values(tool.input_schema, schema) == ENUMS[prop], f"{name}.{prop}"
    assert seen == set(ENUMS)


async def test_list_tasks_takes_every_filter_sort_and_cursor_of_the_rest_list(me: Session):
    assert set(props(me.tools["list_tasks"])) == {
        "status", "priority", "tags", "tag_mode", "due_before", "due_after", "overdue", "due_today", "has_due",
        "query", "project", "parent_id", "top_level", "sort", "order", "limit", "cursor",
    }
    for name in ("list_tasks", "search_tasks"):
        limit = props(me.tools[name])["limit"]
        assert (limit["default"], limit["maximum"], limit["minimum"]) == (20, 100, 1), name


async def test_exactly_the_bulk_tools_take_up_to_50_task_ids(me: Session):
    assert {n for n, t in me.tools.items() if "task_ids" in props(t)} == BULK
    for name in BULK:
        schema = props(me.tools[name])["task_ids"]
        array = next(b for b in schema["anyOf"] if b.get("type") == "array")
        assert array["maxItems"] == 50, name
        assert "task_id" in props(me.tools[name]), name


async def test_every_change_to_an_existing_task_takes_an_optional_expected_version(me: Session):
    for name, tool in me.tools.items():
        if "task_id" in props(tool) and name not in READS:
            assert "expected_version" in props(tool), name
            assert "expected_version" not in tool.input_schema.get("required", []), name


async def test_the_server_instructions_tell_a_model_how_to_start(me: Session):
    instructions = me.client.instructions or ""
    for word in ("whoami", "list_tasks", "search_tasks", "timezone", "next_cursor", "expected_version",
                 "list_projects", "parent_id", "move_task", 'subtasks="complete"'):
        assert word in instructions, word


def scalar_types(node: dict[str, Any]) -> set[str]:
    """The types a value (or each item of a list) may have, looking through anyOf and array items."""
    if node.get("type") == "array":
        return scalar_types(node["items"])
    if "anyOf" in node:
        return set().union(*(scalar_types(branch) for branch in node["anyOf"]))
    return {node["type"]} if "type" in node else set()


async def test_every_project_argument_takes_an_id_or_a_name(me: Session):
    takers = {n: props(t)["project"] for n, t in me.tools.items() if "project" in props(t)}
    assert set(takers) == {"add_task", "update_task", "list_tasks", "search_tasks", "move_task", "rename_project",
                           "archive_project", "unarchive_project", "delete_project"}
    for name, schema in takers.items():
        assert {"integer", "string"} <= scalar_types(schema), name
        assert "name" in schema["description"], name


async def test_a_freshly_built_server_offers_the_same_catalogue_and_acts_for_its_user(me: Session, uow: UnitOfWork):
    server = build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=me.actor.id))
    async with Client(server) as client:
        fresh = {t.name: t for t in (await client.list_tools()).tools}
        who = await client.call_tool("whoami", {})
    assert fresh == me.tools
    assert who.structured_content is not None and who.structured_content["user_id"] == me.actor.id

