"""Live stream limits: at most N streams per user (the oldest is closed), and a process-wide cap answered 503."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from domain.uow import UnitOfWork
from runtime.settings import ServiceConfig
from tests.api.conftest import assert_problem
from tests.services.conftest import signed_in
from tests.services.streaming import stream
from web.live import CLOSED, LiveHub, LiveSubscription


async def _drain(subscription: LiveSubscription) -> list[str]:
    async with asyncio.timeout(2):
        return [live.event async for live in subscription]


async def test_an_eleventh_stream_closes_the_users_oldest_with_a_closed_event() -> None:
    """Opening one stream more than the per-user cap ends the oldest one, which is told why."""
    hub = LiveHub()
    streams = [hub.subscribe(7) for _ in range(11)]
    assert hub.subscribers(7) == 10
    assert await _drain(streams[0]) == [CLOSED]
    hub.publish(7, "notification", {"n": 1})
    for later in streams[1:]:
        later.end()
        assert await _drain(later) == ["notification"]


async def test_another_users_streams_are_untouched_by_the_cap() -> None:
    """One user filling their cap closes none of another user's streams."""
    hub = LiveHub(per_user=2)
    bobs = hub.subscribe(2)
    for _ in range(5):
        hub.subscribe(1)
    assert (hub.subscribers(1), hub.subscribers(2)) == (2, 1)
    bobs.end()
    assert await _drain(bobs) == []


async def test_a_full_process_refuses_a_new_stream_with_503_and_retry_after(
    uow: UnitOfWork, app: FastAPI, hub: LiveHub
) -> None:
    """Beyond TODO_AGENT_STREAMS_MAX open streams the route answers 503 problem+json with Retry-After."""
    hub.max_streams = 1
    alice, bob = await signed_in(uow), await signed_in(uow)
    async with stream(app, alice):
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as client:
            refused = await client.get("/api/v1/stream", headers=bob.headers)
    assert_problem(refused, 503)
    assert int(refused.headers["Retry-After"]) > 0


def test_the_stream_limits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """TODO_AGENT_STREAMS_PER_USER and TODO_AGENT_STREAMS_MAX set the hub's caps."""
    monkeypatch.setenv("TODO_AGENT_STREAMS_PER_USER", "3")
    monkeypatch.setenv("TODO_AGENT_STREAMS_MAX", "40")
    settings = ServiceConfig().as_settings()
    hub = LiveHub.from_settings(settings)
    assert (settings.streams_per_user, settings.streams_max) == (3, 40)
    assert (hub.per_user, hub.max_streams) == (3, 40)
