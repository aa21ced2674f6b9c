"""REST fixtures: the real API app over the parametrized database, an HTTP client, and signed-in users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agent.store import ConversationStore
from domain.access_tokens import issue_access_token
from domain.uow import UnitOfWork
from tests.conftest import new_actor
from web.api import include_api
from web.deps import ApiState

SECRET = "test-secret-" + "x" * 40


@dataclass
class User:
    id: int
    headers: dict[str, str]


def api_state_over(uow: UnitOfWork, secret: str = SECRET, **options: Any) -> ApiState:
    """What the routes need, over this unit of work's database (options as ApiState takes them)."""
    return ApiState(uow=uow, secret=secret, conversations=ConversationStore(uow.db.writer, reader=uow.db.reader),
                    **options)


@pytest.fixture
def api_state(uow: UnitOfWork) -> ApiState:
    return api_state_over(uow)


@asynccontextmanager
async def api_client(state: ApiState, base_url: str = "http://testserver") -> AsyncIterator[httpx.AsyncClient]:
    """A client of the REST API alone over this state (no lifespan: nothing runs in the background)."""
    app = FastAPI()
    include_api(app, state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as c:
        yield c


@pytest.fixture
async def client(api_state: ApiState) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(api_state) as c:
        yield c


async def signed_in(
    uow: UnitOfWork, timezone: str = "UTC", *, admin: bool = False, now: datetime | None = None
) -> User:
    """A fresh user with an access token valid at `now` (default: the unit of work's clock; no password hashing:
    that is tested in test_auth)."""
    actor = await new_actor(uow, timezone, admin=admin)
    token = issue_access_token(actor.id, SECRET, now=now or uow.clock.now(), ttl=timedelta(minutes=30))
    return User(id=actor.id, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
async def alice(uow: UnitOfWork) -> User:
    return await signed_in(uow, "Europe/Berlin")


@pytest.fixture
async def bob(uow: UnitOfWork) -> User:
    return await signed_in(uow)


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, object]:
    """The response is RFC 9457 problem+json with this status (and names this field)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert body["field"] == field, body
    return body
