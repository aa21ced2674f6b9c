"""The agent's limits and policies, read from TODO_AGENT_* environment variables (defaults otherwise)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

# rename_tag is here too: whether it merges into an existing tag, or how many tasks carry the tag, is known only
# by asking list_tags first, and that answer could change before the rename runs; so it always asks.
DEFAULT_APPROVAL_TOOLS = frozenset({"delete_task", "undo_last_change", "delete_tag", "rename_tag"})


@dataclass(frozen=True)
class AgentSettings:
    """Guards, approvals, session timeout, the model's window, and how long tool facts are cached."""

    max_model_calls: int = 8
    model_timeout: float = 120.0
    tool_timeout: float = 30.0
    approval_tools: frozenset[str] = field(default=DEFAULT_APPROVAL_TOOLS)
    bulk_approval_over: int = 5
    session_timeout: timedelta = timedelta(minutes=30)
    window_messages: int = 20
    token_budget: int = 12_000
    # The tool list is the server's, the same for every turn; the timezone is the user's, and rarely changes.
    tools_ttl: timedelta = timedelta(minutes=10)
    timezone_ttl: timedelta = timedelta(minutes=5)
    # Turns that may run at once for one user in this process (one per conversation, always).
    turns_per_user: int = 3
    # A user's pooled MCP session is closed after this long without a turn using it.
    tool_session_idle: timedelta = timedelta(minutes=4)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AgentSettings:
        """Settings from TODO_AGENT_SESSION_TIMEOUT_MINUTES, TODO_AGENT_APPROVAL_TOOLS, TODO_AGENT_TOKEN_BUDGET, ..."""
        tools = env.get("TODO_AGENT_APPROVAL_TOOLS")
        return cls(
            max_model_calls=int(env.get("TODO_AGENT_MAX_MODEL_CALLS", cls.max_model_calls)),
            model_timeout=float(env.get("TODO_AGENT_MODEL_TIMEOUT_SECONDS", cls.model_timeout)),
            tool_timeout=float(env.get("TODO_AGENT_TOOL_TIMEOUT_SECONDS", cls.tool_timeout)),
            approval_tools=DEFAULT_APPROVAL_TOOLS if tools is None else _names(tools),
            session_timeout=timedelta(minutes=float(env.get("TODO_AGENT_SESSION_TIMEOUT_MINUTES", 30))),
            token_budget=int(env.get("TODO_AGENT_TOKEN_BUDGET", cls.token_budget)),
            tools_ttl=timedelta(seconds=float(env.get("TODO_AGENT_TOOLS_CACHE_SECONDS", 600))),
            timezone_ttl=timedelta(seconds=float(env.get("TODO_AGENT_TIMEZONE_CACHE_SECONDS", 300))),
            turns_per_user=max(1, int(env.get("TODO_AGENT_CHAT_TURNS_PER_USER", cls.turns_per_user))),
            tool_session_idle=timedelta(seconds=float(env.get("TODO_AGENT_TOOL_SESSION_IDLE_SECONDS", 240))),
        )


def _names(value: str) -> frozenset[str]:
    return frozenset(name.strip() for name in value.split(",") if name.strip())
