"""The uvicorn server `todo-agent serve` runs: X-Forwarded-For only from trusted proxies, a connection cap, and
access logs without query strings."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from runtime.bootstrap import Runtime
from runtime.cli.support import listen, uvicorn_server
from runtime.settings import Settings
from tests.api.conftest import api_state_over
from web.api import include_api
from web.deps import ClientAddress
from web.ratelimit import LoginLimiter


@asynccontextmanager
async def serving(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """`app` behind the real uvicorn server built from `settings`, and a client of it (from 127.0.0.1)."""
    sock = listen("127.0.0.1", 0)
    server = uvicorn_server(app, settings)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            assert not task.done()
            await asyncio.sleep(0.01)
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            yield client
    finally:
        server.should_exit = True
        await task
        sock.close()


def _whoami() -> FastAPI:
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(address: ClientAddress) -> dict[str, str]:
        return {"address": address}

    return app


async def test_x_forwarded_for_is_ignored_unless_trusted_proxies_are_set(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """By default a loopback peer cannot choose its address with X-Forwarded-For."""
    async with serving(_whoami(), Settings(data_dir=tmp_path)) as client:
        r = await client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.json() == {"address": "127.0.0.1"}


async def test_a_trusted_proxys_x_forwarded_for_names_the_client(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A peer listed in TODO_AGENT_TRUSTED_PROXIES (an address or a CIDR) forwards the client's address."""
    settings = Settings(data_dir=tmp_path, trusted_proxies="10.1.0.0/16, 127.0.0.1")
    async with serving(_whoami(), settings) as client:
        r = await client.get("/whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.json() == {"address": "203.0.113.9"}


async def test_rotating_x_forwarded_for_from_an_untrusted_peer_does_not_evade_the_address_limit(
    runtime: Runtime,
) -> None:
    """Failed logins with a new X-Forwarded-For each time still count against the peer's own address."""
    app = FastAPI()
    include_api(app, api_state_over(runtime.uow, runtime.secret, login_limits=LoginLimiter(address_limit=3)))
    async with serving(app, runtime.settings) as client:
        answers = [(await client.post("/api/v1/auth/login", headers={"X-Forwarded-For": f"198.51.100.{n}"}, json={
            "email": f"x-{uuid.uuid4().hex[:6]}@example.com", "password": "wrong guess"})).status_code
            for n in range(4)]
    assert answers == [401, 401, 401, 429]


def test_a_trusted_proxies_entry_that_is_not_an_address_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """uvicorn would silently treat a host name as a literal; the setting refuses it instead."""
    with pytest.raises(ValidationError, match="trusted_proxies"):
        Settings(data_dir=tmp_path, trusted_proxies="proxy.internal")


def test_the_server_caps_concurrent_connections(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """TODO_AGENT_MAX_CONNECTIONS becomes uvicorn's limit_concurrency (503 beyond it, not a dead process)."""
    assert uvicorn_server(FastAPI(), Settings(data_dir=tmp_path)).config.limit_concurrency == 1000
    settings = Settings(data_dir=tmp_path, max_connections=50)
    assert uvicorn_server(FastAPI(), settings).config.limit_concurrency == 50


async def test_the_access_log_names_the_path_without_its_query_string(  # type: ignore[no-untyped-def]
    tmp_path, caplog: pytest.LogCaptureFixture
) -> None:
    """Search text and tag filters in the query string never reach the access log."""
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        async with serving(_whoami(), Settings(data_dir=tmp_path)) as client:
            await client.get("/whoami", params={"q": "divorce lawyer", "tag": "private"})
    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    assert any('"GET /whoami HTTP/1.1" 200' in line for line in lines), lines
    assert not any("divorce" in line or "private" in line for line in lines), lines
