"""REST fixtures: the real API app over the parametrized database, an HTTP client, and signed-in users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

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


@pytest.fixture
def api_state(uow: UnitOfWork) -> ApiState:
    return ApiState(uow=uow, secret=SECRET, conversations=ConversationStore(uow.db.writer, reader=uow.db.reader))


@pytest.fixture
async def client(api_state: ApiState) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    include_api(app, api_state)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def signed_in(uow: UnitOfWork, timezone: str = "UTC") -> User:
    """A fresh user with a valid access token (no password hashing: that is tested in test_auth)."""
    actor = await new_actor(uow, timezone)
    token = issue_access_token(actor.id, SECRET, now=uow.clock.now(), ttl=timedelta(minutes=30))
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
