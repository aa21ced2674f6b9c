"""/api/v1/chat: talk to the agent; a turn streams its events (agent.stream) as server-sent events."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.types import Receive, Scope, Send

from agent.agent import Approval
from agent.model_choice import NO_MODEL_HELP, model_label
from agent.slots import TurnsBusy, TurnSlot
from agent.stream import TurnEvent
from domain.errors import InvalidInput
from domain.values import ID_MAX, Text
from web.deps import CurrentActor, StateDep
from web.problems import responses
from web.routes.stream import EVENT_STREAM

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/chat", tags=["chat"], responses=responses(401))

MESSAGE_MAX = 8000
TURN_END = "turn_end"
RETRY_AFTER_SECONDS = 5  # a typical reply takes a few seconds


class ChatAvailability(BaseModel):
    """Whether this server has a chat model and which (`model`, e.g. "cohere command-a-03-2025"); when there is
    none, `message` says how to configure one."""

    available: bool
    message: str | None
    model: str | None = None


class ChatApproval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tool_call_id: Text = Field(min_length=1, max_length=200)
    approved: bool


class ChatRequest(BaseModel):
    """A new message, or the answer to an `approval_required` event of a conversation."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: Annotated[int, Field(ge=1, le=ID_MAX)] | None = Field(
        default=None, description="continue this conversation (a new one starts without it, or after a timeout)"
    )
    message: Text | None = Field(default=None, max_length=MESSAGE_MAX)
    approval: ChatApproval | None = None

    def check(self) -> None:
        """The rules across fields, as field-named errors."""
        if (self.message is None) == (self.approval is None):
            raise InvalidInput("send either `message` or `approval`, not both or neither", field="message")
        if self.message is not None and not self.message.strip():
            raise InvalidInput("the message is empty: write something", field="message")
        if self.approval is not None and self.conversation_id is None:
            raise InvalidInput("an approval answers a call of a conversation: give its conversation_id",
                               field="conversation_id")


@router.get("", response_model=ChatAvailability)
async def availability(state: StateDep, _actor: CurrentActor) -> ChatAvailability:
    """Whether you can chat here (the page shows `message` instead of the chat when not)."""
    if state.agent is None:
        return ChatAvailability(available=False, message=NO_MODEL_HELP)
    return ChatAvailability(available=True, message=None, model=model_label(state.agent.model))


class TurnResponse(EventSourceResponse):
    """A turn's event stream that gives its turn slot back when the response is over, however it ends."""

    def __init__(self, events: AsyncIterator[ServerSentEvent], slot: TurnSlot, *, ping: float) -> None:
        super().__init__(events, ping=ping, send_timeout=30)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


@router.post("", response_class=EventSourceResponse,
             responses={200: EVENT_STREAM, **responses(404, 422, 429, 503)})
async def chat(state: StateDep, actor: CurrentActor, body: ChatRequest) -> EventSourceResponse:
    """Run one turn and stream its events: `turn_started`, `text_delta`, `tool_call`, `tool_result`,
    `approval_required`, `message_done`, `error`, then `turn_end`. Each `data` is JSON with its `type`.
    Closing the stream (a stop button) cancels the turn; calls it left running are recorded as interrupted.
    One turn runs at a time per conversation and a few per user (TODO_AGENT_CHAT_TURNS_PER_USER): another answers
    429 with Retry-After."""
    body.check()
    agent = state.agent
    if agent is None:
        raise HTTPException(503, NO_MODEL_HELP)
    if body.conversation_id is not None:  # another user's conversation answers 404 before any stream starts
        await state.conversations.get(actor.id, body.conversation_id)
    try:
        slot = await agent.slots.wait_for(actor.id, body.conversation_id)
    except TurnsBusy as busy:
        raise HTTPException(429, busy.message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}) from None
    approval = None if body.approval is None else Approval(**body.approval.model_dump())
    turn = agent.run_turn(actor.id, body.conversation_id, message=body.message, approval=approval)
    return TurnResponse(_sse(turn), slot, ping=state.ping_seconds)


async def _sse(turn: AsyncGenerator[TurnEvent, None]) -> AsyncIterator[ServerSentEvent]:
    sent = 0
    try:
        async for event in turn:
            sent += 1
            yield ServerSentEvent(data=event.model_dump_json(), event=event.type, id=str(sent))
        yield ServerSentEvent(data=f'{{"type":"{TURN_END}"}}', event=TURN_END, id=str(sent + 1))
    finally:
        # The client went away (or the server stops): end the turn here, whatever cancels this generator.
        with anyio.CancelScope(shield=True):
            await turn.aclose()
