"""/api/v1/conversations: your chat history (a conversation is one session with the agent)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from agent.calls import parse_arguments
from domain.values import ID_MAX
from web.deps import CurrentActor, StateDep
from web.problems import responses
from web.schemas import ConversationId

router = APIRouter(prefix="/api/v1/conversations", tags=["conversations"], responses=responses(401))


class ConversationPublic(BaseModel):
    id: int
    title: str
    started_at: datetime
    last_activity_at: datetime


class MessagePublic(BaseModel):
    seq: int
    role: str
    content: str
    tool_calls: list[dict[str, Any]] | None = Field(description="assistant messages: [{id, name, arguments}]")
    tool_call_id: str | None
    status: str
    summary: str = Field(description="tool messages: the result in one line, as the turn's tool_result event gave "
                                     "it, or while pending_approval, why the call waits for approval")
    created_at: datetime


class MessagesPublic(BaseModel):
    data: list[MessagePublic]
    count: int


@router.get("", response_model=list[ConversationPublic])
async def list_conversations(
    state: StateDep, actor: CurrentActor, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> list[ConversationPublic]:
    """Your conversations, most recently active first."""
    rows = await state.conversations.conversations(actor.id, limit=limit)
    return [ConversationPublic.model_validate(r, from_attributes=True) for r in rows]


@router.get("/{conversation_id}/messages", response_model=MessagesPublic, responses=responses(404))
async def list_messages(
    state: StateDep,
    actor: CurrentActor,
    conversation_id: ConversationId,
    after_seq: Annotated[int, Query(ge=0, le=ID_MAX, description="only messages after this seq (paging)")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> MessagesPublic:
    """The messages of one of your conversations, in order (another user's conversation answers 404)."""
    rows = await state.conversations.messages(actor.id, conversation_id, after_seq=after_seq, limit=limit)
    data = [MessagePublic.model_validate(r, from_attributes=True) for r in rows]
    for message in data:
        message.tool_calls = _with_object_arguments(message.tool_calls)
    return MessagesPublic(data=data, count=len(data))


def _with_object_arguments(calls: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Tool calls with their `arguments` as a JSON object (the store keeps the model's text)."""
    if calls is None:
        return None
    return [{**call, "arguments": _as_object(call.get("arguments"))} for call in calls]


def _as_object(arguments: Any) -> Any:
    return (parse_arguments(arguments) or {}) if isinstance(arguments, str) else arguments
