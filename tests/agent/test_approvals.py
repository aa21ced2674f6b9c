"""Approvals on the scripted model against the real MCP server and database: a call that needs the person's yes
ends the turn with `approval_required` and waits in the conversation; yes runs it and the turn goes on, no tells the
model the person declined, and a new message instead of an answer records a denial first."""

from __future__ import annotations

import json

import pytest

from agent.store import DECLINED, OK, PENDING_APPROVAL
from domain.errors import TaskNotFound
from domain.schemas import TaskQuery
from domain.usecases import get_task, list_tasks
from tests.agent.conftest import World, a_task, ask_to_delete, call, kinds, of_type


async def test_a_delete_waits_for_approval_and_ends_the_turn(world: World):
    task_id = await a_task(world)
    _, events = await ask_to_delete(world, task_id)

    assert kinds(events) == ["turn_started", "text_delta", "tool_call", "approval_required"]
    (asked,) = of_type(events, "approval_required")
    assert (asked.name, asked.arguments) == ("delete_task", {"task_id": task_id}) and "approval" in asked.reason
    assert (await get_task(world.uow, world.user, task_id)).title == "Old plan"
    rows = await world.store.messages(world.user.id, events[0].conversation_id)
    assert [(r.role, r.status) for r in rows][-1] == ("tool", PENDING_APPROVAL)


async def test_approving_runs_the_call_and_the_turn_goes_on(world: World):
    task_id = await a_task(world)
    agent, events = await ask_to_delete(world, task_id, {"text": "Deleted the old plan."})
    conversation, asked = events[0].conversation_id, of_type(events, "approval_required")[0]

    resumed = await world.turn(agent, conversation, approval={"tool_call_id": asked.tool_call_id, "approved": True})

    assert kinds(resumed) == ["turn_started", "tool_result", "text_delta", "message_done"]
    assert resumed[0].conversation_id == conversation and not resumed[1].is_error
    with pytest.raises(TaskNotFound):
        await get_task(world.uow, world.user, task_id)
    sent = world.model.calls[1][0]
    assert sent[-1]["role"] == "tool" and sent[-1]["tool_call_id"] == asked.tool_call_id
    assert json.loads(sent[-1]["content"][0]["document"]["data"])["data"][0]["id"] == task_id
    rows = await world.store.messages(world.user.id, conversation)
    assert [r.status for r in rows if r.role == "tool"] == [OK]


async def test_declining_tells_the_model_and_keeps_the_task(world: World):
    task_id = await a_task(world)
    agent, events = await ask_to_delete(world, task_id, {"text": "OK, I kept it."})
    conversation, asked = events[0].conversation_id, of_type(events, "approval_required")[0]

    resumed = await world.turn(agent, conversation, approval={"tool_call_id": asked.tool_call_id, "approved": False})

    assert kinds(resumed) == ["turn_started", "tool_result", "text_delta", "message_done"]
    assert resumed[1].is_error and "declined" in resumed[1].summary
    assert (await get_task(world.uow, world.user, task_id)).title == "Old plan"
    data = json.loads(world.model.calls[1][0][-1]["content"][0]["document"]["data"])
    assert "declined" in data["error"]
    rows = await world.store.messages(world.user.id, conversation)
    assert [r.status for r in rows if r.role == "tool"] == [DECLINED]


async def test_a_new_message_instead_of_an_answer_records_a_denial_first(world: World):
    task_id = await a_task(world)
    agent, events = await ask_to_delete(world, task_id, {"text": "Here is what you have."})
    conversation, asked = events[0].conversation_id, of_type(events, "approval_required")[0]

    later = await world.turn(agent, conversation, message="actually, never mind")

    assert kinds(later) == ["turn_started", "tool_result", "text_delta", "message_done"]
    assert later[1].id == asked.tool_call_id and later[1].is_error
    assert (await get_task(world.uow, world.user, task_id)).title == "Old plan"
    sent = world.model.calls[1][0]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool", "user"]
    assert "new message" in json.loads(sent[3]["content"][0]["document"]["data"])["error"]
    again = await world.turn(agent, conversation, approval={"tool_call_id": asked.tool_call_id, "approved": True})
    assert kinds(again) == ["turn_started", "error"] and "Nothing is waiting" in again[-1].message
    assert (await get_task(world.uow, world.user, task_id)).title == "Old plan"


async def test_bulk_calls_over_five_tasks_need_approval_and_five_do_not(world: World):
    ids = [await a_task(world, f"Task {n}") for n in range(6)]
    agent = world.agent([
        {"tool_calls": [call("set_priority", task_ids=ids[:5], priority="low")]},
        {"tool_calls": [call("complete_task", task_ids=ids)]},
        {"text": "Completed all six."},
    ])
    events = await world.turn(agent, message="low priority for five, then complete all")

    results, (asked,) = of_type(events, "tool_result"), of_type(events, "approval_required")
    assert len(results) == 1 and not results[0].is_error
    assert asked.name == "complete_task" and "6 tasks" in asked.reason
    resumed = await world.turn(agent, events[0].conversation_id,
                               approval={"tool_call_id": asked.tool_call_id, "approved": True})
    assert resumed[-1].text == "Completed all six."
    page = await list_tasks(world.uow, world.user, TaskQuery(limit=100))
    assert {t.status for t in page.data} == {"completed"}


async def test_the_approval_tools_are_configurable(world: World):
    task_id = await a_task(world)
    agent = world.agent([{"tool_calls": [call("delete_task", task_id=task_id)]}, {"text": "Deleted."}],
                        approval_tools=frozenset({"add_task"}))
    events = await world.turn(agent, message="delete it")
    assert not of_type(events, "approval_required") and events[-1].text == "Deleted."


async def test_two_calls_waiting_are_answered_one_at_a_time(world: World):
    first, second = await a_task(world, "A"), await a_task(world, "B")
    agent = world.agent([
        {"tool_calls": [call("delete_task", task_id=first), call("delete_task", task_id=second)]},
        {"text": "Deleted A, kept B."},
    ])
    events = await world.turn(agent, message="delete A and B")
    asked = of_type(events, "approval_required")
    assert [a.arguments["task_id"] for a in asked] == [first, second]
    conversation = events[0].conversation_id

    middle = await world.turn(agent, conversation, approval={"tool_call_id": asked[0].tool_call_id, "approved": True})
    assert kinds(middle) == ["turn_started", "tool_result", "approval_required"]
    assert middle[-1].tool_call_id == asked[1].tool_call_id and len(world.model.calls) == 1

    last = await world.turn(agent, conversation, approval={"tool_call_id": asked[1].tool_call_id, "approved": False})
    assert last[-1].text == "Deleted A, kept B."
    assert (await get_task(world.uow, world.user, second)).title == "B"
    with pytest.raises(TaskNotFound):
        await get_task(world.uow, world.user, first)


async def test_an_approval_for_someone_elses_conversation_is_not_found(world: World):
    task_id = await a_task(world)
    agent, events = await ask_to_delete(world, task_id)
    asked = of_type(events, "approval_required")[0]
    stranger = [e async for e in agent.run_turn(world.user.id + 10_000, events[0].conversation_id, None,
                                                 {"tool_call_id": asked.tool_call_id, "approved": True})]
    assert kinds(stranger) == ["error"] and "not found" in stranger[0].message
    assert (await get_task(world.uow, world.user, task_id)).title == "Old plan"
