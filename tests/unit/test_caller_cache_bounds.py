"""The caller cache's own bookkeeping (domain.caller_cache): least recently used entries go first past the bound,
and forgotten invalidation stamps still keep verifications begun before them out."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.caller_cache import CallerCache
from domain.usecases import Actor


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = CallerCache(60, max_entries=3)
    now = datetime.now(UTC)
    for n in range(3):
        assert cache.put(f"k{n}", Actor(id=n), now=now, ticket=cache.ticket())
    assert cache.get("k0", now) == Actor(id=0)  # k1 is now the least recently used
    cache.put("k3", Actor(id=3), now=now, ticket=cache.ticket())
    assert len(cache) == 3 and cache.get("k1", now) is None
    assert [cache.get(k, now) for k in ("k0", "k2", "k3")] == [Actor(id=0), Actor(id=2), Actor(id=3)]


def test_forgotten_invalidation_stamps_still_refuse_older_verifications() -> None:
    """Past `max_entries` invalidated users the oldest stamps are dropped; a verification begun before a dropped
    stamp is then refused for every user (conservative), one begun after it is stored."""
    cache = CallerCache(60, max_entries=2)
    now = datetime.now(UTC)
    early = cache.ticket()
    for user in (1, 2, 3):
        cache.invalidate_user(user)
    assert not cache.put("a", Actor(id=1), now=now, ticket=early)  # user 1's stamp is gone: the floor refuses
    assert not cache.put("b", Actor(id=9), now=now, ticket=early)
    assert cache.put("c", Actor(id=1), now=now, ticket=cache.ticket())
