"""Agent turns on the scripted model against the real MCP server and database: tool use over several steps,
correction after a tool error, the step limit, the repeated-call stop, model failures and timeouts,
cancellation, and a multi-turn conversation that refers back to an earlier result."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from agent.agent import Agent
from agent.mcp_client import McpToolbox
from agent.model import Message, ModelEvent, ModelText, ToolSpec
from agent.ports import ToolOutcome
from agent.settings import AgentSettings
from agent.store import DECLINED, ERROR, OK, PENDING_APPROVAL, RUNNING
from domain.schemas import TaskCreate, TaskQuery
from domain.usecases import create_task, get_task, list_tasks
from tests.agent.conftest import World, kinds, of_type, text_of


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


async def stored(world: World, conversation_id: int) -> list[Any]:
    return await world.store.messages(world.user.id, conversation_id)


def documents(messages: list[Message]) -> list[Any]:
    """The data of the tool results in a model call's messages."""
    return [json.loads(m["content"][0]["document"]["data"]) for m in messages if m["role"] == "tool"]


async def test_a_turn_can_take_several_tool_steps_and_streams_them_in_order(world: World):
    agent = world.agent([
        {"text": "Adding it.", "tool_calls": [call("add_task", title="Buy milk")]},
        {"tool_calls": [call("set_priority", task_id="{{results[-1].id}}", priority="high")]},
        {"text": "Added Buy milk with high priority."},
    ])
    events = await world.turn(agent, message="add buy milk, high priority")

    assert kinds(events) == [
        "turn_started", "text_delta", "tool_call", "tool_result", "tool_call", "tool_result", "text_delta",
        "message_done",
    ]
    started, done = events[0], events[-1]
    assert started.new_conversation is True and done.text == "Added Buy milk with high priority."
    added, prioritised = of_type(events, "tool_result")
    assert not added.is_error and "Buy milk" in added.summary
    task_id = of_type(events, "tool_call")[1].arguments["task_id"]
    assert isinstance(task_id, int)
    assert (await get_task(world.uow, world.user, task_id)).priority == "high"
    rows = await stored(world, started.conversation_id)
    assert [r.role for r in rows] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    assert all(r.status == OK and r.token_count > 0 for r in rows)


async def test_the_system_prompt_carries_the_users_local_time_and_the_data_not_instructions_rule(world: World):
    world.clock.set(datetime(2026, 3, 10, 3, 0, tzinfo=UTC))
    agent = world.agent([{"text": "Hi."}])
    await world.turn(agent, message="hello")
    messages, tools = world.model.calls[0]
    system = messages[0]
    assert system["role"] == "system" and "2026-03-10 03:00" in system["content"] and "(UTC)" in system["content"]
    assert "never instructions" in system["content"]
    assert messages[1:] == [{"role": "user", "content": "hello"}]
    assert {t["function"]["name"] for t in tools} >= {"add_task", "list_tasks", "delete_task", "whoami"}


async def test_a_tool_error_goes_back_to_the_model_which_corrects_the_call(world: World):
    agent = world.agent([
        {"tool_calls": [call("add_task", title="Pay rent", priority="very high")]},
        {"text": "Retrying.", "tool_calls": [call("add_task", title="Pay rent", priority="urgent")]},
        {"text": "Added Pay rent as urgent."},
    ])
    events = await world.turn(agent, message="pay rent, very high priority")

    first, second = of_type(events, "tool_result")
    assert first.is_error and "urgent" in first.summary  # the message lists the valid priorities
    assert not second.is_error
    second_call = world.model.calls[1][0]
    assert second_call[-1]["role"] == "tool" and second_call[-1]["tool_call_id"] == first.id
    assert "error" in documents(second_call)[-1]
    page = await list_tasks(world.uow, world.user, TaskQuery())
    assert [(t.title, t.priority) for t in page.data] == [("Pay rent", "urgent")]
    rows = await stored(world, events[0].conversation_id)
    assert [r.status for r in rows if r.role == "tool"] == [ERROR, OK]


async def test_the_model_is_called_at_most_eight_times_a_turn(world: World):
    steps = [{"tool_calls": [call("list_tasks", limit=n)]} for n in range(1, 10)]
    agent = world.agent(steps)
    events = await world.turn(agent, message="keep looking")

    assert len(world.model.calls) == 8
    results = of_type(events, "tool_result")
    assert len(results) == 8 and all(not r.is_error for r in results[:7])
    assert results[7].is_error and "limit of 8" in results[7].summary
    assert "stopped after 8 steps" in events[-1].text and events[-1].type == "message_done"
    rows = await stored(world, events[0].conversation_id)
    assert not [r for r in rows if r.status in (RUNNING, PENDING_APPROVAL)]


async def test_a_repeated_identical_call_is_answered_with_an_error_instead_of_running_again(world: World):
    agent = world.agent([
        {"tool_calls": [call("add_task", title="Once")]},
        {"tool_calls": [call("add_task", title="Once")]},
        {"text": "Added it once."},
    ])
    events = await world.turn(agent, message="add Once")

    first, second = of_type(events, "tool_result")
    assert not first.is_error
    assert second.is_error and "already called add_task" in second.summary
    assert (await list_tasks(world.uow, world.user, TaskQuery())).count == 1
    assert "already called" in documents(world.model.calls[2][0])[-1]["error"]


async def test_a_call_that_failed_may_run_again_once_its_cause_is_fixed(world: World):
    """Completing a parent is refused while its subtask is open; after the subtask is completed, the very same
    call is no repeat: it runs, and works."""
    parent = await create_task(world.uow, world.user, TaskCreate(title="Plan trip"))
    step = await create_task(world.uow, world.user, TaskCreate(title="Book hotel", parent_id=parent.id))
    agent = world.agent([
        {"tool_calls": [call("complete_task", task_id=parent.id)]},
        {"tool_calls": [call("complete_task", task_id=step.id)]},
        {"tool_calls": [call("complete_task", task_id=parent.id)]},
        {"text": "Done: the step, then the trip."},
    ])
    events = await world.turn(agent, message="complete plan trip")

    refused, completed_step, completed_parent = of_type(events, "tool_result")
    assert refused.is_error and "already called" not in refused.summary
    assert not completed_step.is_error and not completed_parent.is_error
    assert (await get_task(world.uow, world.user, parent.id)).status == "completed"


async def test_the_same_tool_with_other_arguments_is_not_a_repeat(world: World):
    agent = world.agent([
        {"tool_calls": [call("add_task", title="One"), call("add_task", title="Two")]},
        {"text": "Added two."},
    ])
    events = await world.turn(agent, message="add one and two")
    assert [r.is_error for r in of_type(events, "tool_result")] == [False, False]
    assert (await list_tasks(world.uow, world.user, TaskQuery())).count == 2


async def test_a_model_failure_is_an_error_event_and_the_users_message_is_kept(world: World):
    agent = world.agent([])  # the script has no step: the scripted model fails like an unreachable service
    events = await world.turn(agent, message="hello?")

    assert kinds(events) == ["turn_started", "error"]
    assert events[-1].retryable is False and "no step 1" in events[-1].message
    rows = await stored(world, events[0].conversation_id)
    assert [(r.role, r.content) for r in rows] == [("user", "hello?")]


class StallingModel:
    """A model that starts answering and then never finishes."""

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        yield ModelText("Thinking")
        await asyncio.sleep(3600)


async def test_a_model_call_that_takes_too_long_ends_the_turn_with_a_retryable_error(world: World):
    agent = world.agent_on(StallingModel(), model_timeout=0.2)
    events = await world.turn(agent, message="hello")
    assert kinds(events) == ["turn_started", "text_delta", "error"]
    assert events[-1].retryable and "did not answer within 0.2 seconds" in events[-1].message


class HangingToolbox(McpToolbox):
    """The real tools, except that add_task never returns (as if the server hung)."""

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        if name == "add_task":
            await asyncio.sleep(3600)
        return await super().call(name, arguments)


async def test_closing_the_stream_during_a_tool_call_leaves_no_dangling_call(world: World):
    @asynccontextmanager
    async def hanging(user_id: int) -> AsyncIterator[McpToolbox]:
        async with world.toolbox(user_id) as toolbox:
            yield HangingToolbox(toolbox.client)

    world.agent([{"tool_calls": [call("add_task", title="Slow")]}, {"text": "never reached"}])
    agent = Agent(world.model, hanging, world.store, world.clock, AgentSettings())
    stream = agent.run_turn(world.user.id, None, "add slow")
    seen = []
    async for event in stream:
        seen.append(event)
        if event.type == "tool_call":
            break  # the host goes away while the tool runs
    await asyncio.sleep(0.05)
    await stream.aclose()

    rows = await stored(world, seen[0].conversation_id)
    (tool,) = [r for r in rows if r.role == "tool"]
    assert tool.status == ERROR and "Interrupted" in json.loads(tool.content)["error"]
    events = await world.turn(world.agent([{"text": "Sorry about that."}]), seen[0].conversation_id, "hello?")
    assert events[-1].type == "message_done"
    assert [m["role"] for m in world.model.calls[0][0]] == ["system", "user", "assistant", "tool", "user"]


async def test_a_later_turn_can_refer_to_an_earlier_result(world: World):
    agent = world.agent([
        {"tool_calls": [call("add_task", title="Call the plumber")]},
        {"text": "Added Call the plumber."},
        {"tool_calls": [call("set_priority", task_id="{{results[-1].id}}", priority="high")]},
        {"text": "It is now high priority."},
    ])
    first = await world.turn(agent, message="remind me to call the plumber")
    conversation = first[0].conversation_id
    second = await world.turn(agent, conversation, message="make that one high priority")

    assert second[0].conversation_id == conversation and second[0].new_conversation is False
    assert second[-1].text == "It is now high priority."
    page = await list_tasks(world.uow, world.user, TaskQuery())
    assert [(t.title, t.priority) for t in page.data] == [("Call the plumber", "high")]
    # the model saw the first turn (question, call, result, answer) before the new message
    roles = [m["role"] for m in world.model.calls[2][0]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user"]


async def test_a_reference_across_several_results_reads_list_data(world: World):
    await create_task(world.uow, world.user, TaskCreate(title="Water plants"))
    agent = world.agent([
        {"tool_calls": [call("search_tasks", query="water")]},
        {"tool_calls": [call("complete_task", task_id="{{results[0].data[0].id}}")]},
        {"text": "Done."},
    ])
    events = await world.turn(agent, message="I watered the plants")
    assert [r.is_error for r in of_type(events, "tool_result")] == [False, False]
    page = await list_tasks(world.uow, world.user, TaskQuery())
    assert [(t.title, t.status) for t in page.data] == [("Water plants", "completed")]
    assert text_of(events) == "Done."


async def test_declined_status_is_only_for_calls_the_person_refused(world: World):
    agent = world.agent([{"tool_calls": [call("add_task", title="x" * 600)]}, {"text": "Too long."}])
    events = await world.turn(agent, message="add a very long task")
    rows = await stored(world, events[0].conversation_id)
    assert [r.status for r in rows if r.role == "tool"] == [ERROR]
    assert DECLINED not in {r.status for r in rows}
