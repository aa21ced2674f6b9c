"""The agent: runs a turn of a conversation as an async stream of events (see agent.stream)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from agent.calls import approval_reason, call_key, parse_arguments
from agent.catalog import ToolFacts
from agent.ledger import Emit, Ledger, counted
from agent.model import ChatModel
from agent.ports import LazyToolbox, ToolboxFactory, ToolOutcome
from agent.prompt import system_prompt
from agent.settings import AgentSettings
from agent.slots import TurnSlots
from agent.store import (
    DECLINED,
    ERROR,
    PENDING_APPROVAL,
    RUNNING,
    ConversationNotFound,
    ConversationStore,
    Message,
    NewMessage,
)
from agent.stream import ApprovalRequired, TurnError, TurnEvent, TurnStarted
from agent.tokens import prompt_tokens
from agent.turn import Turn

logger = logging.getLogger(__name__)

INTERRUPTED = ToolOutcome(
    None, "Interrupted before its result came back: it may or may not have run; check before retrying.", True
)
SUPERSEDED = ToolOutcome(None, "Not run: the user sent a new message instead of approving this call.", True)
REFUSED = ToolOutcome(None, "Not run: the user declined this call. Do not try it again unless they ask.", True)
EXPIRED = ToolOutcome(None, "Not run: the conversation ended before the user approved this call.", True)
NOTHING_WAITING = "Nothing is waiting for approval under that id; it may have been answered already."
LATE = ("That approval came too late: the conversation was idle for more than {minutes} minutes, so the call "
        "expired and did not run. Ask again in a new message if you still want it.")


class Clock(Protocol):
    """Where the agent reads the time (tests set it)."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class Approval(BaseModel):
    """The person's answer to an `approval_required` event."""

    tool_call_id: str
    approved: bool


class Agent:
    """Turns a person's messages (or approvals) into model calls and MCP tool calls, persisting every step.

    One per process: it caches the tool list and each user's timezone (see agent.catalog), so that a turn connects
    to the tools only when the model calls one.
    """

    def __init__(
        self,
        model: ChatModel,
        toolbox_factory: ToolboxFactory,
        store: ConversationStore,
        clock: Clock,
        settings: AgentSettings | None = None,
    ) -> None:
        self.model = model
        self.toolbox_factory = toolbox_factory
        self.store = store
        self.clock = clock
        self.settings = settings or AgentSettings()
        self.facts = ToolFacts(self.settings, clock.now)
        self.slots = TurnSlots(self.settings.turns_per_user)  # taken by the host around each turn it streams

    async def run_turn(
        self,
        user_id: int,
        conversation_id: int | None = None,
        message: str | None = None,
        approval: Approval | Mapping[str, Any] | None = None,
    ) -> AsyncGenerator[TurnEvent, None]:
        """Run one turn for a new `message` or an `approval` answer, streaming its events."""
        if (message is None) == (approval is None):
            raise ValueError("give either a message or an approval")
        answer = None if approval is None else Approval.model_validate(approval)
        if answer is not None and conversation_id is None:
            raise ValueError("an approval answers a call in a conversation: give its conversation_id")
        queue: asyncio.Queue[TurnEvent | None] = asyncio.Queue()
        # The turn runs in its own task, so the MCP client's cancel scopes are entered and left by one task
        # whatever the consumer does; closing this stream early cancels the turn (and settles its open calls).
        worker = asyncio.create_task(self._drive(user_id, conversation_id, message, answer, queue.put_nowait))
        worker.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            worker.cancel()
            await asyncio.wait([worker])

    async def _drive(
        self, user_id: int, conversation_id: int | None, message: str | None, answer: Approval | None, emit: Emit
    ) -> None:
        try:
            if answer is not None and conversation_id is not None:
                await self._on_approval(user_id, conversation_id, answer, emit)
            else:
                await self._on_message(user_id, conversation_id, message or "", emit)
        except ConversationNotFound:
            emit(TurnError(message="That conversation was not found.", retryable=False))
        except Exception:
            logger.exception("turn failed for user %s (conversation %s)", user_id, conversation_id)
            emit(TurnError(message="Something went wrong while answering; please try again.", retryable=True))

    async def _on_message(self, user_id: int, conversation_id: int | None, message: str, emit: Emit) -> None:
        start = await self.store.begin_turn(
            user_id, conversation_id, counted(NewMessage("user", content=message)), now=self.clock.now(),
            timeout=self.settings.session_timeout, limit=self.settings.window_messages,
        )
        if start.is_new and conversation_id is not None:
            await self._expire(conversation_id)
        emit(TurnStarted(conversation_id=start.conversation.id or 0, new_conversation=start.is_new))
        ledger = Ledger(self.store, start.conversation.id or 0, start.rows, emit, self.clock.now)
        if not start.appended:
            await ledger.close(INTERRUPTED, RUNNING, status=ERROR)
            await ledger.close(SUPERSEDED, PENDING_APPROVAL, status=DECLINED)
            await ledger.append([NewMessage("user", content=message)])
        await self._with_tools(user_id, ledger, Turn.converse)

    async def _on_approval(self, user_id: int, conversation_id: int, answer: Approval, emit: Emit) -> None:
        conversation = await self.store.get(user_id, conversation_id)
        emit(TurnStarted(conversation_id=conversation_id, new_conversation=False))
        ledger = await self._ledger(conversation_id, emit)
        waiting = next((r for r in ledger.open_calls(PENDING_APPROVAL) if r.tool_call_id == answer.tool_call_id), None)
        if waiting is not None and self.clock.now() - conversation.last_activity_at > self.settings.session_timeout:
            await ledger.close(EXPIRED, PENDING_APPROVAL, status=DECLINED)
            minutes = f"{self.settings.session_timeout.total_seconds() / 60:g}"
            emit(TurnError(message=LATE.format(minutes=minutes), retryable=False))
            return
        if waiting is None or not await self._take(ledger, waiting, answer):
            emit(TurnError(message=NOTHING_WAITING, retryable=False))
            return

        async def resume(turn: Turn) -> None:
            if answer.approved:
                call = ledger.call_of(waiting)
                arguments = parse_arguments(call.get("arguments", "")) or {}
                turn.seen.add(call_key(call.get("name", ""), arguments))
                await ledger.settle(waiting, await turn.toolbox.call(call.get("name", ""), arguments))
            if not self._still_waiting(ledger):
                await turn.converse()

        await self._with_tools(user_id, ledger, resume)

    @staticmethod
    async def _take(ledger: Ledger, waiting: Message, answer: Approval) -> bool:
        """Claim an approved call for this turn, or settle a declined one; False when another answer came first
        (two answers at once, a double click), so that one approval runs its call at most once."""
        if answer.approved:
            return await ledger.claim(waiting)
        return await ledger.settle(waiting, REFUSED, status=DECLINED, expect=PENDING_APPROVAL)

    def _still_waiting(self, ledger: Ledger) -> bool:
        """Announce the calls that still wait for an answer (the turn then ends); False when none do."""
        for row in ledger.open_calls(PENDING_APPROVAL):
            call = ledger.call_of(row)
            arguments = parse_arguments(call.get("arguments", "")) or {}
            name = call.get("name", "")
            # The reason given when the call was held (a step's count of tasks), else the call's own.
            reason = row.summary or approval_reason(name, arguments, self.settings) or "it needs your approval"
            ledger.emit(ApprovalRequired(tool_call_id=row.tool_call_id or "", name=name, arguments=arguments,
                                         reason=reason))
        return bool(ledger.open_calls(PENDING_APPROVAL))

    async def _expire(self, conversation_id: int) -> None:
        """A conversation that timed out keeps no open call: its waiting approvals lapse."""
        old = await self._ledger(conversation_id, lambda _: None)
        await old.close(INTERRUPTED, RUNNING, status=ERROR)
        await old.close(EXPIRED, PENDING_APPROVAL, status=DECLINED)

    async def _ledger(self, conversation_id: int, emit: Emit) -> Ledger:
        rows = await self.store.window(conversation_id, self.settings.window_messages)
        return Ledger(self.store, conversation_id, rows, emit, self.clock.now)

    async def _with_tools(self, user_id: int, ledger: Ledger, body: Callable[[Turn], Awaitable[None]]) -> None:
        """Run `body` on a turn with the user's tools (opened if it needs them), then settle any call left running."""
        try:
            async with AsyncExitStack() as stack:
                await body(await self._turn(user_id, ledger, LazyToolbox(self.toolbox_factory, user_id, stack)))
        finally:
            # Outside the toolbox's cancel scopes, so these writes run even when the turn was cancelled.
            await ledger.close(INTERRUPTED, RUNNING, status=ERROR)

    async def _turn(self, user_id: int, ledger: Ledger, toolbox: LazyToolbox) -> Turn:
        """A turn with the tool list and a system prompt that knows the user's local time."""
        catalog = await self.facts.catalog(toolbox)
        now = await self.facts.local_now(user_id, toolbox, catalog)
        system = system_prompt(now, catalog.instructions)
        fixed_tokens = prompt_tokens(system) + catalog.tool_tokens
        return Turn(self.model, self.settings, ledger, toolbox, catalog.tools, system, fixed_tokens,
                    read_only=catalog.read_only)
