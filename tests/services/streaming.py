"""Streaming in tests: `stream(app, user)` opens GET /api/v1/stream for a user; an httpx transport that runs an ASGI app
in-process and streams its response body as the app sends it, and a reader of server-sent events.

httpx.ASGITransport collects the whole body before answering, which never happens for an endless event stream.
Closing the response tells the app the client went away (`http.disconnect`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp

from tests.api.conftest import User

Message = MutableMapping[str, Any]


@dataclass
class Sse:
    """One server-sent event (or a comment-only block such as a heartbeat)."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    comments: list[str] = field(default_factory=list)


class Reader:
    """Reads the blocks of an event stream one by one."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()

    async def next(self, timeout: float = 5) -> Sse:
        block, seen = Sse(), False
        async with asyncio.timeout(timeout):
            async for line in self.lines:
                if not line:
                    if seen:
                        return block
                    continue
                seen = True
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if name == "":
                    block.comments.append(value)
                elif name == "data":
                    block.data = f"{block.data}\n{value}" if block.data else value
                elif name in ("event", "id"):
                    setattr(block, name, value)
        raise EOFError("the stream ended")

    async def event(self, timeout: float = 5) -> Sse:
        """The next real event, skipping heartbeats and comments."""
        while True:
            block = await self.next(timeout)
            if block.data or block.id:
                return block

    async def ended(self, timeout: float = 5) -> bool:
        try:
            await self.next(timeout)
        except EOFError:
            return True
        return False


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Calls the app for each request; the response body arrives chunk by chunk."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        messages: asyncio.Queue[Message] = asyncio.Queue()
        gone = asyncio.Event()
        sent_request = False

        async def receive() -> Message:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            await messages.put(message)

        task: asyncio.Task[None] = asyncio.ensure_future(self.app(_scope(request), receive, send))
        task.add_done_callback(lambda t: messages.put_nowait({"type": "app.done"}))
        start = await messages.get()
        if start["type"] != "http.response.start":
            await task  # raises the app's error
            raise RuntimeError("the app ended without a response")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])]
        stream = _Body(messages, task, gone)
        return httpx.Response(start["status"], headers=headers, stream=stream, request=request)


class _Body(httpx.AsyncByteStream):
    def __init__(self, messages: asyncio.Queue[Message], task: asyncio.Task[None], gone: asyncio.Event) -> None:
        self.messages, self.task, self.gone = messages, task, gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            message = await self.messages.get()
            if message["type"] == "app.done":
                return
            if message["type"] == "http.response.body":
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body", False):
                    return

    async def aclose(self) -> None:
        self.gone.set()
        try:
            async with asyncio.timeout(5):
                await asyncio.shield(self.task)
        except TimeoutError:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def _scope(request: httpx.Request) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.url.scheme,
        "path": request.url.path,
        "raw_path": request.url.raw_path.split(b"?")[0],
        "query_string": request.url.query,
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "client": ("127.0.0.1", 123),
        "server": (request.url.host, request.url.port or 80),
        "state": {},
    }


@asynccontextmanager
async def stream(app: FastAPI, user: User, last_event_id: int | None = None) -> AsyncIterator[Reader]:
    """An open stream for the user, subscribed once this yields."""
    headers = dict(user.headers)
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    async with (
        httpx.AsyncClient(transport=StreamingASGITransport(app), base_url="http://testserver") as client,
        client.stream("GET", "/api/v1/stream", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = Reader(response)
        assert (await reader.next()).comments == ["connected"]
        yield reader
