"""Approvals that cannot be bypassed, on the scripted model against the real MCP server and database: the tasks
that changing calls touch are counted across the calls of a step and of a turn (tools told apart by the server's
MCP annotations), tag-wide and blanking changes wait for the person, one approval runs its call at most once even
when answered twice at the same time, and an approval that comes after the session timeout runs nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from agent.agent import Agent
from agent.settings import AgentSettings
from agent.store import DECLINED, ConversationStore, Message
from domain.schemas import TaskCreate
from domain.usecases import complete_task, create_project, create_task, get_project, get_task
from tests.agent.conftest import World, a_task, ask_to_delete, call, kinds, of_type

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


async def tasks(world: World, count: int) -> list[int]:
    return [await a_task(world, f"Task {n}") for n in range(count)]


async def statuses(world: World, ids: list[int]) -> list[str]:
    return [(await get_task(world.uow, world.user, task_id)).status for task_id in ids]


async def test_eight_single_task_completions_in_one_step_wait_like_one_bulk_call_of_eight(world: World):
    """Eight complete_task calls of one task each need approval together, and the reason names the count."""
    ids = await tasks(world, 8)
    agent = world.agent([{"tool_calls": [call("complete_task", task_id=i) for i in ids]}, {"text": "Done."}])

    events = await world.turn(agent, message="complete everything")

    asked = of_type(events, "approval_required")
    assert [a.arguments["task_id"] for a in asked] == ids and not of_type(events, "tool_result")
    assert all("8 tasks" in a.reason for a in asked)
    assert set(await statuses(world, ids)) == {"open"}


async def test_a_turn_that_changes_tasks_step_by_step_waits_once_it_passes_five(world: World):
    """Three tasks changed in one step and three more in the next: the second step waits (six in the turn)."""
    ids = await tasks(world, 6)
    agent = world.agent([
        {"tool_calls": [call("set_priority", task_id=i, priority="high") for i in ids[:3]]},
        {"tool_calls": [call("complete_task", task_id=i) for i in ids[3:]]},
        {"text": "Done."},
    ])

    events = await world.turn(agent, message="prioritise three, complete three")

    assert len(of_type(events, "tool_result")) == 3
    asked = of_type(events, "approval_required")
    assert [a.arguments["task_id"] for a in asked] == ids[3:] and all("6 tasks" in a.reason for a in asked)
    assert set(await statuses(world, ids[3:])) == {"open"}


async def test_calls_the_server_marks_read_only_are_not_counted(world: World):
    """Eight get_task calls read eight tasks: the server's readOnlyHint says nothing changes, so none waits."""
    ids = await tasks(world, 8)
    agent = world.agent([{"tool_calls": [call("get_task", task_id=i) for i in ids]}, {"text": "Read them."}])

    events = await world.turn(agent, message="show them")

    assert not of_type(events, "approval_required") and len(of_type(events, "tool_result")) == 8


async def test_approving_a_step_one_call_at_a_time_keeps_naming_the_count(world: World):
    """After one of the waiting calls is approved, the others are announced again with the step's reason."""
    ids = await tasks(world, 6)
    agent = world.agent([{"tool_calls": [call("complete_task", task_id=i) for i in ids]}, {"text": "All six."}])
    events = await world.turn(agent, message="complete all")
    conversation, asked = events[0].conversation_id, of_type(events, "approval_required")

    for waiting in asked:
        resumed = await world.turn(agent, conversation,
                                   approval={"tool_call_id": waiting.tool_call_id, "approved": True})
        assert all("6 tasks" in a.reason for a in of_type(resumed, "approval_required"))

    assert resumed[-1].text == "All six." and set(await statuses(world, ids)) == {"completed"}


@pytest.mark.parametrize(
    "step",
    [
        {"name": "delete_tag", "arguments": {"name": "work"}},
        {"name": "rename_tag", "arguments": {"name": "work", "new_name": "job"}},
        call("update_task", task_id=0, title="x", description=""),
        call("update_task", task_id=0, title="   "),
        call("update_task", task_id=0, description=" \n "),
    ],
    ids=["delete_tag", "rename_tag", "update_clears_description", "update_blank_title", "update_blank_description"],
)
async def test_tag_wide_and_blanking_changes_wait_for_approval(world: World, step: dict[str, Any]):
    """delete_tag, rename_tag and an update_task that blanks the title or description run only when approved."""
    task = await create_task(world.uow, world.user, TaskCreate(title="Keep", description="notes", tags=["work"]))
    if "task_id" in step["arguments"]:
        step = {"name": step["name"], "arguments": {**step["arguments"], "task_id": task.id}}
    agent = world.agent([{"tool_calls": [step]}, {"text": "Done."}])

    events = await world.turn(agent, message="go")

    assert kinds(events)[-1] == "approval_required" and not of_type(events, "tool_result")
    kept = await get_task(world.uow, world.user, task.id)
    assert (kept.title, kept.description, kept.tags) == ("Keep", "notes", ["work"])


async def test_deleting_a_project_waits_for_approval_by_default(world: World):
    """delete_project moves or trashes a whole project's tasks: it runs only when approved."""
    project = await create_project(world.uow, world.user, "Trip")
    await create_task(world.uow, world.user, TaskCreate(title="Pack", project="Trip"))
    agent = world.agent([{"tool_calls": [call("delete_project", project="Trip", tasks="trash")]}, {"text": "Done."}])

    events = await world.turn(agent, message="delete the trip project")

    assert kinds(events)[-1] == "approval_required" and not of_type(events, "tool_result")
    assert (await get_project(world.uow, world.user, project.id)).open_count == 1


async def test_an_update_that_keeps_text_in_title_and_description_runs_at_once(world: World):
    """A plain update_task of one task needs no approval."""
    task_id = await a_task(world)
    agent = world.agent([{"tool_calls": [call("update_task", task_id=task_id, title="New plan", description="d")]},
                         {"text": "Updated."}])
    events = await world.turn(agent, message="rename it")
    assert not of_type(events, "approval_required") and events[-1].text == "Updated."


class MeetingStore(ConversationStore):
    """The real store, except that each approval turn waits after reading its window until `parties` turns have
    read theirs: as when two answers to one approval arrive at the same moment."""

    def __init__(self, store: ConversationStore, parties: int) -> None:
        super().__init__(store.writer, reader=store.reader)
        self.parties, self.arrived, self.met = parties, 0, asyncio.Event()

    async def window(self, conversation_id: int, limit: int = 20) -> list[Message]:
        rows = await super().window(conversation_id, limit)
        self.arrived += 1
        if self.arrived >= self.parties:
            self.met.set()
        await self.met.wait()
        return rows


async def test_two_answers_to_one_approval_at_the_same_time_run_the_call_once(world: World):
    """Both answers read the waiting call; only the one that claims it runs undo, the other hears nothing waits."""
    first, second = await a_task(world, "A"), await a_task(world, "B")
    await complete_task(world.uow, world.user, first)
    await complete_task(world.uow, world.user, second)
    world.agent([{"tool_calls": [call("undo_last_change")]}, {"text": "Undone."}, {"text": "Undone."}])
    assert world.model is not None
    agent = Agent(world.model, world.toolbox, MeetingStore(world.store, 2), world.clock, AgentSettings())
    events = await world.turn(agent, message="undo that")
    (asked,) = of_type(events, "approval_required")
    answer = {"tool_call_id": asked.tool_call_id, "approved": True}

    both = await asyncio.gather(*(world.turn(agent, events[0].conversation_id, approval=answer) for _ in range(2)))

    assert sorted(len(of_type(turn, "tool_result")) for turn in both) == [0, 1]
    refused = next(turn for turn in both if not of_type(turn, "tool_result"))
    assert kinds(refused) == ["turn_started", "error"] and "Nothing is waiting" in refused[-1].message
    assert await statuses(world, [first, second]) == ["completed", "open"]


async def test_an_approval_after_the_session_timeout_expires_and_runs_nothing(world: World):
    """An answer 31 minutes after the conversation's last activity settles the call as expired and says so."""
    world.clock.set(T0)
    task_id = await a_task(world)
    agent, events = await ask_to_delete(world, task_id, {"text": "Deleted."})
    conversation, asked = events[0].conversation_id, of_type(events, "approval_required")[0]
    world.clock.advance(minutes=31)

    late = await world.turn(agent, conversation, approval={"tool_call_id": asked.tool_call_id, "approved": True})

    assert kinds(late) == ["turn_started", "tool_result", "error"]
    assert late[1].is_error and "expired" in late[-1].message and not late[-1].retryable
    assert (await get_task(world.uow, world.user, task_id)).title == "Old plan"
    rows = await world.store.messages(world.user.id, conversation)
    assert [r.status for r in rows if r.role == "tool"] == [DECLINED]
    assert len(world.model.calls) == 1  # the model was not asked to go on


async def test_an_approval_within_the_session_timeout_still_runs(world: World):
    """An answer 29 minutes later is in time."""
    world.clock.set(T0)
    task_id = await a_task(world)
    agent, events = await ask_to_delete(world, task_id, {"text": "Deleted."})
    world.clock.advance(minutes=29)
    asked = of_type(events, "approval_required")[0]
    resumed = await world.turn(agent, events[0].conversation_id,
                               approval={"tool_call_id": asked.tool_call_id, "approved": True})
    assert resumed[-1].text == "Deleted."

