"""A conversation's rows during a turn: appending messages and settling tool results, persisted as they happen."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from agent.events import ToolResult, TurnEvent
from agent.store import DECLINED, ERROR, OK, PENDING_APPROVAL, RUNNING, ConversationStore, Message, NewMessage
from agent.toolbox import ToolOutcome
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

    async def settle(self, row: Message, outcome: ToolOutcome, *, status: str | None = None) -> None:
        """Give a placeholder tool message its result (what the model reads) and report it."""
        row.content = json.dumps(outcome.document(), ensure_ascii=False)
        row.status = status or (ERROR if outcome.is_error else OK)
        row.token_count = message_tokens(row)
        summary = outcome.summary() or ("failed" if outcome.is_error else "done")
        await self.store.settle(row.id or 0, content=row.content, status=row.status, token_count=row.token_count,
                                summary=summary)
        name = self.call_of(row).get("name", "")
        self.emit(ToolResult(id=row.tool_call_id or "", name=name, summary=summary, is_error=outcome.is_error))

    def open_calls(self, *statuses: str) -> list[Message]:
        """Placeholders still waiting (by default: running or pending approval)."""
        wanted = statuses or (RUNNING, PENDING_APPROVAL)
        return [row for row in self.rows if row.role == "tool" and row.status in wanted]

    async def close(self, outcome: ToolOutcome, *statuses: str, status: str = DECLINED) -> None:
        """Settle every open placeholder (of `statuses`) with `outcome`."""
        for row in self.open_calls(*statuses):
            await self.settle(row, outcome, status=status)

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
