"""`todo-agent deadletters list|replay` on a SQLite file: poison messages are shown and re-driven."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from domain.db import Database
from domain.events import REMINDER_DUE
from domain.schemas import TaskCreate
from domain.uow import Tx, UnitOfWork
from domain.usecases import Actor, create_task, create_user
from runtime.cli.main import app
from services.consumer import Outcome, Poison, deliver
from services.settings import ServiceSettings
from services.subscriptions import by_group, subscriptions
from services.tables import AuditEntry
from tests.conftest import migrate
from tests.infra import sqlite_url
from tests.services.conftest import Outbox


async def broken_audit(tx: Tx, event: dict[str, Any]) -> None:
    raise Poison("audit had a bug that day")


async def poison_two(url: str) -> str:
    """A task event the audit once refused, and a reminder no consumer can read; returns the task event's id."""
    uow = UnitOfWork(Database(url))
    try:
        user = await create_user(uow, "ada@example.com")
        await create_task(uow, Actor(id=user.id), TaskCreate(title="Audit me"))
        [event] = await Outbox(uow).new(user.id)
        assert await deliver(uow, "audit", broken_audit, event) is Outcome.DROP
        notifications = by_group(subscriptions(uow, ServiceSettings()))["notifications"]
        bad = {"id": "reminder-without-data", "type": REMINDER_DUE, "data": {"schema_version": 1}}
        assert await notifications.deliver(bad) is Outcome.DROP
        return str(event["id"])
    finally:
        await uow.db.dispose()


async def audited(url: str, event_id: str) -> bool:
    """Whether the audit log holds the event."""
    db = Database(url)
    try:
        async with db.reader() as session:
            return (await session.exec(select(AuditEntry).where(AuditEntry.event_id == event_id))).first() is not None
    finally:
        await db.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "todo.db")
    migrate(url)
    return url


def test_dead_letters_are_listed_and_replayed(database_url: str, tmp_path: Path) -> None:
    event_id = asyncio.run(poison_two(database_url))
    runner = CliRunner()
    env = {"TODO_AGENT_DATABASE_URL": database_url, "TODO_AGENT_DATA_DIR": str(tmp_path)}

    listed = runner.invoke(app, ["deadletters", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert len(lines) == 2
    assert "audit" in lines[0] and event_id in lines[0] and "audit had a bug that day" in lines[0]
    assert "notifications" in lines[1] and "reminder-without-data" in lines[1]
    audit_id, reminder_id = (line.split()[0] for line in lines)

    replayed = runner.invoke(app, ["deadletters", "replay", audit_id], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert f"{event_id}  SUCCESS" in replayed.output
    assert asyncio.run(audited(database_url, event_id))

    again = runner.invoke(app, ["deadletters", "replay", "--all"], env=env)
    assert again.exit_code == 1 and "reminder-without-data  DROP" in again.output

    waiting = runner.invoke(app, ["deadletters", "list"], env=env).output.strip().splitlines()
    assert [line.split()[0] for line in waiting] == [reminder_id] and "x2" in waiting[0]
    everything = runner.invoke(app, ["deadletters", "list", "--replayed"], env=env).output.strip().splitlines()
    assert len(everything) == 2 and "replayed" in everything[0]


def test_replay_without_ids_says_what_to_pass(database_url: str, tmp_path: Path) -> None:
    env = {"TODO_AGENT_DATABASE_URL": database_url, "TODO_AGENT_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["deadletters", "replay"], env=env)
    assert result.exit_code == 1 and "--all" in result.output
