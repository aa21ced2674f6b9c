"""The chat history over REST: your conversations, most recently active first, and their messages in order, as the
agent stored them (through the real store, or a real turn on the scripted model); anyone else's is not found."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mcp import Client

from agent.agent import Agent
from agent.mcp_client import McpToolbox
from agent.model_choice import build_model
from agent.store import ConversationStore, NewMessage
from domain.uow import UnitOfWork
from mcp_server import McpPorts, build_server
from tests.api.conftest import SECRET, User, assert_problem

C = "/api/v1/conversations"
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
TIMEOUT = timedelta(minutes=30)


async def a_conversation(store: ConversationStore, user: User, *texts: str, at: datetime = T0) -> int:
    """A new conversation of `user` holding a user message and an answer per text, all stored at `at`."""
    conversation, _ = await store.current_or_new(user.id, None, now=at, timeout=TIMEOUT)
    assert conversation.id is not None
    for text in texts:
        await store.append(conversation.id, [NewMessage("user", text), NewMessage("assistant", f"re: {text}")], now=at)
    return conversation.id


async def test_the_list_holds_only_your_conversations_most_recently_active_first(client, api_state, alice, bob):
    store = api_state.conversations
    older = await a_conversation(store, alice, "plan the week", at=T0)
    newer = await a_conversation(store, alice, "buy milk", at=T0 + timedelta(hours=1))
    await store.append(older, [NewMessage("user", "and the weekend?")], now=T0 + timedelta(hours=2))
    bobs = await a_conversation(store, bob, "bob's secret plan")

    r = await client.get(C, headers=alice.headers)

    assert r.status_code == 200, r.text
    listed = r.json()
    assert [c["id"] for c in listed] == [older, newer]
    assert [c["title"] for c in listed] == ["plan the week", "buy milk"]
    assert set(listed[0]) == {"id", "title", "started_at", "last_activity_at"}
    assert datetime.fromisoformat(listed[0]["last_activity_at"]).replace(tzinfo=UTC) == T0 + timedelta(hours=2)
    assert [c["id"] for c in (await client.get(C, headers=bob.headers)).json()] == [bobs]


async def test_the_list_is_empty_for_a_user_who_never_chatted_and_honours_its_limit(client, api_state, alice, bob):
    for hour in range(3):
        await a_conversation(api_state.conversations, alice, f"chat {hour}", at=T0 + timedelta(hours=hour))

    assert (await client.get(C, headers=bob.headers)).json() == []
    limited = (await client.get(C, params={"limit": 2}, headers=alice.headers)).json()
    assert [c["title"] for c in limited] == ["chat 2", "chat 1"]
    assert_problem(await client.get(C, params={"limit": 0}, headers=alice.headers), 422, "limit")


async def test_messages_come_in_order_with_roles_tool_calls_and_tool_call_ids(client, api_state, alice):
    store = api_state.conversations
    conversation = await a_conversation(store, alice)
    call = {"id": "call_1", "name": "list_tasks", "arguments": "{}"}
    await store.append(conversation, [
        NewMessage("user", "what is on today?"),
        NewMessage("assistant", "Looking.", tool_calls=[call]),
        NewMessage("tool", json.dumps({"data": []}), tool_call_id="call_1"),
        NewMessage("assistant", "Nothing today."),
    ], now=T0)

    r = await client.get(f"{C}/{conversation}/messages", headers=alice.headers)

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == 4 and [m["seq"] for m in body["data"]] == [1, 2, 3, 4]
    assert [(m["role"], m["content"]) for m in body["data"]] == [
        ("user", "what is on today?"), ("assistant", "Looking."), ("tool", '{"data": []}'),
        ("assistant", "Nothing today."),
    ]
    assert [m["tool_calls"] for m in body["data"]] == [None, [call | {"arguments": {}}], None, None]  # an object
    assert [m["tool_call_id"] for m in body["data"]] == [None, None, "call_1", None]
    assert {m["status"] for m in body["data"]} == {"ok"}


async def test_messages_page_after_a_seq(client, api_state, alice):
    conversation = await a_conversation(api_state.conversations, alice, "one", "two", "three")

    page = (await client.get(f"{C}/{conversation}/messages", params={"after_seq": 2, "limit": 3},
                             headers=alice.headers)).json()

    assert [m["seq"] for m in page["data"]] == [3, 4, 5] and page["count"] == 3
    assert [m["content"] for m in page["data"]] == ["two", "re: two", "three"]


@asynccontextmanager
async def tools_of(uow: UnitOfWork, user_id: int) -> AsyncIterator[McpToolbox]:
    """The real MCP server acting for one user, reached in-process."""
    async with Client(build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=user_id))) as client:
        yield McpToolbox(client)


async def test_a_real_agent_turn_is_readable_through_the_history_api(client, api_state, uow, alice, tmp_path: Path):
    steps: list[dict[str, Any]] = [
        {"text": "Adding it.", "tool_calls": [{"name": "add_task", "arguments": {"title": "Water the plants"}}]},
        {"text": "Added Water the plants."},
    ]
    script = tmp_path / "script.json"
    script.write_text(json.dumps(steps))
    model = build_model(script=str(script))
    assert model is not None
    agent = Agent(model, lambda user_id: tools_of(uow, user_id), api_state.conversations, uow.clock)

    events = [e async for e in agent.run_turn(alice.id, message="remind me to water the plants")]
    conversation = events[0].conversation_id

    listed = (await client.get(C, headers=alice.headers)).json()
    assert [(c["id"], c["title"]) for c in listed] == [(conversation, "remind me to water the plants")]
    messages = (await client.get(f"{C}/{conversation}/messages", headers=alice.headers)).json()["data"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    (call,) = messages[1]["tool_calls"]
    assert call["name"] == "add_task" and call["arguments"] == {"title": "Water the plants"}
    assert messages[2]["tool_call_id"] == call["id"] and messages[2]["status"] == "ok"
    assert json.loads(messages[2]["content"])["title"] == "Water the plants"
    assert (messages[1]["content"], messages[3]["content"]) == ("Adding it.", "Added Water the plants.")


async def test_another_users_conversation_answers_404_never_403(client, api_state, alice, bob):
    conversation = await a_conversation(api_state.conversations, alice, "private thoughts")

    problem = assert_problem(await client.get(f"{C}/{conversation}/messages", headers=bob.headers), 404,
                             "conversation_id")

    assert "private" not in json.dumps(problem)
    assert (await client.get(f"{C}/{conversation}/messages", headers=alice.headers)).json()["count"] == 2


async def test_an_unknown_conversation_answers_404(client, alice):
    assert_problem(await client.get(f"{C}/2000000000/messages", headers=alice.headers), 404, "conversation_id")


async def test_a_malformed_conversation_id_answers_422(client, alice):
    for bad in ("abc", "0", "-1", "1.5"):
        assert_problem(await client.get(f"{C}/{bad}/messages", headers=alice.headers), 422, "conversation_id")


async def test_without_a_valid_token_the_history_answers_401(client, api_state, alice):
    conversation = await a_conversation(api_state.conversations, alice, "hello")
    for url in (C, f"{C}/{conversation}/messages"):
        assert_problem(await client.get(url), 401)
        assert_problem(await client.get(url, headers={"Authorization": "Bearer not-a-token"}), 401)
