"""A fake OpenAI-compatible chat server for the `openai` SDK's httpx client (httpx.MockTransport): it replays
chat-completion streams in the shape the servers send them (`data: {chunk}` lines with `choices[0].delta`, a usage
chunk with no choices when `stream_options.include_usage` is asked for, then `data: [DONE]`) and their error
bodies (`{"error": {"message", "type", "param", "code"}}`), and keeps every request it was sent.

The model server is mocked because none runs here; the real SDK parses everything the fake answers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from agent.openai_model import OpenAIModel

URL = "http://models.test/v1"
MODEL = "qwen2.5:7b"
Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """One `chat.completion.chunk` as the servers send it."""
    choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1767225600, "model": MODEL,
            "system_fingerprint": "fp_test", "choices": choices, **extra}


USAGE = chunk(None, usage={"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49})


def sse_body(*chunks: dict[str, Any], done: bool = True) -> bytes:
    """The event stream: one `data:` line per chunk, then `data: [DONE]`."""
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)
    return (body + ("data: [DONE]\n\n" if done else "")).encode()


def streamed(*chunks: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, content=sse_body(*chunks), headers={"content-type": "text/event-stream"})


def text_stream(*pieces: str, finish: str = "stop") -> httpx.Response:
    """An answer in pieces: the role first, the text deltas, the finish reason, the usage."""
    return streamed(chunk({"role": "assistant", "content": ""}), *[chunk({"content": p}) for p in pieces],
                    chunk({}, finish), USAGE)


def call_fragments(index: int, call_id: str, name: str, pieces: list[str]) -> list[dict[str, Any]]:
    """One tool call as OpenAI streams it: id, type and name with empty arguments, then the arguments in pieces."""
    first = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
    rest = [{"index": index, "function": {"arguments": piece}} for piece in pieces]
    return [chunk({"tool_calls": [fragment]}) for fragment in [first, *rest]]


def tool_stream(*calls: tuple[str, str, list[str]], text: str = "", finish: str = "tool_calls") -> httpx.Response:
    """Tool calls (id, name, argument pieces) streamed in fragments, one call after the other."""
    opening = [chunk({"role": "assistant", "content": None})] + ([chunk({"content": text})] if text else [])
    fragments = [c for index, (call_id, name, pieces) in enumerate(calls)
                 for c in call_fragments(index, call_id, name, pieces)]
    return streamed(*opening, *fragments, chunk({}, finish), USAGE)


def tool_answer(name: str, arguments: dict[str, Any], call_id: str | None = None) -> httpx.Response:
    """One whole tool call in a single chunk, as Ollama sends them."""
    return tool_stream((call_id or f"call_{name}", name, [json.dumps(arguments)]))


def error(status: int, message: str, *, code: str | None = None, kind: str = "invalid_request_error",
          **headers: str) -> httpx.Response:
    """An error status with the OpenAI error body."""
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return httpx.Response(status, json=body, headers=headers)


class BrokenStream(httpx.AsyncByteStream):
    """A response body that sends `first` and then loses the connection."""

    def __init__(self, first: bytes) -> None:
        self.first = first

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise httpx.ReadError("connection reset by peer")


def broken(*chunks: dict[str, Any]) -> httpx.Response:
    """A stream that breaks off after `chunks` (no finish, no [DONE])."""
    return httpx.Response(200, stream=BrokenStream(sse_body(*chunks, done=False)),
                          headers={"content-type": "text/event-stream"})


class FakeOpenAI:
    """Answers each request with the next answer (the last one repeats); an answer may be a function of the
    request. Keeps every request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer(request) if callable(answer) else answer

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self))

    def model(self, **options: Any) -> OpenAIModel:
        settings: dict[str, Any] = {"base_url": URL, "model": MODEL, "retry_delay": 0, **options}
        return OpenAIModel(http_client=self.client(), **settings)
