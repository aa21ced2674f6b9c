"""Rate limits of the auth routes: login failures back off per account without locking its owner out, and
addresses are capped by sliding windows (access tokens live in domain.access_tokens).

All limiter state is in memory and per process: with several replicas each counts on its own, so the effective
limits multiply by the replica count (a shared store such as Redis is future work). Every key table is an LRU
capped at `max_keys` that drops expired keys first, so memory stays bounded whatever clients send.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")
Clock = Callable[[], float]
MAX_KEYS = 100_000


class _Table(Generic[V]):
    """Values by key, least recently updated first; a key not updated for `ttl` seconds is gone."""

    def __init__(self, ttl: float, max_keys: int) -> None:
        self.ttl = ttl
        self.max_keys = max_keys
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str, now: float) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if now - item[0] > self.ttl:
            del self._items[key]
            return None
        return item[1]

    def put(self, key: str, value: V, now: float) -> None:
        self._items[key] = (now, value)
        self._items.move_to_end(key)
        # The front is the key updated longest ago: drop it while it has expired or the table is over its cap.
        while self._items:
            oldest, (updated, _) = next(iter(self._items.items()))
            if len(self._items) <= self.max_keys and now - updated <= self.ttl:
                break
            del self._items[oldest]

    def pop(self, key: str) -> V | None:
        item = self._items.pop(key, None)
        return None if item is None else item[1]

    def __len__(self) -> int:
        return len(self._items)


class WindowLimiter:
    """At most `limit` hits per key within a sliding `window` of seconds."""

    def __init__(self, limit: int, window: float, *, max_keys: int = MAX_KEYS, clock: Clock = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: _Table[deque[float]] = _Table(window, max_keys)

    def retry_after(self, key: str) -> float | None:
        """Seconds to wait when the key is at its limit, else None."""
        now = self.clock()
        hits = self._hits.get(key, now)
        if hits is None:
            return None
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits[0] + self.window - now if len(hits) >= self.limit else None

    def hit(self, key: str) -> None:
        """Count one hit for the key now."""
        now = self.clock()
        hits = self._hits.get(key, now) or deque(maxlen=max(self.limit, 1))
        hits.append(now)
        self._hits.put(key, hits, now)

    def forgive(self, key: str) -> None:
        """Take back the key's latest hit (it turned out not to count)."""
        hits = self._hits.get(key, self.clock())
        if hits:
            hits.pop()
        if hits is not None and not hits:
            self._hits.pop(key)

    def __len__(self) -> int:
        return len(self._hits)


@dataclass
class _Failures:
    count: int
    last: float


class LoginLimiter:
    """Failed logins: per account, `free_failures` free ones, then a wait of 2^(n - free) s after the latest
    (at most `max_delay`), enforced only on addresses that have failed for that account, so its owner can still log
    in from a clean address; per address, at most `address_limit` failures in `address_window` seconds.

    `begin` counts an attempt as a failure before the password is checked (concurrent guesses cannot slip past the
    limit while argon2 runs); `succeeded` takes it back and clears that address's failures for the account.
    """

    def __init__(
        self, *, free_failures: int = 5, max_delay: float = 900.0, address_limit: int = 20,
        address_window: float = 300.0, forget_after: float = 3600.0, max_keys: int = MAX_KEYS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.max_delay = max_delay
        self.clock = clock
        self._addresses = WindowLimiter(address_limit, address_window, max_keys=max_keys, clock=clock)
        self._accounts: _Table[_Failures] = _Table(forget_after, max_keys)
        self._pairs: _Table[int] = _Table(forget_after, max_keys)  # failures of an address for an account

    def delay(self, failures: int) -> float:
        """How long after the latest failure the next attempt must wait."""
        if failures < self.free_failures:
            return 0.0
        return float(min(2 ** min(failures - self.free_failures, 30), self.max_delay))

    def begin(self, account: str, address: str) -> float | None:
        """Seconds to wait before this attempt may run, or None: then it is counted (as a failure, until
        `succeeded`)."""
        now = self.clock()
        wait = self._addresses.retry_after(address)
        if wait is not None:
            return wait
        pair = f"{account}\0{address}"
        failed_here = self._pairs.get(pair, now)
        failures = self._accounts.get(account, now)
        if failed_here and failures is not None:
            wait = failures.last + self.delay(failures.count) - now
            if wait > 0:
                return wait
        self._addresses.hit(address)
        self._accounts.put(account, _Failures((failures.count if failures else 0) + 1, now), now)
        self._pairs.put(pair, (failed_here or 0) + 1, now)
        return None

    def succeeded(self, account: str, address: str) -> None:
        """The attempt from `begin` was right: it was no failure, and this address starts afresh for the account."""
        now = self.clock()
        self._addresses.forgive(address)
        cleared = self._pairs.pop(f"{account}\0{address}") or 0
        failures = self._accounts.get(account, now)
        if failures is not None:
            failures.count -= cleared
            if failures.count <= 0:
                self._accounts.pop(account)

    def sizes(self) -> dict[str, int]:
        """How many keys each table holds (for tests and diagnostics)."""
        return {"addresses": len(self._addresses), "accounts": len(self._accounts), "pairs": len(self._pairs)}
