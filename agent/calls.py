"""Deciding about one tool call before it runs: bad arguments, a repeat, or a need for approval."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.model import ModelToolCall
from agent.settings import AgentSettings
from agent.toolbox import ToolOutcome


@dataclass(frozen=True)
class Verdict:
    """What happens to a call: run it, answer it at once with `refusal`, or wait for `approval`."""

    call: ModelToolCall
    arguments: dict[str, Any]
    refusal: ToolOutcome | None = None
    approval: str | None = None


def parse_arguments(text: str) -> dict[str, Any] | None:
    """The arguments as a JSON object, else None."""
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def call_key(name: str, arguments: dict[str, Any]) -> str:
    """The same name and arguments give the same key, whatever the key order."""
    return name + json.dumps(arguments, sort_keys=True, separators=(",", ":"))


def approval_reason(name: str, arguments: dict[str, Any], settings: AgentSettings) -> str | None:
    """Why the call needs the person's approval, or None when it does not."""
    if name in settings.approval_tools:
        return f"{name} changes or removes data, so it runs only with your approval"
    ids = arguments.get("task_ids")
    if isinstance(ids, list) and len(ids) > settings.bulk_approval_over:
        return f"{name} would change {len(ids)} tasks at once"
    return None


def judge(call: ModelToolCall, seen: set[str], settings: AgentSettings) -> Verdict:
    """The verdict for one call; records it in `seen` (the calls of this turn)."""
    arguments = parse_arguments(call.arguments)
    if arguments is None:
        text = f"The arguments of {call.name} must be a JSON object; got {call.arguments[:200]!r}. Fix and retry."
        return Verdict(call, {}, refusal=ToolOutcome(None, text, is_error=True))
    key = call_key(call.name, arguments)
    if key in seen:
        text = (
            f"You already called {call.name} with these same arguments in this turn; its result is above. "
            "Do not call it again: use that result or answer the user."
        )
        return Verdict(call, arguments, refusal=ToolOutcome(None, text, is_error=True))
    seen.add(key)
    return Verdict(call, arguments, approval=approval_reason(call.name, arguments, settings))
