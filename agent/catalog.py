"""What every turn needs from the tools besides its calls, cached so that a turn need not connect for them: the
tool list (the server's, the same for every user and turn) and each user's timezone (for the local date and time
in the system prompt, computed from the clock on every turn)."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from agent.model import ToolSpec
from agent.ports import Toolbox
from agent.prompt import LocalNow
from agent.settings import AgentSettings
from agent.tokens import count_tokens

MAX_USERS = 10_000


@dataclass(frozen=True)
class Catalog:
    """The tools in Cohere's format, what their schemas cost in the token budget, the server's instructions, and
    which tools its MCP annotations mark read-only."""

    tools: list[ToolSpec]
    instructions: str | None
    fetched: datetime
    read_only: frozenset[str] = frozenset()  # what the server's annotations say changes nothing
    names: frozenset[str] = field(init=False)
    tool_tokens: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", frozenset(tool["function"]["name"] for tool in self.tools))
        object.__setattr__(self, "tool_tokens", count_tokens(json.dumps(self.tools, separators=(",", ":"))))


class ToolFacts:
    """The tool list for `settings.tools_ttl` and each user's timezone for `settings.timezone_ttl` (by `now`)."""

    def __init__(self, settings: AgentSettings, now: Callable[[], datetime]) -> None:
        self.settings = settings
        self.now = now
        self._catalog: Catalog | None = None
        self._timezones: OrderedDict[int, tuple[str, datetime]] = OrderedDict()

    async def catalog(self, toolbox: Toolbox) -> Catalog:
        """The cached tool list, or a fresh one from `toolbox`."""
        now = self.now()
        if self._catalog is None or now - self._catalog.fetched >= self.settings.tools_ttl:
            tools = await toolbox.tools()
            self._catalog = Catalog(tools, toolbox.instructions, now, await toolbox.read_only())
        return self._catalog

    async def local_now(self, user_id: int, toolbox: Toolbox, catalog: Catalog) -> LocalNow:
        """The user's local date and time: the cached timezone and the clock, else whoami (UTC without it)."""
        now = self.now()
        cached = self._timezones.get(user_id)
        if cached is not None and now - cached[1] < self.settings.timezone_ttl:
            return LocalNow.at(cached[0], now)
        if "whoami" not in catalog.names:
            return LocalNow.at("UTC", now)
        me = await toolbox.call("whoami", {})
        local = LocalNow.from_whoami(None if me.is_error else me.structured, now)
        if not me.is_error and me.structured and "timezone" in me.structured:
            self._remember(user_id, local.timezone, now)
        return local

    def forget(self) -> None:
        """Drop everything cached (the next turn lists the tools and asks whoami again)."""
        self._catalog = None
        self._timezones.clear()

    def _remember(self, user_id: int, timezone: str, now: datetime) -> None:
        self._timezones[user_id] = (timezone, now)
        self._timezones.move_to_end(user_id)
        while len(self._timezones) > MAX_USERS:
            self._timezones.popitem(last=False)
