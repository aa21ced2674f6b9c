"""Deciding about one tool call before it runs: bad arguments, a repeat, or a need for approval."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from agent.model import ModelToolCall
from agent.ports import ToolOutcome
from agent.settings import AgentSettings


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
    """Why the call needs the person's approval on its own, or None when it does not."""
    if name in settings.approval_tools:
        return f"{name} changes or removes data, so it runs only with your approval"
    if "task_id" in arguments and any(_blank(arguments.get(key)) for key in BLANKABLE):
        # Blanking what a task says loses it as surely as deleting the task.
        return f"{name} would leave the task without its title or description"
    ids = arguments.get("task_ids")
    if isinstance(ids, list) and len(ids) > settings.bulk_approval_over:
        return f"{name} would change {len(ids)} tasks at once"
    return None


BLANKABLE = ("title", "description")


def _blank(value: Any) -> bool:
    return isinstance(value, str) and not value.strip()


def task_ids_of(arguments: dict[str, Any]) -> set[str]:
    """The task ids a call names (`task_id` and `task_ids`), as strings so that 7 and "7" are one task."""
    many = arguments.get("task_ids")
    values = [arguments.get("task_id"), *(many if isinstance(many, list) else [])]
    return {str(v) for v in values if isinstance(v, int | str) and not isinstance(v, bool) and str(v)}


def hold_together(
    verdicts: list[Verdict], read_only: frozenset[str], touched: set[str], limit: int
) -> tuple[list[Verdict], set[str]]:
    """The step's verdicts, its changing calls held for approval when the tasks they name, with those the turn
    changed already (`touched`), are more than `limit`; and the task ids that now change without approval.

    A call changes tasks unless the server marks its tool read-only (an unknown tool counts as changing), so that
    eight single-task calls wait like one bulk call of eight.
    """
    changing = {i for i, v in enumerate(verdicts)
                if v.refusal is None and v.call.name not in read_only and task_ids_of(v.arguments)}
    named = touched.union(*(task_ids_of(verdicts[i].arguments) for i in changing))
    if len(named) <= limit:
        unheld = [verdicts[i].arguments for i in changing if verdicts[i].approval is None]
        return verdicts, set().union(*(task_ids_of(arguments) for arguments in unheld))
    reason = f"together these calls would change {len(named)} tasks; more than {limit} in one turn need your approval"
    held = [replace(v, approval=v.approval or reason) if i in changing else v for i, v in enumerate(verdicts)]
    return held, set()


def judge(call: ModelToolCall, seen: set[str], settings: AgentSettings) -> Verdict:
    """The verdict for one call; records it in `seen` (the calls of this turn; the turn forgets one that failed)."""
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
