"""Registrations through a real uvicorn server leave the event loop free: argon2 runs on worker threads."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import uvicorn
from fastapi import FastAPI
from pwdlib import PasswordHash

from runtime.bootstrap import Runtime
from runtime.cli.support import listen
from tests.api.conftest import api_state_over
from web.api import include_api
from web.ratelimit import WindowLimiter
from web.routes import health


async def _largest_gap(stop: asyncio.Event, gaps: list[float]) -> None:
    loop = asyncio.get_running_loop()
    last = loop.time()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = loop.time()
        gaps.append(now - last)
        last = now


def _one_hash_seconds() -> float:
    start = time.perf_counter()
    PasswordHash.recommended().hash("correct horse battery")
    return time.perf_counter() - start


async def test_twenty_concurrent_registrations_never_stall_the_loop_for_a_hash(runtime: Runtime) -> None:
    """While 20 registrations hash, the loop's largest pause stays below one argon2 hash, and /healthz answers."""
    app = FastAPI()
    app.include_router(health.router)
    limits = WindowLimiter(limit=100, window=3600)
    include_api(app, api_state_over(runtime.uow, runtime.secret, register_by_address=limits))
    sock = listen("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    stop, gaps = asyncio.Event(), list[float]()
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        base = "http://{}:{}".format(*sock.getsockname()[:2])
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            pinger = asyncio.create_task(_largest_gap(stop, gaps))
            # One hash timed beside the registrations, under the same load (the suite runs on two workers): how
            # long the loop would stall if a registration hashed on it.
            one_hash, *answers = await asyncio.gather(
                asyncio.to_thread(_one_hash_seconds), client.get("/healthz"),
                *(client.post("/api/v1/auth/register", json={
                    "email": f"loop-{uuid.uuid4().hex[:8]}@example.com", "password": "p" * 64}) for _ in range(20)))
            stop.set()
            await pinger
    finally:
        server.should_exit = True
        await serving
    assert [a.status_code for a in answers] == [200] + [201] * 20
    assert max(gaps) < one_hash, (max(gaps), one_hash)
