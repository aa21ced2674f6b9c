"""POST /api/v1/chat runs one turn per conversation and a few per user at a time: another answers 429 problem+json
with Retry-After, and a turn's slot comes back when its stream ends or is stopped. The web host is the real one;
only the chat model is scripted (slow steps keep a turn running while the test knocks again)."""

from __future__ import annotations

from contextlib import AsyncExitStack

import httpx
import pytest

from runtime.bootstrap import Runtime
from tests.api.conftest import User, assert_problem
from tests.hosts import eventually, user_of
from tests.web.conftest import Host, chat, client_of, data, turn

pytestmark = pytest.mark.slow

SLOW = {"text": "A reply that takes its time, written one small piece after another.", "delay_ms": 60_000}


async def accepted(client: httpx.AsyncClient, user: User, **body: object) -> bool | None:
    """True once a turn is accepted again (its stream is closed at once); None while it answers 429."""
    async with client.stream("POST", "/api/v1/chat", json=body, headers=user.headers) as response:
        return True if response.status_code == 200 else None


async def test_a_second_turn_in_a_conversation_still_answering_is_429_until_the_first_is_stopped(
    host: Host, runtime: Runtime
) -> None:
    """While a reply is being written, the same conversation answers 429; stopping the reply frees it."""
    app = host([{"text": "Hi."}, SLOW, {"text": "Back."}])
    ada = await user_of(runtime)
    async with client_of(app) as client:
        conversation_id = data((await turn(client, ada, message="hi"))[0])["conversation_id"]
        async with chat(client, ada, conversation_id=conversation_id, message="tell me slowly") as reader:
            assert (await reader.event()).event == "turn_started"
            busy = await client.post("/api/v1/chat", json={"conversation_id": conversation_id, "message": "and?"},
                                     headers=ada.headers)
        assert await eventually(lambda: accepted(client, ada, conversation_id=conversation_id, message="back?"))

    problem = assert_problem(busy, 429)
    assert problem["detail"] == "a reply is still being written in this conversation; wait for it or stop it"
    assert int(busy.headers["retry-after"]) > 0


async def test_a_fourth_turn_of_one_user_is_429_while_three_run_and_others_are_not_held_up(
    host: Host, runtime: Runtime
) -> None:
    """Three turns of Ada run; her fourth (a new conversation) answers 429; Bob still chats; a finished turn frees."""
    app = host([SLOW] * 8)
    ada, bob = await user_of(runtime), await user_of(runtime, "bob@example.com")
    async with client_of(app) as client, AsyncExitStack() as running:
        for n in range(3):
            reader = await running.enter_async_context(chat(client, ada, message=f"slow {n}"))
            assert (await reader.event()).event == "turn_started"
        fourth = await client.post("/api/v1/chat", json={"message": "one more"}, headers=ada.headers)
        async with chat(client, bob, message="hi") as bobs:
            assert (await bobs.event()).event == "turn_started"
        await running.aclose()
        assert await eventually(lambda: accepted(client, ada, message="now?"))

    assert "3 replies are still being written" in assert_problem(fourth, 429)["detail"]
    assert fourth.headers["retry-after"]


async def test_the_turns_per_user_come_from_the_environment(host: Host, runtime: Runtime) -> None:
    """TODO_AGENT_CHAT_TURNS_PER_USER=1: a second turn of the user in another conversation answers 429."""
    app = host([SLOW] * 4, TODO_AGENT_CHAT_TURNS_PER_USER="1")
    ada = await user_of(runtime)
    async with client_of(app) as client, chat(client, ada, message="slow") as reader:
        assert (await reader.event()).event == "turn_started"
        second = await client.post("/api/v1/chat", json={"message": "another"}, headers=ada.headers)
    assert_problem(second, 429)
