"""Fixtures of the services' tests: real task events taken from the outbox, the services' subscriptions, users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, select

from agent.store import ConversationStore
from domain.db import Database
from domain.events import REMINDER_DUE, ReminderDueV1, make_event
from domain.models import OutboxEvent
from domain.uow import UnitOfWork
from services.settings import ServiceSettings
from services.subscriptions import Subscription, by_group, subscriptions
from services.tables import DeadLetter
from tests.api.conftest import SECRET, User
from tests.api.conftest import signed_in as api_signed_in
from tests.infra import (
    throwaway_database,
)
from web.api import include_api
from web.deps import ApiState
from web.live import LiveHub

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@dataclass
class Outbox:
    """Reads the events a user's operations wrote to the outbox, each only once."""

    uow: UnitOfWork
    seen: dict[int, int] = field(default_factory=dict)

    async def new(self, user_id: int, *types: str) -> list[dict[str, Any]]:
        """The user's events since the last call (of these types, if given), oldest first."""
        async with self.uow.read() as tx:
            stmt = (
                select(OutboxEvent)
                .where(OutboxEvent.user_id == user_id, col(OutboxEvent.seq) > self.seen.get(user_id, 0))
                .order_by(col(OutboxEvent.seq))
            )
            rows = list((await tx.session.exec(stmt)).all())
        if rows:
            self.seen[user_id] = rows[-1].seq or 0
        return [r.payload for r in rows if not types or r.type in types]

    async def one(self, user_id: int, *types: str) -> dict[str, Any]:
        """The single new event of the user (of these types)."""
        events = await self.new(user_id, *types)
        assert len(events) == 1, [e["type"] for e in events]
        return events[0]


async def dead_letter(uow: UnitOfWork, group: str, event_id: str) -> DeadLetter | None:
    """The dead letter of one event in one consumer group, if there is one."""
    async with uow.read() as tx:
        stmt = select(DeadLetter).where(DeadLetter.consumer_group == group, DeadLetter.event_id == event_id)
        return (await tx.session.exec(stmt)).first()


@pytest.fixture
def outbox(uow: UnitOfWork) -> Outbox:
    return Outbox(uow)


@pytest.fixture
def groups(uow: UnitOfWork) -> dict[str, Subscription]:
    """Every consumer group's subscription, on the test's unit of work."""
    return by_group(subscriptions(uow, ServiceSettings()))


@pytest.fixture
def hub() -> LiveHub:
    return LiveHub(ping_seconds=0)


@pytest.fixture
def app(uow: UnitOfWork, hub: LiveHub) -> FastAPI:
    """The REST API (no lifespan: nothing runs in the background) with a live hub."""
    app = FastAPI()
    include_api(app, ApiState(uow=uow, secret=SECRET, conversations=ConversationStore(uow.db.writer,
                                                                                       reader=uow.db.reader)))
    app.state.live = hub
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
        yield c


async def signed_in(uow: UnitOfWork, timezone: str = "UTC", *, admin: bool = False) -> User:
    """A fresh user with an access token valid now by the wall clock (these tests' clock stands still at T0)."""
    return await api_signed_in(uow, timezone, admin=admin, now=datetime.now(UTC))


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def fresh_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[
    Database
]:
    """A migrated database of the module's own: its outbox holds only the module's events."""
    async with throwaway_database(request.param, Path(tmp_path_factory.mktemp("services"))) as db:
        yield db


def reminder_due(user_id: int, task_id: int = 7, *, late: bool = False, title: str = "Call mum") -> dict[str, Any]:
    data = ReminderDueV1(user_id=user_id, task_id=task_id, title=title, due_at=T0, due_date=None, offset_minutes=15,
                         scheduled_for=T0 - timedelta(minutes=15), late=late)
    return make_event(REMINDER_DUE, data, source="todo-agent/reminder", subject=str(task_id), time=T0).to_json()
