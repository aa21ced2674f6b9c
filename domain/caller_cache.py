"""Verified callers, remembered in process for a few seconds so that a bearer-authenticated request needs no query.

`authenticate_bearer` (domain.usecases.callers) looks a credential up here first and, on a miss, verifies it against
the database (a personal API token by its hash, a JWT by its signature and then its user and live login session) and
remembers the caller (`Actor`: id, timezone, admin flag). One cache belongs to each `Database` (`Database.callers`),
so every surface of a process on that database — REST, the live stream, MCP over HTTP, the stdio MCP server —
shares it, and the use cases that revoke find it through their unit of work.

- Keys are SHA-256 digests of the credential (with the audience, for JWTs): the raw token is never kept.
- An entry lives until the earliest of now + `ttl` (TODO_AGENT_AUTH_CACHE_SECONDS, default 5 s; 0 disables the
  cache), the JWT's `exp` and its session's `expires_at`; so an expired JWT or session is never served.
- At most `max_entries` entries (least recently used dropped first).
- Refusals are not remembered: a wrong or revoked credential costs its query every time.

Invalidation. The use cases that change what a cached caller stands for — revoke_token, revoke_session (logout),
sign_out_everywhere, change_password and reset_password (they end sessions), a refresh-token replay (it ends the
session), set_timezone (the timezone travels with the caller) — call `invalidate_user` after their transaction
commits, which drops every entry of that user at once in this process. Other processes (the stdio MCP server, a
second `serve` worker, the CLI) keep their answer at most `ttl` seconds.

The race: a request that read the old state (token still valid) before the revocation committed could store it
after `invalidate_user` ran. So a verification takes a `ticket()` before its query, and `put` refuses the entry if
that user was invalidated after the ticket was taken; invalidating after the commit is then enough: a verification
that began before it is refused, one that began after it reads the committed state.

Concurrent misses. When an entry expires under load, every request with that credential misses at once; `shared`
lets the first one verify and the others await its answer (one query instead of hundreds, and for an API token
one `last_used_at` write instead of a queue of them behind SQLite's write lock). A follower takes its own ticket:
if the user was invalidated after the leader's ticket, it verifies again itself; if the leader was cancelled
(its client went away), the follower verifies itself too.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.usecases.common import Actor

DEFAULT_TTL_SECONDS = 5.0
DEFAULT_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class _Entry:
    actor: Actor
    expires: datetime


class CallerCache:
    """A bounded, thread-safe LRU map from credential digests to verified callers with per-entry expiry, and a
    per-user invalidation stamp that keeps verifications begun before an invalidation from being stored."""

    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, *, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_user: dict[int, set[str]] = {}
        self._lock = threading.Lock()  # a Database may serve several event loops in several threads
        self._tick = 0  # counts invalidations
        self._invalidated: OrderedDict[int, int] = OrderedDict()  # user id -> tick of its latest invalidation
        self._floor = 0  # stamps forgotten to stay bounded: tickets older than this are refused for every user
        # verifications under way, per event loop and key: (the leader's ticket, its answer to come)
        self._flights: dict[tuple[asyncio.AbstractEventLoop, str], tuple[int, asyncio.Future[Actor]]] = {}

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    @staticmethod
    def key(credential: str, audience: str = "") -> str:
        """The digest a credential is remembered by (the audience too: a JWT is only good for its own)."""
        return hashlib.sha256(f"{audience}\x00{credential}".encode()).hexdigest()

    def get(self, key: str, now: datetime) -> Actor | None:
        """The caller remembered for `key`, unless it has expired by `now`."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry.expires:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry.actor

    def ticket(self) -> int:
        """Take before verifying against the database; hand to `put`."""
        return self._tick

    def put(self, key: str, actor: Actor, *, now: datetime, ticket: int, not_after: datetime | None = None) -> bool:
        """Remember a caller verified since `ticket` until now + ttl (or `not_after`, if earlier); whether it was
        stored (not when disabled, already expired, or the user was invalidated since the ticket)."""
        if not self.enabled:
            return False
        expires = now + timedelta(seconds=self.ttl)
        if not_after is not None and not_after < expires:
            expires = not_after
        if now >= expires:
            return False
        with self._lock:
            if ticket < self._floor or self._invalidated.get(actor.id, -1) > ticket:
                return False  # began before an invalidation of this user: may hold the old state
            if key in self._entries:
                self._drop(key)
            self._entries[key] = _Entry(actor, expires)
            self._by_user.setdefault(actor.id, set()).add(key)
            while len(self._entries) > self.max_entries:
                self._drop(next(iter(self._entries)))
            return True

    def fresh(self, user_id: int, ticket: int) -> bool:
        """Whether an answer verified since `ticket` still holds (the user was not invalidated after it)."""
        with self._lock:
            return ticket >= self._floor and self._invalidated.get(user_id, -1) <= ticket

    async def shared(self, key: str, verify: Callable[[int], Awaitable[Actor]]) -> Actor:
        """`verify(ticket)` run once for concurrent callers of the same key on this event loop: the first runs it,
        the others await its answer (or its refusal), unless it went stale or was cancelled (then their own)."""
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        with self._lock:
            flight = self._flights.get(slot)
            if flight is None:
                ticket, answer = self._tick, loop.create_future()
                answer.add_done_callback(lambda f: f.cancelled() or f.exception())  # a refusal nobody awaited
                self._flights[slot] = (ticket, answer)
        if flight is not None:
            own_ticket = self.ticket()
            leader_ticket, pending = flight
            try:
                actor = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request itself was cancelled
                return await verify(own_ticket)
            return actor if self.fresh(actor.id, leader_ticket) else await verify(own_ticket)
        try:
            actor = await verify(ticket)
        except asyncio.CancelledError:
            answer.cancel()
            raise
        except BaseException as error:
            answer.set_exception(error)
            raise
        else:
            answer.set_result(actor)
            return actor
        finally:
            with self._lock:
                self._flights.pop(slot, None)

    def invalidate_user(self, user_id: int) -> None:
        """Forget every caller of this user, and refuse to store those whose verification began before now."""
        with self._lock:
            self._tick += 1
            self._invalidated[user_id] = self._tick
            self._invalidated.move_to_end(user_id)
            while len(self._invalidated) > self.max_entries:
                _, tick = self._invalidated.popitem(last=False)
                self._floor = max(self._floor, tick)
            for key in self._by_user.pop(user_id, set()):
                self._entries.pop(key, None)

    def clear(self) -> None:
        """Forget every caller (e.g. when the settings change)."""
        with self._lock:
            self._entries.clear()
            self._by_user.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        keys = self._by_user.get(entry.actor.id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_user[entry.actor.id]
