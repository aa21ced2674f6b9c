"""What the model sees: the system prompt, then the window's messages in groups, trimmed to a token budget."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

from agent.model import Message as ChatMessage
from agent.model import ToolSpec
from agent.store import Message
from agent.tokens import cached_tokens, count_tokens, json_tokens

Group = list[Message]


class MessageLike(Protocol):
    """A stored or about-to-be-stored message."""

    @property
    def role(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def tool_calls(self) -> list[dict[str, Any]] | None: ...
    @property
    def tool_call_id(self) -> str | None: ...


def chat_message(row: MessageLike) -> ChatMessage:
    """A stored message in Cohere's v2 message format."""
    if row.role == "tool":
        document = {"type": "document", "document": {"data": row.content}}
        return {"role": "tool", "tool_call_id": row.tool_call_id, "content": [document]}
    if row.role == "assistant" and row.tool_calls:
        calls = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in row.tool_calls
        ]
        return {"role": "assistant", "tool_calls": calls} | ({"tool_plan": row.content} if row.content else {})
    return {"role": row.role, "content": row.content}


def message_tokens(row: MessageLike) -> int:
    """What a message costs in the budget (stored with the message, so it is counted once)."""
    return json_tokens(chat_message(row))


def tail(rows: list[Message], limit: int) -> list[Message]:
    """The rows from the `limit`-th last user or assistant message on (what the store's window reads)."""
    seen = 0
    for index in range(len(rows) - 1, -1, -1):
        if rows[index].role != "tool":
            seen += 1
            if seen == limit:
                return rows[index:]
    return rows


def groups(rows: Sequence[Message]) -> list[Group]:
    """User messages alone; an assistant message together with the tool results of its calls."""
    out: list[Group] = []
    for row in rows:
        if row.role == "tool":
            owner = out[-1][0] if out else None
            if owner is not None and row.tool_call_id in {c["id"] for c in owner.tool_calls or []}:
                out[-1].append(row)
            continue  # a result without its call in view is left out
        if row.role == "assistant" and not row.content and not row.tool_calls:
            continue  # an empty answer says nothing (and the API refuses empty content)
        out.append([row])
    return out


def fit(fixed_tokens: int, window: list[Group], budget: int) -> list[Group]:
    """Drop the oldest groups until everything fits the budget; keep the newest group; start at a user message."""
    sizes = [sum(_tokens(row) for row in group) for group in window]
    start, total = 0, fixed_tokens + sum(sizes)
    while total > budget and start < len(window) - 1:
        total -= sizes[start]
        start += 1
    first_user = next((i for i in range(start, len(window)) if window[i][0].role == "user"), start)
    return window[first_user:]


def assemble(
    system: str, rows: Sequence[Message], tools: list[ToolSpec], budget: int, *, fixed_tokens: int | None = None
) -> list[ChatMessage]:
    """The messages for one model call: system prompt, then the newest groups that fit the budget.

    `fixed_tokens` is what the system prompt and the tools cost, when the caller has counted it already.
    """
    fixed = fixed_tokens
    if fixed is None:
        fixed = count_tokens(system) + cached_tokens(json.dumps(tools, separators=(",", ":")))
    kept = fit(fixed, groups(rows), budget)
    return [{"role": "system", "content": system}] + [chat_message(row) for group in kept for row in group]


def _tokens(row: Message) -> int:
    return row.token_count or message_tokens(row)
