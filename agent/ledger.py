"""A conversation's rows during a turn: appending messages and settling tool results, persisted as they happen."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.ports import ToolOutcome
from agent.store import DECLINED, ERROR, OK, PENDING_APPROVAL, RUNNING, ConversationStore, Message, NewMessage
from agent.stream import ToolResult, TurnEvent
from agent.window import message_tokens

Emit = Callable[[TurnEvent], None]


@dataclass
class Ledger:
    """The window's rows plus what this turn added; every change is written to the store first."""

    store: ConversationStore
    conversation_id: int
    rows: list[Message]
    emit: Emit
    now: Callable[[], datetime]

    async def append(self, messages: list[NewMessage]) -> list[Message]:
        """Store messages (with their token counts) and add them to the rows."""
        last = self.rows[-1].seq if self.rows else None  # the window ends at the conversation's last message
        rows = await self.store.append(self.conversation_id, [counted(m) for m in messages], now=self.now(),
                                       after_seq=last)
        self.rows.extend(rows)
        return rows

    async def settle(
        self, row: Message, outcome: ToolOutcome, *, status: str | None = None, expect: str | None = None
    ) -> bool:
        """Give a placeholder tool message its result (what the model reads) and report it; with `expect`, only
        while the stored row still has that status (another turn may have claimed or settled it). True if settled."""
        previous = (row.content, row.status, row.token_count)
        row.content = json.dumps(outcome.document(), ensure_ascii=False)
        row.status = status or (ERROR if outcome.is_error else OK)
        row.token_count = message_tokens(row)
        summary = outcome.summary() or ("failed" if outcome.is_error else "done")
        if not await self.store.settle(row.id or 0, content=row.content, status=row.status,
                                       token_count=row.token_count, summary=summary, expect=expect):
            row.content, row.status, row.token_count = previous  # someone else's answer stands
            return False
        name = self.call_of(row).get("name", "")
        self.emit(ToolResult(id=row.tool_call_id or "", name=name, summary=summary, is_error=outcome.is_error))
        return True

    async def claim(self, row: Message) -> bool:
        """Take a call that waits for approval for this turn (False when another answer took it first)."""
        if not await self.store.claim(row.id or 0):
            return False
        row.status = RUNNING
        return True

    def open_calls(self, *statuses: str) -> list[Message]:
        """Placeholders still waiting (by default: running or pending approval)."""
        wanted = statuses or (RUNNING, PENDING_APPROVAL)
        return [row for row in self.rows if row.role == "tool" and row.status in wanted]

    async def close(self, outcome: ToolOutcome, *statuses: str, status: str = DECLINED) -> None:
        """Settle every open placeholder (of `statuses`) with `outcome`."""
        for row in self.open_calls(*statuses):
            # Only while it is as this turn last saw it: a concurrent turn may have claimed or settled it since.
            await self.settle(row, outcome, status=status, expect=row.status)

    def call_of(self, row: Message) -> dict[str, str]:
        """The call ({id, name, arguments}) a tool message answers, from the assistant message that made it."""
        for other in reversed(self.rows):
            for call in other.tool_calls or []:
                if call.get("id") == row.tool_call_id:
                    return {key: str(value) for key, value in call.items()}
        return {}


def counted(message: NewMessage) -> NewMessage:
    """The message with its token count (what it costs in the budget, counted once when stored)."""
    return dataclasses.replace(message, token_count=message_tokens(message))
