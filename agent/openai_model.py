"""The OpenAI-compatible adapter of the chat model port: the official `openai` SDK's streaming chat completions,
for hosted APIs and local servers alike (Ollama, llama.cpp's server, vLLM, LM Studio).

Text deltas stream as they come; tool calls arrive in fragments (id and name first, then pieces of the arguments,
keyed by index) and are handed on whole once the stream ends. Failures before any output are retried like the
Cohere adapter's (rate limits, 5xx, failed connections); every failure reaches the person as a sentence."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import openai
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam

from agent.model import Message, ModelEnd, ModelEvent, ModelText, ModelToolCall, ModelUnavailable, ToolSpec
from agent.openai_tools import looks_like_a_call, openai_messages, openai_tools, tool_names
from agent.retries import RetryPolicy, with_retries

logger = logging.getLogger(__name__)

NO_KEY = "not-needed"  # the SDK insists on a key; local servers ignore the bearer token
RETRYABLE_STATUS = {408, 409, 429}
MAX_RETRY_DELAY = 10.0
FINISH_REASONS = {"stop": "COMPLETE", "tool_calls": "TOOL_CALL", "function_call": "TOOL_CALL", "length": "MAX_TOKENS",
                  "content_filter": "CONTENT_FILTER"}
TEXT_CALL = ("The model wrote a tool call as text instead of calling the tool, so nothing was done; use a model "
             "with tool calling (function calling) support (README: \"Local models\").")
CONTEXT_WORDS = ("context length", "context_length", "context window", "maximum context", "context size",
                 "too many tokens", "prompt is too long", "exceed_context")
Failure = openai.APIError | httpx.HTTPError


@dataclass
class _PartialCall:
    id: str
    name: str
    arguments: str


class OpenAIModel:
    """Streams chat completions from `base_url` (an OpenAI-compatible API, e.g. http://127.0.0.1:11434/v1)."""

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_retries: int = 2,
        retry_delay: float = 1.0,
        timeout: float = 120.0,
    ) -> None:
        # The SDK's own retries are off: this adapter retries only before any output, as the Cohere adapter does.
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key or NO_KEY, http_client=http_client,
                                         max_retries=0, timeout=timeout)
        self.base_url = base_url
        self.model = model
        self.retries = RetryPolicy(
            "model", (openai.APIError, httpx.HTTPError), worth_retrying, retry_wait, self.unavailable,  # type: ignore[arg-type]
            describe, max_retries=max_retries, retry_delay=retry_delay)

    @property
    def label(self) -> str:
        """What the host shows as the model in use."""
        return f"openai {self.model} at {self.base_url}"

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        """Answer the conversation (retried before any output); a failure becomes ModelUnavailable with a message
        for the person."""
        async for event in with_retries(self.retries, lambda: self._events(messages, tools)):
            yield event

    async def _events(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        # The converters build plain dicts in the shapes of the SDK's TypedDicts; no tools: none sent (not `[]`,
        # which some servers refuse).
        stream = await self.client.chat.completions.create(
            model=self.model, stream=True, stream_options={"include_usage": True},
            messages=cast("list[ChatCompletionMessageParam]", openai_messages(messages)),
            tools=cast("list[ChatCompletionFunctionToolParam]", openai_tools(tools)) if tools else openai.omit,
        )
        calls: list[_PartialCall] = []
        by_index: dict[int, _PartialCall] = {}
        text: list[str] = []
        finish: str | None = None
        async for chunk in stream:
            if chunk.usage is not None:
                logger.debug("model usage: %d tokens in, %d out", chunk.usage.prompt_tokens,
                             chunk.usage.completion_tokens)
            for choice in chunk.choices[:1]:
                if choice.delta.content:
                    text.append(choice.delta.content)
                    yield ModelText(choice.delta.content)
                for fragment in choice.delta.tool_calls or []:
                    _extend(calls, by_index, fragment)
                finish = choice.finish_reason or finish
        for call in calls:
            yield ModelToolCall(id=call.id or f"call_{uuid.uuid4().hex[:12]}", name=call.name,
                                arguments=call.arguments or "{}")
        if not calls and looks_like_a_call("".join(text), tool_names(tools)):
            raise ModelUnavailable(TEXT_CALL, retryable=False)
        yield ModelEnd("TOOL_CALL" if calls else FINISH_REASONS.get(finish or "stop", str(finish).upper()))

    def unavailable(self, exc: Failure) -> ModelUnavailable:
        """The person-facing failure for an SDK or transport error."""
        where = self.base_url
        if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
            return ModelUnavailable(f"The model server at {where} did not answer in time; try again.", retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            return ModelUnavailable(
                f"Could not reach the model server at {where} ({describe(exc)}); check that it is running and "
                "that TODO_AGENT_OPENAI_BASE_URL is right.", retryable=True)
        if isinstance(exc, httpx.HTTPError):
            return ModelUnavailable(f"The connection to the model server at {where} broke ({describe(exc)}); "
                                    "try again.", retryable=True)
        detail = error_text(exc)
        if _too_long(exc, detail):
            return ModelUnavailable(
                "The conversation is too long for the model's context window; start a new conversation, or lower "
                "TODO_AGENT_TOKEN_BUDGET (or give the model server a larger context size).", retryable=False)
        if not isinstance(exc, openai.APIStatusError):
            return ModelUnavailable(f"The model server reported an error ({detail}); try again.", retryable=True)
        return self._status(exc.status_code, detail, exc)

    def _status(self, status: int, detail: str, exc: openai.APIStatusError) -> ModelUnavailable:
        where, lowered = self.base_url, detail.lower()
        if status in (401, 403):
            return ModelUnavailable(f"The model server at {where} refused the API key (HTTP {status}); check "
                                    "TODO_AGENT_OPENAI_API_KEY.", retryable=False)
        if status == 404 and (exc.code == "model_not_found" or "model" in lowered):
            return ModelUnavailable(
                f"The model server at {where} has no model named {self.model!r}; check TODO_AGENT_OPENAI_MODEL "
                f"(for Ollama: ollama pull {self.model}) ({detail}).", retryable=False)
        if status == 404:
            return ModelUnavailable(
                f"The model server at {where} has no chat completions API there (HTTP 404); check "
                "TODO_AGENT_OPENAI_BASE_URL (it usually ends in /v1).", retryable=False)
        if status == 429:
            return ModelUnavailable(f"The model server at {where} is rate-limiting requests; try again in a minute.",
                                    retryable=True)
        if "jinja" in lowered or ("support" in lowered and "tool" in lowered):
            return ModelUnavailable(
                f"The model {self.model!r} cannot call tools on this server ({detail}); use a model with tool "
                "calling support (llama.cpp's server needs --jinja).", retryable=False)
        if status >= 500 or status in RETRYABLE_STATUS:
            return ModelUnavailable(f"The model server had a problem (HTTP {status}: {detail}); try again shortly.",
                                    retryable=True)
        return ModelUnavailable(f"The model server refused the request (HTTP {status}): {detail}", retryable=False)


def error_text(exc: openai.APIError) -> str:
    """The server's own words: the error body's `message` (or the body itself), else the SDK's message."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    if isinstance(body, str) and body:
        return body
    return exc.message


def _too_long(exc: openai.APIError, detail: str) -> bool:
    lowered = detail.lower()
    return exc.code == "context_length_exceeded" or any(words in lowered for words in CONTEXT_WORDS)


def worth_retrying(exc: Failure) -> bool:
    """Rate limits, 5xx and failed connections; not a slow answer (a retry would be as slow)."""
    if isinstance(exc, openai.APITimeoutError):
        return isinstance(exc.__cause__, httpx.ConnectTimeout)
    if isinstance(exc, openai.APIConnectionError | httpx.ConnectTimeout):
        return True
    if isinstance(exc, httpx.TimeoutException):
        return False
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return (exc.status_code >= 500 or exc.status_code in RETRYABLE_STATUS) and not _too_long(exc, error_text(exc))
    return False


def retry_wait(exc: Failure, backoff: float) -> float:
    """Seconds before the next try: the server's Retry-After (or retry-after-ms) when it sent one, else the
    backoff; never more than MAX_RETRY_DELAY."""
    headers = exc.response.headers if isinstance(exc, openai.APIStatusError) else httpx.Headers()
    try:
        if "retry-after-ms" in headers:
            return min(float(headers["retry-after-ms"]) / 1000, MAX_RETRY_DELAY)
        return min(float(headers.get("retry-after", backoff)), MAX_RETRY_DELAY)
    except ValueError:
        return min(backoff, MAX_RETRY_DELAY)


def describe(exc: BaseException) -> str:
    """A short name for a failure in logs and messages: 'HTTP 429' or the underlying error's class and text."""
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    cause = exc.__cause__ if isinstance(exc, openai.APIConnectionError) and exc.__cause__ is not None else exc
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _extend(calls: list[_PartialCall], by_index: dict[int, _PartialCall], fragment: Any) -> None:
    """Add a streamed fragment to its call: the first fragment of an index starts it (id and name), later ones
    add to its arguments. A fragment with a new id at a known index starts another call (some servers number
    every call 0)."""
    function = fragment.function
    name = (function.name if function else None) or ""
    arguments = (function.arguments if function else None) or ""
    current = by_index.get(fragment.index)
    if current is None or (fragment.id and current.id and fragment.id != current.id):
        current = _PartialCall(id=fragment.id or "", name=name, arguments=arguments)
        calls.append(current)
        by_index[fragment.index] = current
        return
    current.id = current.id or fragment.id or ""
    current.name = current.name or name
    current.arguments += arguments
