"""The chat model port: messages and tools in Cohere's v2 format in, a stream of model events out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

Message = dict[str, Any]
ToolSpec = dict[str, Any]


@dataclass(frozen=True)
class ModelText:
    """A piece of the model's text (its answer, or its plan before tool calls)."""

    text: str


@dataclass(frozen=True)
class ModelToolCall:
    """One complete tool call; `arguments` is the JSON object as the model wrote it (a string)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ModelEnd:
    """The model finished this call (e.g. COMPLETE, TOOL_CALL, MAX_TOKENS)."""

    finish_reason: str


ModelEvent = ModelText | ModelToolCall | ModelEnd


class ModelUnavailable(Exception):
    """The model service failed; `message` is written for the person, `retryable` if a later try may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class ChatModel(Protocol):
    """A streaming chat model that may call tools."""

    def stream(self, messages: list[Message], tools: list[ToolSpec]) -> AsyncIterator[ModelEvent]:
        """Answer the conversation so far: text pieces, complete tool calls, then an end."""
        ...
