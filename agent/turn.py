"""One turn of the agent: model calls, tool calls and their results, until an answer, a pause or a limit."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from agent.calls import Verdict, call_key, hold_together, judge, parse_arguments
from agent.ledger import Ledger
from agent.model import ChatModel, ModelText, ModelToolCall, ModelUnavailable, ToolSpec
from agent.ports import Toolbox, ToolOutcome
from agent.settings import AgentSettings
from agent.store import PENDING_APPROVAL, RUNNING, Message, NewMessage
from agent.stream import ApprovalRequired, MessageDone, TextDelta, ToolCall, TurnError
from agent.window import assemble, tail

logger = logging.getLogger(__name__)


@dataclass
class Turn:
    """The model loop of one turn over a ledger, with the user's tools."""

    model: ChatModel
    settings: AgentSettings
    ledger: Ledger
    toolbox: Toolbox
    tools: list[ToolSpec]
    system: str
    fixed_tokens: int | None = None  # the system prompt's and the tool schemas' share of the budget, if known
    read_only: frozenset[str] = frozenset()  # tools the server marks read-only (their calls change no task)
    seen: set[str] = field(default_factory=set)
    touched: set[str] = field(default_factory=set)  # task ids changed in this turn without the person's approval
    model_calls: int = 0

    async def converse(self) -> None:
        """Call the model until it answers, waits for an approval, fails, or reaches the step limit."""
        while True:
            step = await self.model_step()
            if step is None:
                return
            text, calls = step
            if not calls:
                await self.answer(text)
                return
            if self.model_calls >= self.settings.max_model_calls:
                await self.stop_at_limit(text, calls)
                return
            if await self.run_calls(text, calls):
                return

    async def model_step(self) -> tuple[str, list[ModelToolCall]] | None:
        """One model call, its text streamed; None (after an error event) when the model failed."""
        window = tail(self.ledger.rows, self.settings.window_messages)
        messages = assemble(self.system, window, self.tools, self.settings.token_budget, fixed_tokens=self.fixed_tokens)
        self.model_calls += 1
        parts: list[str] = []
        calls: list[ModelToolCall] = []
        try:
            async with asyncio.timeout(self.settings.model_timeout):
                async for event in self.model.stream(messages, self.tools):
                    if isinstance(event, ModelText):
                        parts.append(event.text)
                        self.ledger.emit(TextDelta(text=event.text))
                    elif isinstance(event, ModelToolCall):
                        calls.append(event)
        except ModelUnavailable as exc:
            self.failed(exc.message, retryable=exc.retryable)
            return None
        except TimeoutError:
            seconds = f"{self.settings.model_timeout:g}"
            self.failed(f"The model did not answer within {seconds} seconds; try again.", retryable=True)
            return None
        return "".join(parts), calls

    def failed(self, message: str, *, retryable: bool) -> None:
        """Log a model failure and tell the person."""
        logger.error("model call failed (conversation %s): %s", self.ledger.conversation_id, message)
        self.ledger.emit(TurnError(message=message, retryable=retryable))

    async def answer(self, text: str) -> None:
        """Keep the final answer and end the turn."""
        await self.ledger.append([NewMessage("assistant", content=text)])
        self.ledger.emit(MessageDone(text=text))

    async def run_calls(self, text: str, calls: list[ModelToolCall]) -> bool:
        """Keep the assistant message and run its calls in order; True when one now waits for approval."""
        verdicts, changed = hold_together([judge(call, self.seen, self.settings) for call in calls], self.read_only,
                                          self.touched, self.settings.bulk_approval_over)
        self.touched |= changed
        for verdict, row in zip(verdicts, await self.keep_calls(text, verdicts), strict=True):
            call = verdict.call
            self.ledger.emit(ToolCall(id=call.id, name=call.name, arguments=verdict.arguments))
            if verdict.approval is not None:
                self.ledger.emit(
                    ApprovalRequired(
                        tool_call_id=call.id, name=call.name, arguments=verdict.arguments, reason=verdict.approval
                    )
                )
                continue
            outcome = verdict.refusal or await self.toolbox.call(call.name, verdict.arguments)
            await self.ledger.settle(row, outcome)
            if outcome.is_error and verdict.refusal is None:
                # A call that failed may succeed once its cause is fixed (complete the subtasks, then the parent):
                # only a call that worked is a repeat. The step limit still bounds a model retrying in vain.
                self.seen.discard(call_key(call.name, verdict.arguments))
        return any(verdict.approval is not None for verdict in verdicts)

    async def keep_calls(self, text: str, verdicts: list[Verdict]) -> list[Message]:
        """Store the assistant message with a placeholder result per call (so no call is ever left dangling)."""
        stored = [{"id": v.call.id, "name": v.call.name, "arguments": v.call.arguments} for v in verdicts]
        holders = [
            NewMessage("tool", tool_call_id=v.call.id, status=RUNNING if v.approval is None else PENDING_APPROVAL,
                       summary=v.approval or "")
            for v in verdicts
        ]
        return (await self.ledger.append([NewMessage("assistant", content=text, tool_calls=stored), *holders]))[1:]

    async def stop_at_limit(self, text: str, calls: list[ModelToolCall]) -> None:
        """The step limit: the last calls are answered as not run, and the person is told why."""
        limit = self.settings.max_model_calls
        refusal = ToolOutcome(None, f"Not run: this turn reached its limit of {limit} model calls.", is_error=True)
        verdicts = [Verdict(call, parse_arguments(call.arguments) or {}, refusal=refusal) for call in calls]
        for verdict, row in zip(verdicts, await self.keep_calls(text, verdicts), strict=True):
            self.ledger.emit(ToolCall(id=verdict.call.id, name=verdict.call.name, arguments=verdict.arguments))
            await self.ledger.settle(row, refusal)
        final = f"I stopped after {limit} steps without finishing. Tell me how to continue, or split the request."
        self.ledger.emit(TextDelta(text=final))
        await self.answer(final)
