"""The Cohere adapter of the chat model port: `AsyncClientV2.chat_stream`, tool calls assembled from the stream."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import cohere
import httpx
from cohere.core.api_error import ApiError

from agent.model import Message, ModelEnd, ModelEvent, ModelText, ModelToolCall, ModelUnavailable, ToolSpec
from agent.retries import RetryPolicy, with_retries

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "command-a-03-2025"
RETRYABLE_STATUS = {408, 409, 429}
MAX_RETRY_DELAY = 10.0


@dataclass
class _PartialCall:
    id: str
    name: str
    arguments: str


class CohereModel:
    """Streams Cohere v2 chat; retries rate limits, 5xx and connection failures that happen before any output."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str = DEFAULT_MODEL,
        base_url: str | None = None,
        httpx_client: httpx.AsyncClient | None = None,
        max_retries: int = 2,
        retry_delay: float = 1.0,
        timeout: float = 120.0,
    ) -> None:
        # chat_stream does not retry by itself (the SDK retries only non-streaming requests), so this adapter does.
        self.client = cohere.AsyncClientV2(
            api_key=api_key, base_url=base_url, httpx_client=httpx_client, timeout=timeout, max_retries=0
        )
        self.model = model
        self.retries = RetryPolicy(
            "cohere", (ApiError, httpx.HTTPError), worth_retrying, retry_wait, unavailable, describe,  # type: ignore[arg-type]
            max_retries=max_retries, retry_delay=retry_delay)

    @property
    def label(self) -> str:
        """What the host shows as the model in use."""
        return f"cohere {self.model}"

    async def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        """Answer the conversation (retried before any output); a failure becomes ModelUnavailable with a message
        for the person."""
        async for event in with_retries(self.retries, lambda: self._events(messages, tools)):
            yield event

    async def _events(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        calls: dict[int, _PartialCall] = {}
        options: dict[str, Any] = {"tools": tools} if tools else {}  # an empty list would be sent as such
        stream = self.client.chat_stream(model=self.model, messages=messages, **options)  # type: ignore[arg-type]
        async for event in stream:
            if isinstance(event, cohere.ContentDeltaV2ChatStreamResponse | cohere.ToolPlanDeltaV2ChatStreamResponse):
                if text := _text_of(event):
                    yield ModelText(text)
            elif isinstance(event, cohere.ToolCallStartV2ChatStreamResponse):
                calls[event.index or 0] = _started_call(event)
            elif isinstance(event, cohere.ToolCallDeltaV2ChatStreamResponse):
                _extend_call(calls, event)
            elif isinstance(event, cohere.ToolCallEndV2ChatStreamResponse):
                done = calls.pop(event.index or 0, None)
                if done is not None:
                    yield ModelToolCall(id=done.id, name=done.name, arguments=done.arguments or "{}")
            elif isinstance(event, cohere.MessageEndV2ChatStreamResponse):
                yield _end(event)


def _text_of(
    event: cohere.ContentDeltaV2ChatStreamResponse | cohere.ToolPlanDeltaV2ChatStreamResponse,
) -> str:
    message = event.delta.message if event.delta else None
    if message is None:
        return ""
    if isinstance(event, cohere.ToolPlanDeltaV2ChatStreamResponse):
        return getattr(message, "tool_plan", None) or ""
    content = getattr(message, "content", None)
    return (getattr(content, "text", None) or "") if content is not None else ""


def _started_call(event: cohere.ToolCallStartV2ChatStreamResponse) -> _PartialCall:
    call = event.delta.message.tool_calls if event.delta and event.delta.message else None
    function = call.function if call else None
    return _PartialCall(
        id=(call.id if call else None) or f"call_{event.index or 0}",
        name=(function.name if function else None) or "",
        arguments=(function.arguments if function else None) or "",
    )


def _extend_call(calls: dict[int, _PartialCall], event: cohere.ToolCallDeltaV2ChatStreamResponse) -> None:
    call = event.delta.message.tool_calls if event.delta and event.delta.message else None
    fragment = call.function.arguments if call and call.function else None
    if fragment and (event.index or 0) in calls:
        calls[event.index or 0].arguments += fragment


def _end(event: cohere.MessageEndV2ChatStreamResponse) -> ModelEnd:
    reason = str(event.delta.finish_reason) if event.delta and event.delta.finish_reason else "COMPLETE"
    if reason == "ERROR":
        detail = event.delta.error if event.delta else None
        raise ModelUnavailable(f"The model stopped with an error ({detail or 'no detail'}); try again.", retryable=True)
    return ModelEnd(reason)


def unavailable(exc: ApiError | httpx.HTTPError) -> ModelUnavailable:
    """The person-facing failure for an SDK or transport error."""
    if isinstance(exc, httpx.TimeoutException):
        return ModelUnavailable("The model service did not answer in time; try again.", retryable=True)
    if isinstance(exc, httpx.HTTPError):
        return ModelUnavailable(f"Could not reach the model service ({describe(exc)}); try again.", retryable=True)
    status = exc.status_code or 0
    if status in (401, 403, 498):
        return ModelUnavailable(
            f"The model service refused the API key (HTTP {status}); check CO_API_KEY.", retryable=False
        )
    if status == 429:
        return ModelUnavailable("The model service is rate-limiting requests; try again in a minute.", retryable=True)
    if status >= 500 or status in RETRYABLE_STATUS:
        return ModelUnavailable(f"The model service had a problem (HTTP {status}); try again shortly.", retryable=True)
    return ModelUnavailable(f"The model service refused the request (HTTP {status}): {exc.body}", retryable=False)


def worth_retrying(exc: ApiError | httpx.HTTPError) -> bool:
    """Rate limits, 5xx and failed connections; not a slow answer (the SDK never retries those either)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return True
    if isinstance(exc, httpx.TimeoutException):
        return False
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, ApiError):
        status = exc.status_code or 0
        return status >= 500 or status in RETRYABLE_STATUS
    return False


def retry_wait(exc: ApiError | httpx.HTTPError, backoff: float) -> float:
    """Seconds before the next try: the server's Retry-After when it sent one, else the backoff."""
    headers = exc.headers if isinstance(exc, ApiError) else None
    try:
        return min(float((headers or {}).get("retry-after", backoff)), MAX_RETRY_DELAY)
    except ValueError:
        return min(backoff, MAX_RETRY_DELAY)


def describe(exc: BaseException) -> str:
    """A short name for a failure in logs: 'HTTP 429' or the exception's class and text."""
    if isinstance(exc, ApiError):
        return f"HTTP {exc.status_code}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
