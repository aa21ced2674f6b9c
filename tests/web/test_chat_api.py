"""POST /api/v1/chat over HTTP: a turn's events in order as server-sent events, approvals, heartbeats, bad
requests, other users' conversations, and a client that goes away mid-turn.

The web host is the real one (create_app over the embedded runtime; the agent reaches the MCP server in-process);
only the chat model is scripted (TODO_AGENT_MODEL=scripted:<file>), because Cohere cannot run here."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

import pytest
from sqlmodel import col, select

from agent.model_choice import NO_MODEL_HELP
from agent.store import Message
from domain.models import Task
from runtime.bootstrap import Runtime
from tests.api.conftest import assert_problem
from tests.hosts import eventually, tasks_of, user_of
from tests.services.streaming import Reader
from tests.web.conftest import Host, chat, client_of, data, kinds, turn

pytestmark = pytest.mark.slow


def call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


async def messages_of(rt: Runtime, conversation_id: int) -> list[Message]:
    async with rt.uow.read() as tx:
        query = select(Message).where(col(Message.conversation_id) == conversation_id).order_by(col(Message.seq))
        return list((await tx.session.exec(query)).all())


async def test_a_turn_streams_its_events_in_order_and_ends(host: Host, runtime: Runtime, tmp_path: Path) -> None:
    app = host([{"text": "Adding it now.", "tool_calls": [call("add_task", title="Buy milk")]},
                {"text": "Buy milk is on your list."}])
    ada = await user_of(runtime)
    async with client_of(app) as client:
        status = (await client.get("/api/v1/chat", headers=ada.headers)).json()
        assert status == {"available": True, "message": None, "model": f"scripted {tmp_path / 'script.json'}"}
        events = await turn(client, ada, message="add buy milk")
        conversation_id = data(events[0])["conversation_id"]
        history = (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=ada.headers)).json()

    assert kinds(events) == ["turn_started", "text_delta", "tool_call", "tool_result", "text_delta", "message_done",
                             "turn_end"]
    assert [int(e.id or 0) for e in events] == list(range(1, len(events) + 1))
    assert all(data(e)["type"] == e.event for e in events)
    started, tool_call, result, done = (data(next(e for e in events if e.event == kind)) for kind in
                                        ("turn_started", "tool_call", "tool_result", "message_done"))
    assert started["new_conversation"] is True
    assert (tool_call["name"], tool_call["arguments"]) == ("add_task", {"title": "Buy milk"})
    assert result["id"] == tool_call["id"] and result["is_error"] is False and "Buy milk" in result["summary"]
    streamed = "".join(data(e)["text"] for e in events if e.event == "text_delta")
    assert streamed == "Adding it now.Buy milk is on your list." and done["text"] == "Buy milk is on your list."
    assert [t.title for t in await tasks_of(runtime, ada.id)] == ["Buy milk"]
    # The history keeps each call with the one-line result the turn showed.
    assert [m["role"] for m in history["data"]] == ["user", "assistant", "tool", "assistant"]
    stored_call, stored_result = history["data"][1]["tool_calls"][0], history["data"][2]
    assert (stored_call["id"], stored_call["name"]) == (tool_call["id"], "add_task")
    assert (stored_result["tool_call_id"], stored_result["summary"]) == (tool_call["id"], result["summary"])


async def test_a_delete_waits_for_approval_and_runs_when_approved(host: Host, runtime: Runtime) -> None:
    app = host([{"text": "Adding.", "tool_calls": [call("add_task", title="Old plan")]},
                {"text": "Added."},
                {"text": "Deleting it.", "tool_calls": [call("delete_task", task_id="{{results[-1].id}}")]},
                {"text": "Deleted Old plan."}])
    ada = await user_of(runtime)
    async with client_of(app) as client:
        first = await turn(client, ada, message="add old plan")
        conversation_id = data(first[0])["conversation_id"]
        asked = await turn(client, ada, conversation_id=conversation_id, message="delete it")
        assert kinds(asked) == ["turn_started", "text_delta", "tool_call", "approval_required", "turn_end"]
        approval = data(asked[-2])
        assert approval["name"] == "delete_task" and approval["reason"]
        (task,) = await tasks_of(runtime, ada.id)
        assert task.deleted_at is None  # nothing ran before the answer
        waiting = (await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=ada.headers)).json()
        call_message, held = waiting["data"][-2:]
        assert call_message["tool_calls"][0]["arguments"] == {"task_id": task.id}
        assert (held["status"], held["summary"]) == ("pending_approval", approval["reason"])

        answered = await turn(client, ada, conversation_id=conversation_id,
                              approval={"tool_call_id": approval["tool_call_id"], "approved": True})
    assert kinds(answered) == ["turn_started", "tool_result", "text_delta", "message_done", "turn_end"]
    assert data(answered[1])["id"] == approval["tool_call_id"] and data(answered[1])["is_error"] is False
    (task,) = await tasks_of(runtime, ada.id)
    assert task.deleted_at is not None


async def test_a_denied_call_never_runs(host: Host, runtime: Runtime) -> None:
    app = host([{"tool_calls": [call("add_task", title="Keep me")]}, {"text": "Added."},
                {"tool_calls": [call("delete_task", task_id="{{results[-1].id}}")]}, {"text": "Kept it."}])
    ada = await user_of(runtime)
    async with client_of(app) as client:
        conversation_id = data((await turn(client, ada, message="add"))[0])["conversation_id"]
        asked = await turn(client, ada, conversation_id=conversation_id, message="delete it")
        tool_call_id = data(asked[-2])["tool_call_id"]
        answered = await turn(client, ada, conversation_id=conversation_id,
                              approval={"tool_call_id": tool_call_id, "approved": False})
        again = await turn(client, ada, conversation_id=conversation_id,
                           approval={"tool_call_id": tool_call_id, "approved": True})
    assert data(answered[-2])["text"] == "Kept it."
    assert kinds(again) == ["turn_started", "error", "turn_end"]  # answered already: nothing runs twice
    (task,) = await tasks_of(runtime, ada.id)
    assert task.deleted_at is None


async def test_heartbeats_keep_a_slow_turn_alive(host: Host, runtime: Runtime) -> None:
    runtime.services = dataclasses.replace(runtime.services, stream_ping_seconds=0.05)
    app = host([{"text": "Thinking slowly.", "delay_ms": 400}])
    ada = await user_of(runtime)
    async with client_of(app) as client, chat(client, ada, message="hello") as reader:
        assert (await reader.event()).event == "turn_started"
        beat = await reader.next()
        assert beat.comments and beat.comments[0].startswith("ping") and not beat.data
        assert (await reader.event()).event == "text_delta"


async def test_a_client_that_goes_away_cancels_the_turn_and_the_conversation_stays_usable(
    host: Host, runtime: Runtime
) -> None:
    slow_text = "This answer is streamed very slowly, piece by piece, so the client can leave in the middle."
    app = host([{"text": "Adding.", "tool_calls": [call("add_task", title="Walk")]},
                {"text": slow_text, "delay_ms": 150},  # six pieces: done in 0.9 s if not stopped
                {"text": "Still here."}])
    ada = await user_of(runtime)
    async with client_of(app) as client:
        async with chat(client, ada, message="add walk") as reader:
            seen = [await reader.event() for _ in range(5)]
            assert kinds(seen)[-2:] == ["tool_result", "text_delta"]
        # The response is closed: the server stops the turn instead of finishing the slow answer.
        conversation_id = data(seen[0])["conversation_id"]
        await asyncio.sleep(1.5)
        stored = await messages_of(runtime, conversation_id)
        assert not any(slow_text in m.content for m in stored)
        assert all(m.status not in ("running", "pending_approval") for m in stored)
        assert [m.role for m in stored] == ["user", "assistant", "tool"]

        after = await turn(client, ada, conversation_id=conversation_id, message="are you there?")
    assert kinds(after) == ["turn_started", "text_delta", "message_done", "turn_end"]
    assert data(after[0]) == {"type": "turn_started", "conversation_id": conversation_id, "new_conversation": False}
    assert [t.title for t in await tasks_of(runtime, ada.id)] == ["Walk"]


async def test_after_the_idle_timeout_the_next_message_opens_a_new_conversation(host: Host, runtime: Runtime) -> None:
    app = host([{"text": "Hi."}, {"text": "Hello again."}], TODO_AGENT_SESSION_TIMEOUT_MINUTES="0.005")
    ada = await user_of(runtime)
    async with client_of(app) as client:
        first = data((await turn(client, ada, message="hi"))[0])
        await asyncio.sleep(0.5)
        second = data((await turn(client, ada, conversation_id=first["conversation_id"], message="hi again"))[0])
        listed = (await client.get("/api/v1/conversations", headers=ada.headers)).json()
    assert second["new_conversation"] is True and second["conversation_id"] != first["conversation_id"]
    assert [c["id"] for c in listed] == [second["conversation_id"], first["conversation_id"]]


async def test_without_a_model_chat_says_how_to_set_one_and_the_rest_works(host: Host, runtime: Runtime) -> None:
    app = host(None)
    ada = await user_of(runtime)
    async with client_of(app) as client:
        status = (await client.get("/api/v1/chat", headers=ada.headers)).json()
        refused = await client.post("/api/v1/chat", json={"message": "hi"}, headers=ada.headers)
        created = await client.post("/api/v1/tasks", json={"title": "Still works"}, headers=ada.headers)
    assert status == {"available": False, "message": NO_MODEL_HELP, "model": None}
    assert "CO_API_KEY" in NO_MODEL_HELP
    assert assert_problem(refused, 503)["detail"] == NO_MODEL_HELP
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "message"),
        ({"message": "hi", "approval": {"tool_call_id": "c1", "approved": True}}, "message"),
        ({"message": "   "}, "message"),
        ({"message": "x" * 8001}, "message"),
        ({"message": "hi\u0000there"}, "message"),
        ({"conversation_id": 1, "approval": {"tool_call_id": "c\u00001", "approved": True}}, "approval.tool_call_id"),
        ({"approval": {"tool_call_id": "c1", "approved": True}}, "conversation_id"),
        ({"conversation_id": 1, "approval": {"tool_call_id": "", "approved": True}}, "approval.tool_call_id"),
        ({"conversation_id": 1, "approval": {"tool_call_id": "c1"}}, "approval.approved"),
        ({"message": "hi", "conversation_id": 0}, "conversation_id"),
        ({"message": "hi", "conversation_id": "seven"}, "conversation_id"),
        ({"message": "hi", "model": "gpt"}, "model"),
        ({"message": 42}, "message"),
    ],
)
async def test_bad_requests_are_problems_naming_the_field(
    host: Host, runtime: Runtime, body: dict[str, object], field: str
) -> None:
    app = host([])
    ada = await user_of(runtime)
    async with client_of(app) as client:
        response = await client.post("/api/v1/chat", json=body, headers=ada.headers)
    assert_problem(response, 422, field)


async def test_chat_needs_a_token_and_another_users_conversation_is_not_found(host: Host, runtime: Runtime) -> None:
    app = host([{"text": "Hi Ada."}])
    ada, bob = await user_of(runtime), await user_of(runtime, "bob@example.com")
    async with client_of(app) as client:
        conversation_id = data((await turn(client, ada, message="hi"))[0])["conversation_id"]
        anonymous = await client.post("/api/v1/chat", json={"message": "hi"})
        status = await client.get("/api/v1/chat")
        as_bob = await client.post("/api/v1/chat", json={"conversation_id": conversation_id, "message": "hi"},
                                   headers=bob.headers)
        approving = await client.post("/api/v1/chat", headers=bob.headers, json={
            "conversation_id": conversation_id, "approval": {"tool_call_id": "x", "approved": True}})
        history = await client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=bob.headers)
        missing = await client.post("/api/v1/chat", json={"conversation_id": 999_999, "message": "hi"},
                                    headers=ada.headers)
    assert_problem(anonymous, 401) and assert_problem(status, 401)
    for response in (as_bob, approving, history):
        assert_problem(response, 404, "conversation_id")
    assert_problem(missing, 404, "conversation_id")
    assert len(await messages_of(runtime, conversation_id)) == 2  # Bob's attempts wrote nothing


async def test_a_model_failure_is_an_error_event_and_the_stream_still_ends(host: Host, runtime: Runtime) -> None:
    app = host([])  # the script has no step: the model fails on the first call
    ada = await user_of(runtime)
    async with client_of(app) as client:
        events = await turn(client, ada, message="hi")
    assert kinds(events) == ["turn_started", "error", "turn_end"]
    assert "script" in data(events[1])["message"]


async def test_the_chat_changes_reach_the_live_stream(host: Host, runtime: Runtime) -> None:
    app = host([{"tool_calls": [call("add_task", title="Seen live")]}, {"text": "Added."}])
    ada = await user_of(runtime)
    async with client_of(app) as client, client.stream("GET", "/api/v1/stream", headers=ada.headers) as live:
        reader = Reader(live)
        assert (await reader.next()).comments == ["connected"]
        await turn(client, ada, message="add seen live")
        changed = await reader.event()

        async def created() -> Task | None:
            tasks = await tasks_of(runtime, ada.id)
            return tasks[0] if tasks else None

        task = await eventually(created)
    assert changed.event == "task.changed" and json.loads(changed.data)["id"] == task.id

