"""The agent's limits and policies (runtime.chat_settings.AgentConfig fills them from TODO_AGENT_* variables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

# rename_tag is here too: whether it merges into an existing tag, or how many tasks carry the tag, is known only
# by asking list_tags first, and that answer could change before the rename runs; so it always asks. delete_project
# moves or trashes every task of the project at once. (archive_project is not: it moves nothing, and
# unarchive_project undoes it.)
DEFAULT_APPROVAL_TOOLS = frozenset({"delete_task", "undo_last_change", "delete_tag", "rename_tag", "delete_project"})


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
