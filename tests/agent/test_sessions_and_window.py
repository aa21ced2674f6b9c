"""Sessions and the model's window against the real database: the idle timeout starts a new conversation, history
stays readable (own only), the window reads only its rows (also behind 10,000 earlier messages), a turn's tool
calls and results are never split at the window's edge, and the token budget drops the oldest groups."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from agent.settings import AgentSettings
from agent.store import DECLINED, PENDING_APPROVAL, ConversationNotFound, ConversationStore, Message, NewMessage
from agent.stream import TurnEvent
from agent.tokens import count_tokens, json_tokens
from agent.window import assemble, chat_message, groups
from domain.db import Database
from domain.schemas import TaskCreate
from domain.usecases import create_task
from runtime.chat_settings import AgentConfig
from tests.agent.conftest import T0, World, call, conversation, of_type, pairs, rows_examined, statements, tool_turn

# --- sessions ---------------------------------------------------------------------------------------------------


async def test_a_message_after_the_idle_timeout_starts_a_new_conversation(world: World):
    world.clock.set(T0)
    agent = world.agent([{"text": "One."}, {"text": "Two."}, {"text": "Three."}])
    first = await world.turn(agent, message="one")
    conversation = first[0].conversation_id
    world.clock.advance(minutes=29)
    second = await world.turn(agent, conversation, message="two")
    world.clock.advance(minutes=31)
    third = await world.turn(agent, conversation, message="three")

    assert first[0].new_conversation and not second[0].new_conversation
    assert second[0].conversation_id == conversation
    assert third[0].new_conversation and third[0].conversation_id != conversation
    assert [m["role"] for m in world.model.calls[2][0]] == ["system", "user"]  # the old session is not in view
    listed = await world.store.conversations(world.user.id)
    assert [c.id for c in listed] == [third[0].conversation_id, conversation]
    assert listed[1].title == "one" and listed[1].last_activity_at == T0 + timedelta(minutes=29)
    old = await world.store.messages(world.user.id, conversation)
    assert [m.content for m in old if m.role == "user"] == ["one", "two"]


async def test_the_timeout_is_configurable(world: World):
    world.clock.set(T0)
    agent = world.agent([{"text": "One."}, {"text": "Two."}], session_timeout=timedelta(minutes=5))
    first = await world.turn(agent, message="one")
    world.clock.advance(minutes=6)
    second = await world.turn(agent, first[0].conversation_id, message="two")
    assert second[0].new_conversation


async def test_a_conversation_that_times_out_lets_its_waiting_approval_lapse(world: World):
    world.clock.set(T0)
    task = await create_task(world.uow, world.user, TaskCreate(title="Keep me"))
    agent = world.agent([{"tool_calls": [call("delete_task", task_id=task.id)]}, {"text": "Hello again."}])
    first = await world.turn(agent, message="delete it")
    world.clock.advance(hours=2)
    later = await world.turn(agent, first[0].conversation_id, message="hi")
    assert later[0].new_conversation
    old = await world.store.messages(world.user.id, first[0].conversation_id)
    assert [m.status for m in old if m.role == "tool"] == [DECLINED]
    assert "ended before" in json.loads(old[-1].content)["error"]


async def test_history_is_readable_only_by_its_owner(store: ConversationStore):
    mine = await conversation(store, 1_000_001)
    await store.append(mine, [NewMessage("user", "secret plans")], now=T0)
    assert [m.content for m in await store.messages(1_000_001, mine)] == ["secret plans"]
    with pytest.raises(ConversationNotFound):
        await store.messages(1_000_002, mine)
    with pytest.raises(ConversationNotFound):
        await store.current_or_new(1_000_002, mine, now=T0, timeout=timedelta(minutes=30))
    assert await store.conversations(1_000_002) == []


async def test_messages_page_by_seq(store: ConversationStore):
    cid = await conversation(store, 1_000_003)
    await store.append(cid, pairs(5), now=T0)
    first = await store.messages(1_000_003, cid, limit=4)
    rest = await store.messages(1_000_003, cid, after_seq=first[-1].seq)
    assert [m.seq for m in first + rest] == list(range(1, 11))


# --- the window -------------------------------------------------------------------------------------------------


async def test_a_tool_turn_at_the_edge_of_the_window_is_kept_whole_or_left_out_whole(store: ConversationStore):
    cid = await conversation(store, 1_000_004)
    await store.append(cid, [*tool_turn(["a", "b", "c"]), *pairs(9)], now=T0)
    # non-tool messages: user, assistant(calls), answer, then 18 -> the assistant with the calls is the 20th last

    window = await store.window(cid, 20)
    assert [m.role for m in window[:5]] == ["assistant", "tool", "tool", "tool", "assistant"]
    assert sum(m.role != "tool" for m in window) == 20

    await store.append(cid, [NewMessage("user", "one more")], now=T0)
    window = await store.window(cid, 20)
    assert window[0].content == "Here they are." and "tool" not in {m.role for m in window}

    _assert_whole(assemble("system", window, [], 100_000))


async def test_the_model_never_sees_a_tool_result_without_its_call(world: World):
    cid = await conversation(world.store, world.user.id)
    await world.store.append(cid, [*tool_turn(["a", "b", "c"]), *pairs(9)], now=T0)
    world.clock.set(T0 + timedelta(minutes=1))
    agent = world.agent([{"text": "Sure."}])
    await world.turn(agent, cid, message="and now?")

    sent = world.model.calls[0][0]
    _assert_whole(sent)
    assert sent[1]["role"] == "user" and sent[-1] == {"role": "user", "content": "and now?"}
    assert sum(m["role"] in ("user", "assistant") for m in sent[1:]) <= 20


def _assert_whole(messages: list[dict[str, Any]]) -> None:
    """Every tool result follows the assistant message that made its call, and every call has its result."""
    open_calls: set[str] = set()
    for message in messages:
        if message["role"] == "tool":
            assert message["tool_call_id"] in open_calls, f"result without its call: {message}"
            open_calls.discard(message["tool_call_id"])
        else:
            assert not open_calls, f"calls without results before {message}"
            open_calls = {c["id"] for c in message.get("tool_calls", [])}
    assert not open_calls


@pytest.mark.slow
async def test_the_window_reads_only_its_rows_behind_ten_thousand_earlier_messages(
    store: ConversationStore, database: Database
):
    cid = await conversation(store, 1_000_005)
    await store.append(cid, pairs(5_000), now=T0)
    await store.append(cid, [*tool_turn(["x", "y", "z"]), *pairs(8), NewMessage("user", "last")], now=T0)

    with statements(database) as seen:
        window = await store.window(cid, 20)
    assert len(window) == 20 + 3 and window[0].role == "user"  # the tool turn's user message is the 20th last
    queries = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 2
    for statement, parameters in queries:
        assert await rows_examined(database, statement, parameters) <= 2 * len(window)


async def test_the_oldest_groups_are_dropped_to_fit_the_token_budget(world: World):
    cid = await conversation(world.store, world.user.id)
    await world.store.append(cid, pairs(8, words=150), now=T0)
    world.clock.set(T0 + timedelta(minutes=1))
    agent = world.agent([{"text": "Short answer."}], token_budget=1)  # measure first with a tiny budget
    await world.turn(agent, cid, message="latest question")
    sent, tools = world.model.calls[0]
    fixed = count_tokens(sent[0]["content"]) + json_tokens(tools)
    assert [m["role"] for m in sent] == ["system", "user"]  # only the newest group survives a budget too small

    budget = fixed + 4 * 160
    agent = world.agent([{"text": "Another."}], token_budget=budget)
    await world.turn(agent, cid, message="and another")
    sent, _ = world.model.calls[0]
    used = fixed + sum(json_tokens(m) for m in sent[1:])
    assert used <= budget and sent[1]["role"] == "user" and sent[-1]["content"] == "and another"
    assert 2 < len(sent) - 1 < 19
    assert sent[-2] == {"role": "assistant", "content": "Short answer."}


def test_groups_keep_an_assistant_message_with_its_results():
    rows = [
        Message(conversation_id=1, seq=n, role=role, content="x", tool_call_id=tid, tool_calls=calls, created_at=T0)
        for n, (role, tid, calls) in enumerate([
            ("tool", "orphan", None),
            ("user", None, None),
            ("assistant", None, [{"id": "a", "name": "t", "arguments": "{}"}]),
            ("tool", "a", None),
            ("assistant", None, None),
        ])
    ]
    assert [[m.seq for m in g] for g in groups(rows)] == [[1], [2, 3], [4]]
    assert chat_message(rows[2])["tool_plan"] == "x"


async def test_the_pending_status_survives_a_reload(store: ConversationStore):
    cid = await conversation(store, 1_000_006)
    rows = await store.append(cid, [NewMessage("tool", "", tool_call_id="t1", status=PENDING_APPROVAL)], now=T0)
    await store.settle(rows[0].id, content='{"ok": true}', status="ok", token_count=7)
    (row,) = await store.window(cid)
    assert (row.status, row.content, row.token_count) == ("ok", '{"ok": true}', 7)


async def test_approval_events_parse_back_from_json(world: World):
    task = await create_task(world.uow, world.user, TaskCreate(title="Parse me"))
    agent = world.agent([{"tool_calls": [call("delete_task", task_id=task.id)]}])
    events = await world.turn(agent, message="delete")
    adapter: TypeAdapter[TurnEvent] = TypeAdapter(TurnEvent)
    assert [adapter.validate_json(e.model_dump_json()) for e in events] == events
    assert of_type(events, "approval_required")[0].model_dump()["type"] == "approval_required"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    for name in [name for name in os.environ if name.startswith("TODO_AGENT_")]:
        monkeypatch.delenv(name)
    assert AgentConfig().as_settings() == AgentSettings()
    for name, value in {
        "TODO_AGENT_SESSION_TIMEOUT_MINUTES": "5", "TODO_AGENT_APPROVAL_TOOLS": "delete_task, rename_tag,",
        "TODO_AGENT_TOKEN_BUDGET": "8000", "TODO_AGENT_TOOL_TIMEOUT_SECONDS": "2.5",
    }.items():
        monkeypatch.setenv(name, value)
    custom = AgentConfig().as_settings()
    assert custom.session_timeout == timedelta(minutes=5) and custom.token_budget == 8000
    assert custom.approval_tools == {"delete_task", "rename_tag"} and custom.tool_timeout == 2.5
    monkeypatch.setenv("TODO_AGENT_APPROVAL_TOOLS", "")
    assert AgentConfig().as_settings().approval_tools == frozenset()
