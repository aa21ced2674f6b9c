"""The web host as `todo-agent serve` builds it (create_app over the embedded runtime), with a scripted chat model
written for each test, and readers for its event streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runtime.apps import create_app
from runtime.bootstrap import Runtime
from tests.agent.conftest import fold_deltas
from tests.api.conftest import User
from tests.services.streaming import Reader, Sse, StreamingASGITransport

Host = Callable[..., FastAPI]


@pytest.fixture
def host(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    """`host(steps)` builds the web host with a scripted model replaying `steps`; `host(None)` with no model."""

    def build(steps: list[dict[str, Any]] | None, **env: str) -> FastAPI:
        monkeypatch.delenv("CO_API_KEY", raising=False)
        monkeypatch.delenv("COHERE_API_KEY", raising=False)
        if steps is None:
            monkeypatch.delenv("TODO_AGENT_MODEL", raising=False)
        else:
            script = tmp_path / "script.json"
            script.write_text(json.dumps(steps))
            monkeypatch.setenv("TODO_AGENT_MODEL", f"scripted:{script}")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return create_app(runtime)

    return build


@asynccontextmanager
async def client_of(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app running its lifespan (relay, services, MCP session manager), streaming responses."""
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=StreamingASGITransport(app), base_url="http://localhost:8000") as client,
    ):
        yield client


@asynccontextmanager
async def chat(client: httpx.AsyncClient, user: User, **body: Any) -> AsyncIterator[Reader]:
    """An open chat turn stream."""
    async with client.stream("POST", "/api/v1/chat", json=body, headers=user.headers) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Reader(response)


async def turn(client: httpx.AsyncClient, user: User, **body: Any) -> list[Sse]:
    """Every event of one chat turn, up to and including `turn_end`."""
    events: list[Sse] = []
    async with chat(client, user, **body) as reader:
        while not events or events[-1].event != "turn_end":
            events.append(await reader.event(timeout=10))
        assert await reader.ended()
    return events


def data(event: Sse) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(event.data)
    return decoded


def kinds(events: list[Sse]) -> list[str]:
    """The event types in order, text deltas folded into one."""
    return fold_deltas(event.event for event in events)


class Tags(HTMLParser):
    """Every start tag of a document with its attributes, and the text inside <script> and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._inside = tag if tag in ("script", "style") else None

    def handle_data(self, data: str) -> None:
        if self._inside and data.strip():
            self.inline.append(f"<{self._inside}>{data.strip()[:60]}")

    def handle_endtag(self, tag: str) -> None:
        self._inside = None
