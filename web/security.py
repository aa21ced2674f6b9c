"""The login rate limiter (access tokens live in domain.access_tokens)."""

from __future__ import annotations

import time
from collections import defaultdict, deque
from dataclasses import dataclass, field


@dataclass
class RateLimiter:
    """At most `limit` hits per key within a sliding `window` seconds (in memory, per process)."""

    limit: int
    window: float
    _hits: dict[str, deque[float]] = field(default_factory=lambda: defaultdict(deque))

    def retry_after(self, key: str, *, now: float | None = None) -> float | None:
        """Seconds to wait when the key is over its limit, else None."""
        now = time.monotonic() if now is None else now
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        return None

    def hit(self, key: str, *, now: float | None = None) -> None:
        self._hits[key].append(time.monotonic() if now is None else now)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)
