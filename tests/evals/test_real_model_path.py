"""The runner against a real model adapter: the Cohere adapter (the real SDK) over a fake httpx transport that
answers as Cohere's v2 chat stream does (Cohere is mocked because the API can't be reached here). Rate limits
(HTTP 429) are retried by the runner with back-off, the trial is judged like any other, and the report carries
the retries and an estimated cost from the price table."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from agent.cohere_model import DEFAULT_MODEL, CohereModel
from agent.model import ChatModel
from evals.runner import ModelChoice, RunOptions, run_scenarios
from runtime.migrate import upgrade
from tests.evals.conftest import Offline, base

URL = "http://cohere.test"


def sse(*events: dict[str, Any]) -> httpx.Response:
    body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return httpx.Response(200, content=body.encode(), headers={"content-type": "text/event-stream"})


def text(reply: str) -> httpx.Response:
    return sse({"type": "message-start", "id": "m", "delta": {"message": {"role": "assistant"}}},
               {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}},
               {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": reply}}}},
               {"type": "content-end", "index": 0},
               {"type": "message-end", "delta": {"finish_reason": "COMPLETE"}})


def tool(name: str, arguments: dict[str, Any]) -> httpx.Response:
    start = {"id": f"call-{name}", "type": "function", "function": {"name": name, "arguments": ""}}
    delta = {"tool_calls": {"function": {"arguments": json.dumps(arguments)}}}
    return sse({"type": "message-start", "id": "m", "delta": {"message": {"role": "assistant"}}},
               {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": start}}},
               {"type": "tool-call-delta", "index": 0, "delta": {"message": delta}},
               {"type": "tool-call-end", "index": 0},
               {"type": "message-end", "delta": {"finish_reason": "TOOL_CALL"}})


def rate_limited() -> httpx.Response:
    return httpx.Response(429, json={"message": "too many requests"}, headers={"retry-after": "0"})


def last_result(request: httpx.Request) -> Any:
    """The data of the last tool result in the chat request (what a model reads the task id from)."""
    message = json.loads(request.content)["messages"][-1]
    return json.loads(message["content"][0]["document"]["data"])


def fake_cohere(limits: int, seen: list[httpx.Request]) -> Callable[[], ChatModel]:
    """A factory of Cohere adapters whose API answers `limits` times 429, then plays a good agent's path."""

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) <= limits:
            return rate_limited()
        step = len(seen) - limits
        if step == 1:
            return tool("search_tasks", {"query": "milk"})
        if step == 2:
            return tool("set_due_date", {"task_id": last_result(request)["data"][0]["id"], "due_at": "tomorrow 9am"})
        return text("Moved **Buy milk** to tomorrow at 09:00.")

    def factory() -> ChatModel:
        client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
        return CohereModel(api_key="test-key", base_url=URL, httpx_client=client, max_retries=0)

    return factory


async def test_rate_limits_are_retried_and_the_trial_is_judged(offline: Offline) -> None:
    seen: list[httpx.Request] = []
    choice = ModelChoice("cohere", fake_cohere(2, seen), retries=3, backoff=0.0)
    report = await run_scenarios([offline.scenario(base())], choice, upgrade,
                                 RunOptions(template=offline.template))
    report.price_model = DEFAULT_MODEL

    (result,) = report.scenarios
    assert (result.passed, result.failures, result.retries) == (1, [], 2)
    assert len(seen) == 5 and all(r.url.path == "/v2/chat" for r in seen)
    cost = report.cost()
    assert cost["model_calls"] == 3 and cost["retries"] == 2
    assert cost["tokens_in"] > 1000 and cost["tokens_out"] > 10
    assert cost["estimated_usd"] == (cost["tokens_in"] * 2.5 + cost["tokens_out"] * 10.0) / 1e6
    assert "retries" in report.markdown() and "≈ $" in report.markdown()


async def test_retries_give_up_and_the_turn_fails_with_the_rate_limit_message(offline: Offline) -> None:
    seen: list[httpx.Request] = []
    choice = ModelChoice("cohere", fake_cohere(100, seen), retries=2, backoff=0.0)
    report = await run_scenarios([offline.scenario(base())], choice, upgrade,
                                 RunOptions(template=offline.template))

    failures = report.scenarios[0].failures
    assert len(seen) == 3  # the first try and two retries
    assert "check.turn_ok" in [f["expectation"] for f in failures]
    assert any("rate-limiting" in f["message"] for f in failures)
    assert report.price_model is None and report.cost()["estimated_usd"] is None  # "cohere" is not a price name
