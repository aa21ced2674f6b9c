"""The OpenAI-compatible adapter through the real `openai` SDK. The model server is mocked (tests/openai_fake.py: an
httpx.MockTransport replaying chat-completion streams and error bodies in the shape the servers send them) because
none runs here. The tests pin the exact request bodies, how streamed fragments become text and tool calls, how
failures reach the person, and the whole agent's turn over the real MCP server on this adapter."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from agent.model import ModelEnd, ModelEvent, ModelText, ModelToolCall, ModelUnavailable
from agent.openai_model import TEXT_CALL, OpenAIModel, retry_wait
from domain.schemas import TaskQuery
from domain.usecases import list_tasks
from tests.agent.conftest import World, kinds
from tests.openai_fake import (
    MODEL,
    URL,
    FakeOpenAI,
    broken,
    chunk,
    error,
    streamed,
    text_stream,
    tool_stream,
)

PARAMETERS = {"type": "object", "properties": {"title": {"type": "string"}, "repeat": {"$ref": "#/$defs/Repeat"}},
              "required": ["title"],
              "$defs": {"Repeat": {"title": "Repeat", "type": "object", "properties": {"every": {"type": "string"}}}}}
TOOLS = [{"type": "function", "function": {"name": "add_task", "description": "Create a task",
                                           "parameters": PARAMETERS}}]
SENT_TOOLS = [{"type": "function", "function": {"name": "add_task", "description": "Create a task", "parameters": {
    "type": "object", "required": ["title"],
    "properties": {"title": {"type": "string"},
                   "repeat": {"type": "object", "properties": {"every": {"type": "string"}}}}}}}]
MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "add milk"}]
WHERE = f"at {URL}"


async def collect(model: OpenAIModel, messages: list[dict[str, Any]] = MESSAGES,
                  tools: list[dict[str, Any]] = TOOLS) -> list[ModelEvent]:
    return [event async for event in model.stream(messages, tools)]


async def test_text_deltas_stream_and_the_request_is_a_streamed_chat_completion():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(text_stream("Hel", "lo."))
    events = await collect(fake.model())

    assert events == [ModelText("Hel"), ModelText("lo."), ModelEnd("COMPLETE")]
    (request,) = fake.requests
    assert (request.method, str(request.url)) == ("POST", f"{URL}/chat/completions")
    assert request.headers["authorization"] == "Bearer not-needed"  # no key: a placeholder local servers ignore
    assert fake.bodies() == [{"model": MODEL, "messages": MESSAGES, "tools": SENT_TOOLS, "stream": True,
                              "stream_options": {"include_usage": True}}]
    assert "$ref" not in request.content.decode() and "$defs" not in request.content.decode()


async def test_one_tool_call_is_assembled_from_its_fragments():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(tool_stream(("call_a", "add_task", ['{"ti', 'tle": "mi', 'lk"}']), text="On it."))
    assert await collect(fake.model()) == [
        ModelText("On it."), ModelToolCall("call_a", "add_task", '{"title": "milk"}'), ModelEnd("TOOL_CALL"),
    ]


async def test_two_parallel_calls_are_kept_apart_by_index_even_when_their_fragments_interleave():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    start = [{"index": i, "id": f"call_{i}", "type": "function", "function": {"name": "add_task", "arguments": ""}}
             for i in (0, 1)]
    fake = FakeOpenAI(streamed(
        chunk({"role": "assistant"}), chunk({"tool_calls": start}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"title": "bread"}'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"title": '}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"milk"}'}}]}),
        chunk({}, "tool_calls"),
    ))
    assert await collect(fake.model()) == [
        ModelToolCall("call_0", "add_task", '{"title": "milk"}'),
        ModelToolCall("call_1", "add_task", '{"title": "bread"}'),
        ModelEnd("TOOL_CALL"),
    ]


async def test_whole_calls_that_all_say_index_0_are_told_apart_by_their_ids():
    """The model server is mocked (fake transport, real SDK) because none runs here. Some servers number every
    call 0; a new id is a new call."""
    calls = [{"index": 0, "id": f"call_{n}", "type": "function",
              "function": {"name": "add_task", "arguments": json.dumps({"title": n})}} for n in ("milk", "bread")]
    fake = FakeOpenAI(streamed(*[chunk({"tool_calls": [c]}) for c in calls], chunk({}, "stop")))
    assert await collect(fake.model()) == [
        ModelToolCall("call_milk", "add_task", '{"title": "milk"}'),
        ModelToolCall("call_bread", "add_task", '{"title": "bread"}'),
        ModelEnd("TOOL_CALL"),
    ]


async def test_a_call_without_id_or_arguments_gets_an_id_and_an_empty_object():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fragment = {"index": 0, "function": {"name": "whoami"}}
    fake = FakeOpenAI(streamed(chunk({"tool_calls": [fragment]}), chunk({}, "tool_calls")))
    call, end = await collect(fake.model())
    assert isinstance(call, ModelToolCall) and call.id.startswith("call_") and len(call.id) > 6
    assert (call.name, call.arguments, end) == ("whoami", "{}", ModelEnd("TOOL_CALL"))


@pytest.mark.parametrize(("finish", "reason"), [("length", "MAX_TOKENS"), ("content_filter", "CONTENT_FILTER"),
                                                ("eos", "EOS")])
async def test_finish_reasons_are_named_as_the_cohere_adapter_names_them(finish: str, reason: str):
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(text_stream("cut", finish=finish))
    assert (await collect(fake.model()))[-1] == ModelEnd(reason)


async def test_without_tools_no_tools_key_is_sent():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(text_stream("hi"))
    await collect(fake.model(), tools=[])
    assert "tools" not in fake.bodies()[0]


@pytest.mark.parametrize(
    ("answers", "requests", "retryable", "words"),
    [
        ([httpx.ConnectError("[Errno 111] Connection refused")], 3, True, f"Could not reach the model server {WHERE}"),
        ([httpx.ConnectError("[Errno -2] Name or service not known")], 3, True, "TODO_AGENT_OPENAI_BASE_URL"),
        ([httpx.ConnectTimeout("connect")], 3, True, f"model server {WHERE} did not answer in time"),
        ([httpx.ReadTimeout("slow")], 1, True, "did not answer in time"),
        ([error(404, 'model "qwen2.5:7b" not found, try pulling it first', kind="api_error")], 1, False,
         "has no model named 'qwen2.5:7b'; check TODO_AGENT_OPENAI_MODEL (for Ollama: ollama pull qwen2.5:7b)"),
        ([error(404, "The model `qwen2.5:7b` does not exist", code="model_not_found")], 1, False, "no model named"),
        ([httpx.Response(404, text="File Not Found")], 1, False, "it usually ends in /v1"),
        ([error(400, "This model's maximum context length is 128000 tokens. However, your messages resulted in "
                     "130000 tokens.", code="context_length_exceeded")], 1, False, "too long for the model's context"),
        ([httpx.Response(400, json={"error": {"code": 400, "type": "exceed_context_size_error",
                                              "message": "the request exceeds the available context size, try "
                                                         "increasing it"}})], 1, False, "TODO_AGENT_TOKEN_BUDGET"),
        ([error(429, "Rate limit reached", code="rate_limit_exceeded", **{"retry-after": "0"})], 3, True,
         "rate-limiting"),
        ([error(401, "Incorrect API key provided", code="invalid_api_key")], 1, False, "TODO_AGENT_OPENAI_API_KEY"),
        ([error(500, "out of memory", kind="server_error")], 3, True, "HTTP 500: out of memory"),
        ([error(400, "registry.ollama.ai/library/gemma2:2b does not support tools", kind="api_error")], 1, False,
         "cannot call tools"),
        ([error(400, "tools param requires --jinja flag")], 1, False, "needs --jinja"),
        ([error(400, "messages: field required")], 1, False, "refused the request (HTTP 400): messages: field"),
    ],
    ids=["refused", "dns", "connect-timeout", "read-timeout", "404-ollama", "404-openai", "404-path",
         "context-openai", "context-llama.cpp", "429", "401", "500", "no-tools", "no-jinja", "400"],
)
async def test_failures_become_a_sentence_after_the_retries(
    answers: list[Any], requests: int, retryable: bool, words: str
):
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(*answers)
    with pytest.raises(ModelUnavailable) as failure:
        await collect(fake.model())
    assert len(fake.requests) == requests
    assert failure.value.retryable is retryable and words in failure.value.message, failure.value.message


async def test_a_failure_before_any_output_is_retried_and_then_streams_normally():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(error(429, "slow down", **{"retry-after-ms": "1"}), broken(chunk({"role": "assistant"})),
                      text_stream("fine"))
    assert await collect(fake.model()) == [ModelText("fine"), ModelEnd("COMPLETE")]
    assert len(fake.requests) == 3 and fake.bodies()[0] == fake.bodies()[2]


async def test_an_error_event_mid_stream_fails_without_a_retry():
    """The model server is mocked (fake transport, real SDK) because none runs here; the error event is the
    `data: {"error": ...}` line vLLM sends when generation fails."""
    fake = FakeOpenAI(streamed(chunk({"content": "Par"}), {"error": {"message": "CUDA error", "type": "server"}}))
    events: list[ModelEvent] = []
    with pytest.raises(ModelUnavailable) as failure:
        async for event in fake.model().stream(MESSAGES, TOOLS):
            events.append(event)
    assert events == [ModelText("Par")] and len(fake.requests) == 1
    assert failure.value.retryable and "reported an error (CUDA error)" in failure.value.message


async def test_a_connection_lost_mid_answer_fails_without_a_retry():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(broken(chunk({"content": "Half an ans"})))
    with pytest.raises(ModelUnavailable) as failure:
        await collect(fake.model())
    assert len(fake.requests) == 1 and failure.value.retryable
    assert f"connection to the model server at {URL} broke (ReadError" in failure.value.message


def test_retry_after_is_honoured_and_capped():
    request = httpx.Request("POST", f"{URL}/chat/completions")

    def limited(**headers: str) -> openai.RateLimitError:
        return openai.RateLimitError("limited", response=httpx.Response(429, headers=headers, request=request),
                                     body=None)

    assert retry_wait(limited(**{"retry-after": "2"}), 0.5) == 2.0
    assert retry_wait(limited(**{"retry-after-ms": "250"}), 0.5) == 0.25
    assert retry_wait(limited(**{"retry-after": "600"}), 0.5) == 10.0
    assert retry_wait(limited(**{"retry-after": "soon"}), 0.5) == 0.5
    assert retry_wait(openai.APIConnectionError(request=request), 1.5) == 1.5


async def test_a_call_written_as_text_is_shown_and_then_ends_with_a_clear_sentence():
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    blob = '<tool_call>{"name": "add_task", "arguments": {"title": "milk"}}</tool_call>'
    fake = FakeOpenAI(text_stream(blob[:20], blob[20:]))
    events: list[ModelEvent] = []
    with pytest.raises(ModelUnavailable) as failure:
        async for event in fake.model().stream(MESSAGES, TOOLS):
            events.append(event)
    assert events == [ModelText(blob[:20]), ModelText(blob[20:])]
    assert failure.value.message == TEXT_CALL and failure.value.retryable is False
    assert len(fake.requests) == 1


async def test_the_agent_runs_a_turn_with_tool_results_answered_by_call_id(world: World):
    """The model server is mocked (fake transport, real SDK) because none runs here; the tools are the real MCP
    server's."""
    fake = FakeOpenAI(tool_stream(("call_1", "add_task", ['{"title": ', '"Buy milk"}']), text="I will add it."),
                      text_stream("Added ", "Buy milk."))
    events = await world.turn(world.agent_on(fake.model()), message="add buy milk")

    assert kinds(events) == ["turn_started", "text_delta", "tool_call", "tool_result", "text_delta", "message_done"]
    first, second = fake.bodies()
    assert [m["role"] for m in first["messages"]] == ["system", "user"]
    assert {"add_task", "delete_task", "whoami"} <= {t["function"]["name"] for t in first["tools"]}
    assert all(set(t) == {"type", "function"} and t["type"] == "function" for t in first["tools"])
    assert "$ref" not in json.dumps(first["tools"]) and second["tools"] == first["tools"]
    (task,) = (await list_tasks(world.uow, world.user, TaskQuery())).data
    assert second["messages"][1:] == [
        {"role": "user", "content": "add buy milk"},
        {"role": "assistant", "content": "I will add it.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "add_task", "arguments": '{"title": "Buy milk"}'}},
        ]},
        {"role": "tool", "tool_call_id": "call_1",
         "content": json.dumps(task.model_dump(mode="json"), ensure_ascii=False)},
    ]
    assert events[-1].text == "Added Buy milk." and task.title == "Buy milk"


async def test_a_turn_whose_model_writes_the_call_as_text_changes_nothing_and_says_why(world: World):
    """The model server is mocked (fake transport, real SDK) because none runs here."""
    fake = FakeOpenAI(text_stream('{"name": "add_task", "arguments": {"title": "milk"}}'))
    events = await world.turn(world.agent_on(fake.model()), message="add milk")
    assert kinds(events) == ["turn_started", "text_delta", "error"]
    assert events[-1].message == TEXT_CALL and events[-1].retryable is False
    assert (await list_tasks(world.uow, world.user, TaskQuery())).data == []
