"""The BodyLimit ASGI middleware on its own: it counts what the app reads, whatever the app does with the body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from runtime.settings import Settings
from web.body_limit import BodyLimit, BodyTooLarge


async def echo_length(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, then answers its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": str(size).encode()})


async def answer_then_read(scope: Scope, receive: Receive, send: Send) -> None:
    """Starts its response before it reads the body (as a streaming endpoint may)."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.body", "body": b"done"})


async def chunks(total: int, size: int = 4) -> AsyncIterator[bytes]:
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def client(app: object, **kwargs: bool) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, **kwargs)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_the_limit_counts_a_streamed_body_even_when_the_app_swallows_the_error():
    """The app's own answer is replaced by 413 when the body it was reading passed the limit."""

    async def forgiving(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await echo_length(scope, receive, send)
        except Exception:  # an app that turns every read error into its own 400
            await send({"type": "http.response.start", "status": 400, "headers": []})
            await send({"type": "http.response.body", "body": b"bad body"})

    async with client(BodyLimit(forgiving, limit=10)) as c:
        refused = await c.post("/", content=chunks(11))
        accepted = await c.post("/", content=chunks(10))
    assert refused.status_code == 413 and refused.json()["status"] == 413
    assert "more than 10 bytes" in refused.json()["detail"]
    assert accepted.status_code == 200 and accepted.text == "10"


async def test_a_body_that_passes_the_limit_after_the_response_started_ends_the_connection():
    """Once the app has started answering, a 413 cannot be sent: the connection is ended instead."""
    async with client(BodyLimit(answer_then_read, limit=10)) as c:
        with pytest.raises(BodyTooLarge):
            await c.post("/", content=chunks(20))


def test_the_limit_is_a_setting_of_one_mebibyte_by_default(monkeypatch: pytest.MonkeyPatch):
    """TODO_AGENT_MAX_BODY_BYTES sets the limit; without it the limit is 1 MiB."""
    monkeypatch.delenv("TODO_AGENT_MAX_BODY_BYTES", raising=False)
    assert Settings().max_body_bytes == 1 << 20
    monkeypatch.setenv("TODO_AGENT_MAX_BODY_BYTES", "2048")
    assert Settings().max_body_bytes == 2048
