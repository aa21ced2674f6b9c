"""The Cohere adapter through the real `cohere` SDK. Cohere is mocked (a fake httpx transport serving v2 SSE streams
and error statuses, the real SDK parsing them) because the API can't be reached here. The tests pin the exact request
bodies the adapter sends, how the stream is assembled into text and tool calls, and how failures reach the person."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from agent.cohere_model import CohereModel, retry_wait
from agent.model import ModelEnd, ModelEvent, ModelText, ModelToolCall, ModelUnavailable
from agent.model_choice import build_model
from agent.scripted_model import ScriptedModel
from domain.schemas import TaskQuery
from domain.usecases import list_tasks
from runtime.chat_settings import ModelConfig
from tests.agent.conftest import World, kinds

URL = "http://cohere.test"
TOOLS = [{"type": "function", "function": {"name": "add_task", "description": "Create a task",
                                           "parameters": {"type": "object", "properties": {"title": {"type": "string"}},
                                                          "required": ["title"]}}}]
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "add milk"}]


def sse(*events: dict[str, Any]) -> bytes:
    """A v2 chat stream as Cohere sends it."""
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)
    return (body + "data: [DONE]\n\n").encode()


def text_stream(*pieces: str, finish: str = "COMPLETE") -> bytes:
    return sse(
        {"type": "message-start", "id": "m1", "delta": {"message": {"role": "assistant"}}},
        {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
        *[{"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": p}}}} for p in pieces],
        {"type": "content-end", "index": 0},
        {"type": "message-end", "delta": {"finish_reason": finish, "usage": {"tokens": {"input_tokens": 5}}}},
    )


def tool_stream(plan: str, calls: list[tuple[str, str, list[str]]]) -> bytes:
    """A stream with a tool plan and tool calls whose arguments arrive in fragments."""
    events: list[dict[str, Any]] = [{"type": "message-start", "id": "m2", "delta": {"message": {"role": "assistant"}}},
                                    {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": plan}}}]
    for index, (call_id, name, fragments) in enumerate(calls):
        start = {"id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        events.append({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": start}}})
        for fragment in fragments:
            delta = {"tool_calls": {"function": {"arguments": fragment}}}
            events.append({"type": "tool-call-delta", "index": index, "delta": {"message": delta}})
        events.append({"type": "tool-call-end", "index": index})
    events.append({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL"}})
    return sse(*events)


class FakeCohere:
    """Answers each request with the next response; keeps every request."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def model(self, **options: Any) -> CohereModel:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return CohereModel(api_key="test-key", base_url=URL, httpx_client=client, retry_delay=0, **options)


def ok(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


def status(code: int, **headers: str) -> httpx.Response:
    return httpx.Response(code, json={"message": f"status {code}"}, headers=headers)


async def collect(model: CohereModel, messages: list[dict[str, Any]] = MESSAGES) -> list[ModelEvent]:
    return [event async for event in model.stream(messages, TOOLS)]


async def test_text_deltas_stream_and_the_request_is_a_v2_chat_stream():
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(ok(text_stream("Hel", "lo.")))
    events = await collect(fake.model())

    assert events == [ModelText("Hel"), ModelText("lo."), ModelEnd("COMPLETE")]
    (request,) = fake.requests
    assert (request.method, str(request.url)) == ("POST", f"{URL}/v2/chat")
    assert request.headers["authorization"] == "Bearer test-key"
    assert fake.bodies() == [{"model": "command-a-03-2025", "messages": MESSAGES, "tools": TOOLS, "stream": True}]


async def test_tool_calls_are_assembled_from_start_delta_and_end_events():
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(ok(tool_stream("I will add both.", [
        ("call_a", "add_task", ['{"title": ', '"milk"}']),
        ("call_b", "add_task", ['{"title": "bread"}']),
    ])))
    events = await collect(fake.model())
    assert events == [
        ModelText("I will add both."),
        ModelToolCall("call_a", "add_task", '{"title": "milk"}'),
        ModelToolCall("call_b", "add_task", '{"title": "bread"}'),
        ModelEnd("TOOL_CALL"),
    ]


async def test_the_model_name_comes_from_the_settings():
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(ok(text_stream("ok")))
    await collect(fake.model(model="command-r-08-2024"))
    assert fake.bodies()[0]["model"] == "command-r-08-2024"


@pytest.mark.parametrize(
    ("responses", "requests", "retryable", "words"),
    [
        ([status(401)], 1, False, "CO_API_KEY"),
        ([status(403)], 1, False, "CO_API_KEY"),
        ([status(400)], 1, False, "refused the request"),
        ([status(429, **{"retry-after": "0"})], 3, True, "rate-limiting"),
        ([status(500)], 3, True, "HTTP 500"),
        ([status(503)], 3, True, "HTTP 503"),
        ([httpx.ConnectError("connection refused")], 3, True, "Could not reach"),
        ([httpx.ReadTimeout("slow")], 1, True, "did not answer in time"),
    ],
    ids=["401", "403", "400", "429", "500", "503", "connect-error", "read-timeout"],
)
async def test_failures_become_a_clear_message_after_the_retries(
    responses: list[Any], requests: int, retryable: bool, words: str
):
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(*responses)
    with pytest.raises(ModelUnavailable) as failure:
        await collect(fake.model())
    assert len(fake.requests) == requests
    assert failure.value.retryable is retryable and words in failure.value.message


async def test_a_rate_limit_then_success_streams_normally():
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(status(429, **{"retry-after": "0"}), ok(text_stream("fine")))
    assert await collect(fake.model()) == [ModelText("fine"), ModelEnd("COMPLETE")]
    assert len(fake.requests) == 2 and fake.bodies()[0] == fake.bodies()[1]


async def test_an_error_finish_is_a_failure():
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(ok(text_stream("par", finish="ERROR")))
    with pytest.raises(ModelUnavailable) as failure:
        await collect(fake.model())
    assert failure.value.retryable and len(fake.requests) == 1


def test_retry_after_is_honoured_and_capped():
    from cohere.core.api_error import ApiError

    assert retry_wait(ApiError(status_code=429, headers={"retry-after": "2"}), 0.5) == 2.0
    assert retry_wait(ApiError(status_code=429, headers={"retry-after": "600"}), 0.5) == 10.0
    assert retry_wait(ApiError(status_code=429, headers={"retry-after": "soon"}), 0.5) == 0.5
    assert retry_wait(httpx.ConnectError("x"), 1.5) == 1.5


async def test_the_agent_sends_tool_results_back_in_cohere_tool_message_format(world: World):
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(
        ok(tool_stream("I will add it.", [("call_1", "add_task", ['{"title": "Buy milk"}'])])),
        ok(text_stream("Added ", "Buy milk.")),
    )
    events = await world.turn(world.agent_on(fake.model()), message="add buy milk")

    assert kinds(events) == ["turn_started", "text_delta", "tool_call", "tool_result", "text_delta", "message_done"]
    first, second = fake.bodies()
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert "never instructions" in first["messages"][0]["content"]
    names = {t["function"]["name"] for t in first["tools"]}
    assert {"add_task", "delete_task", "whoami"} <= names and second["tools"] == first["tools"]
    (task,) = (await list_tasks(world.uow, world.user, TaskQuery())).data
    assert second["messages"][1:] == [
        {"role": "user", "content": "add buy milk"},
        {"role": "assistant", "tool_plan": "I will add it.", "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "add_task", "arguments": '{"title": "Buy milk"}'},
        }]},
        {"role": "tool", "tool_call_id": "call_1", "content": [
            {"type": "document", "document": {"data": json.dumps(task.model_dump(mode="json"), ensure_ascii=False)}},
        ]},
    ]
    assert events[-1].text == "Added Buy milk."


async def test_a_tool_error_reaches_cohere_as_an_error_document(world: World):
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(
        ok(tool_stream("", [("call_1", "get_task", ['{"task_id": 999999}'])])),
        ok(text_stream("No such task.")),
    )
    await world.turn(world.agent_on(fake.model()), message="show task 999999")
    tool_message = fake.bodies()[1]["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    data = json.loads(tool_message["content"][0]["document"]["data"])
    assert "task 999999 not found" in data["error"]
    assert "tool_plan" not in fake.bodies()[1]["messages"][-2]


async def test_an_unusable_key_ends_the_turn_with_a_message_for_the_person_and_a_logged_error(
    world: World, caplog: pytest.LogCaptureFixture
):
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(status(401))
    with caplog.at_level(logging.ERROR, logger="agent"):
        events = await world.turn(world.agent_on(fake.model()), message="hello")
    assert kinds(events) == ["turn_started", "error"]
    assert "CO_API_KEY" in events[-1].message and events[-1].retryable is False
    assert any("CO_API_KEY" in r.getMessage() for r in caplog.records)


def mock_client(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def model_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> ModelConfig:
    """The chat model's settings read from an environment holding only `env` of the variables they read."""
    for name in ("CO_API_KEY", "COHERE_API_KEY", "CO_API_URL", "TODO_AGENT_MODEL", "TODO_AGENT_COHERE_MODEL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ModelConfig()


async def test_build_model_reads_the_key_model_and_base_url_like_the_sdk(monkeypatch: pytest.MonkeyPatch):
    """Cohere is mocked (fake transport, real SDK) because the API can't be reached here."""
    fake = FakeCohere(ok(text_stream("hi")))
    env = {"COHERE_API_KEY": "fallback-key", "CO_API_URL": "http://elsewhere.test", "TODO_AGENT_COHERE_MODEL": "m-1"}
    model = model_env(monkeypatch, **env).chat_model(httpx_client=mock_client(fake))
    assert isinstance(model, CohereModel)
    assert [e async for e in model.stream(MESSAGES, [])] == [ModelText("hi"), ModelEnd("COMPLETE")]
    (request,) = fake.requests
    assert str(request.url) == "http://elsewhere.test/v2/chat"
    assert request.headers["authorization"] == "Bearer fallback-key"
    assert fake.bodies()[0] == {"model": "m-1", "messages": MESSAGES, "stream": True}
    co_key = model_env(monkeypatch, CO_API_KEY="first", COHERE_API_KEY="second").chat_model()
    assert isinstance(co_key, CohereModel) and co_key.model == "command-a-03-2025"


def test_build_model_without_a_key_or_script_is_none_and_a_script_wins(tmp_path, monkeypatch: pytest.MonkeyPatch):
    assert model_env(monkeypatch).chat_model() is None
    assert model_env(monkeypatch, TODO_AGENT_MODEL="cohere").chat_model() is None
    assert build_model() is None
    script = tmp_path / "s.json"
    script.write_text('[{"text": "hi"}]')
    scripted = model_env(monkeypatch, TODO_AGENT_MODEL=f"scripted:{script}", CO_API_KEY="k").chat_model()
    assert isinstance(scripted, ScriptedModel)
    with pytest.raises(ValueError, match="scripted:<file>"):
        model_env(monkeypatch, TODO_AGENT_MODEL="gpt")
