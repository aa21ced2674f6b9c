"""Registrations through a real uvicorn server leave the event loop free: argon2 runs on the hashing pool's threads.

The check is where each hash ran (the thread), not how long the loop paused: a pause measured on a loaded two-core
machine says more about the machine than about the code."""

from __future__ import annotations

import asyncio
import threading
import uuid

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from domain import passwords
from runtime.bootstrap import Runtime
from runtime.cli.support import listen
from tests.api.conftest import api_state_over
from web.api import include_api
from web.ratelimit import WindowLimiter
from web.routes import health


async def test_twenty_concurrent_registrations_hash_off_the_loop(runtime: Runtime,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """20 concurrent registrations: every argon2 hash runs on an `argon2` pool thread, never on the loop's thread,
    and /healthz answers while they hash."""
    hasher = passwords._hasher()
    real_hash = hasher.hash
    threads: list[str] = []

    def recording_hash(password: str, **kwargs: object) -> str:
        threads.append(threading.current_thread().name)
        return real_hash(password)

    monkeypatch.setattr(hasher, "hash", recording_hash)
    loop_thread = threading.current_thread().name
    app = FastAPI()
    app.include_router(health.router)
    limits = WindowLimiter(limit=100, window=3600)
    include_api(app, api_state_over(runtime.uow, runtime.secret, register_by_address=limits))
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        base = "http://{}:{}".format(*sock.getsockname()[:2])
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            answers = await asyncio.gather(
                client.get("/healthz"),
                *(client.post("/api/v1/auth/register", json={
                    "email": f"loop-{uuid.uuid4().hex[:8]}@example.com", "password": "p" * 64}) for _ in range(20)))
    finally:
        server.should_exit = True
        await serving
    assert [a.status_code for a in answers] == [200] + [201] * 20
    assert len(threads) == 20
    assert loop_thread not in threads
    assert {name.partition("_")[0] for name in threads} == {"argon2"}, threads
