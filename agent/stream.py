"""What a turn streams to its host: typed events, discriminated by `type`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field


class TurnStarted(BaseModel):
    """The turn runs in this conversation; `new_conversation` when it was just started (first or after a timeout)."""

    type: Literal["turn_started"] = "turn_started"
    conversation_id: int
    new_conversation: bool


class TextDelta(BaseModel):
    """A piece of the assistant's text, in order."""

    type: Literal["text_delta"] = "text_delta"
    text: str


class ToolCall(BaseModel):
    """The model asked for a tool call (it runs next, or waits for approval)."""

    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: dict[str, Any]


class ToolResult(BaseModel):
    """A tool call finished: a one-line summary for people, and whether it failed."""

    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    summary: str
    is_error: bool


class ApprovalRequired(BaseModel):
    """The call waits for the person's yes or no; the turn ends here and resumes with their answer."""

    type: Literal["approval_required"] = "approval_required"
    tool_call_id: str
    name: str
    arguments: dict[str, Any]
    reason: str


class MessageDone(BaseModel):
    """The turn's final assistant message is complete (its text was streamed as deltas)."""

    type: Literal["message_done"] = "message_done"
    text: str


class TurnError(BaseModel):
    """The turn could not finish; `message` is written for the person, `retryable` if trying again may work."""

    type: Literal["error"] = "error"
    message: str
    retryable: bool


TurnEvent = Annotated[
    TurnStarted | TextDelta | ToolCall | ToolResult | ApprovalRequired | MessageDone | TurnError,
    Field(discriminator="type"),
]
