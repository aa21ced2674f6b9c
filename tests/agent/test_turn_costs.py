"""What keeps a turn cheap without changing what it does: the tool list and the user's timezone are cached (a turn
that only talks never connects to the tools, and the prompt still carries the local time of now), a turn starts in
one transaction that reads only the window, and later in-process MCP clients adopt what the app said about itself."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mcp import Client
from starlette.types import Receive, Scope, Send

from agent.agent import Agent
from agent.mcp_client import McpToolbox, connect_in_process
from agent.ports import ToolOutcome
from agent.settings import AgentSettings
from agent.store import PENDING_APPROVAL, ConversationStore, NewMessage
from domain.access_tokens import issue_access_token
from domain.db import Database
from domain.uow import UnitOfWork
from mcp_server import McpPorts, build_server, http_app
from tests.agent.conftest import SECRET, World, conversation, of_type, pairs, rows_examined, statements, tool_turn
from tests.conftest import new_actor

T0 = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # already Wednesday 00:30 in Berlin


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


@dataclass
class Counts:
    """What the turns of a test asked of the tools."""

    opened: list[int] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    listings: int = 0


class CountingToolbox(McpToolbox):
    """The real tools, counting what a turn asks of them."""

    def __init__(self, client: Client, counts: Counts) -> None:
        super().__init__(client)
        self.counts = counts

    async def tools(self) -> list[dict[str, Any]]:
        self.counts.listings += 1
        return await super().tools()

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        self.counts.calls.append(name)
        return await super().call(name, arguments)


def counting_agent(world: World, steps: list[dict[str, Any]], **settings: Any) -> tuple[Agent, Counts]:
    """An agent on a scripted model whose toolbox factory counts every opening, listing and call."""
    counts = Counts()

    @asynccontextmanager
    async def tools_for(user_id: int) -> AsyncIterator[McpToolbox]:
        counts.opened.append(user_id)
        async with world.toolbox(user_id) as toolbox:
            yield CountingToolbox(toolbox.client, counts)

    world.agent(steps)
    assert world.model is not None
    return Agent(world.model, tools_for, world.store, world.clock, AgentSettings(**settings)), counts


def system_of(world: World, model_call: int) -> str:
    assert world.model is not None
    content: str = world.model.calls[model_call][0][0]["content"]
    return content


async def test_once_the_tools_and_timezone_are_known_a_turn_that_only_talks_never_connects(world: World):
    world.clock.set(T0)
    agent, counts = counting_agent(world, [{"text": "Hi."}, {"text": "Hello again."},
                                           {"tool_calls": [call("list_tasks")]}, {"text": "Nothing yet."}])
    first = await world.turn(agent, message="hi")
    conversation_id = first[0].conversation_id
    await world.turn(agent, conversation_id, message="still there?")
    await world.turn(agent, conversation_id, message="what is on my list?")

    assert counts.opened == [world.user.id, world.user.id]  # the first turn (to learn), then the one calling a tool
    assert counts.listings == 1 and counts.calls == ["whoami", "list_tasks"]
    assert world.model is not None
    assert world.model.calls[1][1] == world.model.calls[0][1]  # the same tools on every model call


async def test_the_tool_list_and_the_timezone_are_asked_again_after_their_time(world: World):
    world.clock.set(T0)
    agent, counts = counting_agent(world, [{"text": "One."}, {"text": "Two."}, {"text": "Three."}],
                                   tools_ttl=timedelta(minutes=10), timezone_ttl=timedelta(minutes=5))
    first = await world.turn(agent, message="one")
    world.clock.advance(minutes=6)
    await world.turn(agent, first[0].conversation_id, message="two")
    world.clock.advance(minutes=6)
    await world.turn(agent, first[0].conversation_id, message="three")

    assert counts.calls == ["whoami", "whoami", "whoami"] and counts.listings == 2


async def test_between_whoami_calls_the_prompt_gives_the_local_time_of_now_in_the_users_timezone(
    uow: UnitOfWork, store: ConversationStore, tmp_path: Any
):
    world = await berlin_world(uow, store, tmp_path)
    world.clock.set(T0)
    agent, counts = counting_agent(world, [{"text": "Late."}, {"text": "Later."}])
    first = await world.turn(agent, message="what day is it?")
    world.clock.advance(minutes=2)
    await world.turn(agent, first[0].conversation_id, message="and now?")

    assert counts.calls == ["whoami"]
    assert "Wednesday 2026-03-11 00:30 (Europe/Berlin)" in system_of(world, 0)
    assert "Wednesday 2026-03-11 00:32 (Europe/Berlin)" in system_of(world, 1)


async def berlin_world(uow: UnitOfWork, store: ConversationStore, tmp_path: Any) -> World:
    user = await new_actor(uow, "Europe/Berlin")
    server = build_server(McpPorts(uow=uow, secret=SECRET, fixed_user_id=user.id))
    return World(user=user, server=server, store=store, clock=uow.clock, uow=uow,  # type: ignore[arg-type]
                 tmp_path=tmp_path)


async def test_a_turn_starts_in_one_transaction_that_reads_only_the_window(store: ConversationStore,
                                                                            database: Database):
    cid = await conversation(store, 1_000_101)
    await store.append(cid, pairs(5_000), now=T0)
    await store.append(cid, [*tool_turn(["x", "y", "z"]), *pairs(8)], now=T0)

    with statements(database) as seen:
        start = await store.begin_turn(1_000_101, cid, NewMessage("user", "last"), now=T0 + timedelta(minutes=1),
                                       timeout=timedelta(minutes=30), limit=20)

    assert start.appended and not start.is_new and start.conversation.id == cid
    assert [m.content for m in start.rows[-2:]] == ["answer 7 word word word", "last"]
    assert start.rows[-1].seq == 10_000 + 6 + 16 + 1 and start.rows[-1].id is not None
    assert sum(m.role != "tool" for m in start.rows[:-1]) == 20
    assert sum(s.lstrip().upper().startswith("BEGIN") for s, _ in seen) <= 1
    reads = [(s, p) for s, p in seen if s.lstrip().upper().startswith("SELECT") and "FROM message" in s]
    assert len(reads) == 2  # where the window starts, then its rows (no max(seq): the window ends at the last one)
    for statement, parameters in reads:
        assert await rows_examined(database, statement, parameters) <= 2 * len(start.rows)
    assert (await store.window(cid, 20))[-1].content == "last"


async def test_a_turn_start_leaves_the_message_to_the_agent_while_a_call_is_still_open(store: ConversationStore):
    cid = await conversation(store, 1_000_102)
    call_row = {"id": "c1", "name": "delete_task", "arguments": "{}"}
    await store.append(cid, [NewMessage("user", "delete it"), NewMessage("assistant", "", tool_calls=[call_row]),
                             NewMessage("tool", "", tool_call_id="c1", status=PENDING_APPROVAL)], now=T0)

    start = await store.begin_turn(1_000_102, cid, NewMessage("user", "never mind"), now=T0,
                                   timeout=timedelta(minutes=30))

    assert not start.appended and [m.status for m in start.rows][-1] == PENDING_APPROVAL
    assert [m.content for m in await store.window(cid)][-1] == ""


async def test_a_turn_start_after_the_timeout_opens_a_new_titled_conversation(store: ConversationStore):
    cid = await conversation(store, 1_000_103)
    await store.append(cid, pairs(1), now=T0)

    later = T0 + timedelta(hours=1)
    start = await store.begin_turn(1_000_103, cid, NewMessage("user", "  a fresh   start "), now=later,
                                   timeout=timedelta(minutes=30))

    assert start.is_new and start.appended and start.conversation.id != cid
    assert [(m.seq, m.content) for m in start.rows] == [(1, "  a fresh   start ")]
    listed = await store.conversations(1_000_103)
    assert [(c.id, c.title) for c in listed] == [(start.conversation.id, "a fresh start"),
                                                 (cid, "question 0 word word word")]


async def test_an_append_numbered_from_a_stale_view_goes_after_the_real_last_message(store: ConversationStore):
    cid = await conversation(store, 1_000_104)
    await store.append(cid, pairs(1), now=T0)
    meanwhile = await store.append(cid, [NewMessage("user", "meanwhile")], now=T0, after_seq=2)
    late = await store.append(cid, [NewMessage("assistant", "late"), NewMessage("tool", "{}", tool_call_id="t")],
                              now=T0, after_seq=2)  # written by a turn that has not seen "meanwhile"

    assert [m.seq for m in meanwhile] == [3] and [m.seq for m in late] == [4, 5]
    rows = await store.messages(1_000_104, cid)
    assert [(m.seq, m.content) for m in rows][2:] == [(3, "meanwhile"), (4, "late"), (5, "{}")]


class CountingApp:
    """An ASGI app passing requests through to the MCP app, counting the JSON-RPC methods sent to it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.methods: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if body:
            self.methods.append(str(json.loads(body).get("method")))
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return await receive()  # type: ignore[no-any-return]
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def test_later_in_process_clients_adopt_what_the_app_said_about_itself(world: World):
    ports = McpPorts(uow=world.uow, secret=SECRET)
    server = build_server(ports)
    app = CountingApp(http_app(server, ports))
    token = issue_access_token(world.user.id, SECRET, now=datetime.now(UTC), ttl=timedelta(minutes=5), audience="mcp")

    async with server.session_manager.run():
        async with connect_in_process(app, token) as first:
            probed, told = list(app.methods), first.instructions
        async with connect_in_process(app, token) as second:
            adopted, retold = app.methods[len(probed):], second.instructions
            me = await second.call("whoami", {})

    assert "server/discover" in probed and adopted == []
    assert retold == told and retold is not None and "whoami" in retold
    assert not me.is_error and me.structured is not None and me.structured["user_id"] == world.user.id


async def test_approving_still_works_when_the_turn_that_asked_never_connected_again(world: World):
    world.clock.set(T0)
    agent, counts = counting_agent(world, [{"text": "Hi."}, {"tool_calls": [call("delete_task", task_id=1)]},
                                           {"text": "Declined, fine."}])
    first = await world.turn(agent, message="hi")
    asked = await world.turn(agent, first[0].conversation_id, message="delete task 1")
    (approval,) = of_type(asked, "approval_required")
    answered = await world.turn(agent, first[0].conversation_id,
                                approval={"tool_call_id": approval.tool_call_id, "approved": False})

    assert answered[-1].type == "message_done" and answered[-1].text == "Declined, fine."
    assert counts.opened == [world.user.id]  # only the first turn connected: the others needed no tool run
