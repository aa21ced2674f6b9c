"""The request body limit of the web host (TODO_AGENT_MAX_BODY_BYTES, default 1 MiB): an oversized body is answered
413 problem+json before it is read, on every surface (REST, chat, MCP); a body within the limit works as before."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from runtime.bootstrap import Runtime
from tests.hosts import user_of
from tests.web.conftest import Host

LIMIT = 1 << 20  # the default


def client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost:8000")  # type: ignore[arg-type]


def padded_task(size: int) -> bytes:
    """A valid task body of exactly `size` bytes (JSON allows the padding whitespace)."""
    body = json.dumps({"title": "Padded"}).encode()
    return body[:-1] + b" " * (size - len(body)) + b"}"


class Chunks:
    """A streamed (chunked, no Content-Length) body that counts how much of it the server pulled."""

    def __init__(self, total: int, chunk: int = 64 << 10) -> None:
        self.total, self.chunk, self.sent = total, chunk, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while self.sent < self.total:
            part = min(self.chunk, self.total - self.sent)
            self.sent += part
            yield b" " * part


def assert_too_large(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["title"] == "Content Too Large" and body["status"] == 413
    assert "TODO_AGENT_MAX_BODY_BYTES" in str(body["detail"]) and str(LIMIT) in str(body["detail"])
    return body


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/tasks", "/api/v1/chat", "/mcp"])
async def test_a_body_over_the_limit_is_refused_with_413_before_it_is_read(host: Host, path: str):
    """An oversized Content-Length gets 413 problem+json, and the server pulls none of the body."""
    body = Chunks(LIMIT + 1)
    async with client(host(None)) as c:
        response = await c.post(path, content=body, headers={"content-length": str(LIMIT + 1),
                                                             "content-type": "application/json"})
    problem = assert_too_large(response)
    assert f"{LIMIT + 1} bytes" in str(problem["detail"])
    assert body.sent == 0


async def test_a_chunked_body_is_cut_off_with_413_once_it_passes_the_limit(host: Host, runtime: Runtime):
    """A body of unknown length is counted as it streams and refused when it passes the limit."""
    ada = await user_of(runtime)
    body = Chunks(8 * LIMIT)
    async with client(host(None)) as c:
        response = await c.post("/api/v1/tasks", content=body, headers={**ada.headers,
                                                                       "content-type": "application/json"})
        assert_too_large(response)
        assert body.sent < 2 * LIMIT
        assert (await c.get("/api/v1/tasks", headers=ada.headers)).json()["count"] == 0


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_body_of_exactly_the_limit_still_works(host: Host, runtime: Runtime, chunked: bool):
    """A task body of exactly 1 MiB is accepted, whether its length is announced or streamed."""
    ada = await user_of(runtime)
    payload = padded_task(LIMIT)

    async def stream() -> AsyncIterator[bytes]:
        yield payload[: LIMIT // 2]
        yield payload[LIMIT // 2 :]

    async with client(host(None)) as c:
        response = await c.post("/api/v1/tasks", content=stream() if chunked else payload,
                                headers={**ada.headers, "content-type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "Padded"
