"""What the MCP sessions of one process to its own MCP app share, so that a user's first tool call on a new
session costs what later ones do:

- the server's `tools/list` answer, which it marks `public` for a few minutes (mcp_server.server): every client
  reads it through the SDK's response cache in one store (`CacheConfig(share_public=True)`), so a new session
  absorbs the listing without asking the server again;
- each tool's compiled output-schema validator. The SDK validates every structured result against the tool's
  output schema and compiles a validator once per session (a JSON Schema metaschema check, ~10 ms per tool);
  mcp 2.3 offers no option to share or skip that, so this module is the one place that reads and seeds the
  session's private `_tool_output_schemas` / `_tool_output_validators` tables. A validator is seeded only for the
  very schema the session absorbed (compared by value), so the SDK's own invariant (a cached validator matches
  the cached schema) holds; if a later SDK renames those tables, sharing silently stops and results are still
  validated, by the SDK, per session.
"""

from __future__ import annotations

import uuid
import weakref
from typing import Any

from mcp.client.caching import CacheConfig, InMemoryResponseCacheStore
from mcp.client.session import ClientSession

MAX_CACHED = 256  # responses: the store keeps public listings, which every partition shares


class SharedTools:
    """The response cache and the compiled validators of every session to one MCP app."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.store = InMemoryResponseCacheStore(max_entries=MAX_CACHED)
        self._validators: dict[str, tuple[dict[str, Any], Any]] = {}  # tool -> (its output schema, validator)

    def cache(self, partition: str | None) -> CacheConfig:
        """The client cache of one session: public answers shared, private ones only within `partition` (derive
        it from the verified user; None gives the session a partition of its own)."""
        return CacheConfig(store=self.store, partition=partition or uuid.uuid4().hex, target_id=self.target,
                           share_public=True)

    def adopt(self, session: ClientSession) -> int:
        """Give the session the validators compiled by other sessions for the schemas it has absorbed; how many."""
        schemas, validators = _tables(session)
        if schemas is None or validators is None:
            return 0
        seeded = 0
        for name, (schema, validator) in self._validators.items():
            if name not in validators and schemas.get(name) == schema:
                validators[name] = validator
                seeded += 1
        return seeded

    def keep(self, session: ClientSession, name: str) -> None:
        """Remember the validator the session compiled for tool `name` (after its first validated result)."""
        schemas, validators = _tables(session)
        if schemas is None or validators is None:
            return
        validator, schema = validators.get(name), schemas.get(name)
        known = self._validators.get(name)
        if validator is None or schema is None or (known is not None and known[1] is validator):
            return  # nothing compiled, or the shared one in use (the usual case)
        if known is None or known[0] != schema:
            self._validators[name] = (schema, validator)

    def validator(self, name: str) -> Any | None:
        """The shared validator of tool `name`, if one was compiled."""
        known = self._validators.get(name)
        return None if known is None else known[1]


def _tables(session: ClientSession) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    schemas = getattr(session, "_tool_output_schemas", None)
    validators = getattr(session, "_tool_output_validators", None)
    if not isinstance(schemas, dict) or not isinstance(validators, dict):
        return None, None
    return schemas, validators


_shared: weakref.WeakKeyDictionary[Any, SharedTools] = weakref.WeakKeyDictionary()


def shared_for(app: Any, target: str) -> SharedTools:
    """The SharedTools of an in-process MCP app (one per app; an app that cannot be weakly referenced gets a new
    one each time, so nothing is shared)."""
    try:
        found = _shared.get(app)
    except TypeError:
        return SharedTools(target)
    if found is None:
        found = _shared[app] = SharedTools(target)
    return found
