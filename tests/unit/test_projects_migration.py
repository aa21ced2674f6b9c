"""Migration 0007 on a database with users and tasks: every user gets an Inbox, every task lands in its owner's
Inbox, and the full-text search still finds the tasks (SQLite rebuilds the task table)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from domain.db import Database
from domain.schemas import TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task, list_projects, list_tasks, search_tasks, task_query
from runtime.migrate import upgrade
from tests.infra import throwaway_url

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def url_at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database migrated to 0006 (before projects), dropped afterwards."""
    async with throwaway_url(request.param, tmp_path) as url:
        await asyncio.to_thread(upgrade, url, "0006")
        yield url


async def _seed(url: str) -> dict[str, list[int]]:
    """Two users with tasks (one in the trash) written as the 0006 schema stores them; their task ids by email."""
    engine = create_async_engine(url)
    user = sa.table("user", *(sa.column(c) for c in ("id", "email", "timezone", "is_admin", "created_at")))
    task = sa.table("task", *(sa.column(c) for c in (
        "id", "owner_id", "title", "title_key", "search_text", "description", "status", "priority", "all_day",
        "reminders", "created_at", "updated_at", "deleted_at", "version")))
    stamp = NOW.isoformat(sep=" ") if url.startswith("sqlite") else NOW
    out: dict[str, list[int]] = {}
    try:
        async with engine.begin() as conn:
            for n, email in enumerate(("ada@example.com", "bob@example.com"), start=1):
                await conn.execute(user.insert().values(id=n, email=email, timezone="UTC", is_admin=False,
                                                        created_at=stamp))
                out[email] = []
                for i in range(3):
                    task_id = n * 10 + i
                    title = f"{email.split('@')[0]} errand {i}"
                    await conn.execute(task.insert().values(
                        id=task_id, owner_id=n, title=title, title_key=title, search_text=title, description="",
                        status="open", priority=0, all_day=False, reminders="[]" if url.startswith("sqlite") else [],
                        created_at=stamp, updated_at=stamp, deleted_at=stamp if i == 2 else None, version=1))
                    out[email].append(task_id)
    finally:
        await engine.dispose()
    return out


async def test_upgrading_puts_every_existing_task_in_its_owners_inbox(url_at_0006: str) -> None:
    seeded = await _seed(url_at_0006)
    await asyncio.to_thread(upgrade, url_at_0006)
    db = Database(url_at_0006)
    try:
        uow = UnitOfWork(db)
        for user_id, email in ((1, "ada@example.com"), (2, "bob@example.com")):
            actor = Actor(id=user_id)
            [inbox] = await list_projects(uow, actor)
            assert inbox.is_inbox and inbox.name == "Inbox" and inbox.open_count == 2
            live = await list_tasks(uow, actor, task_query(sort="created", order="asc"))
            trash = await list_tasks(uow, actor, task_query(status=["deleted"]))
            assert sorted(t.id for t in live.data + trash.data) == seeded[email]
            assert {t.project_id for t in live.data + trash.data} == {inbox.id}
            assert {t.parent_id for t in live.data} == {None}
            name = email.split("@")[0]
            assert [t.title for t in (await search_tasks(uow, actor, f"{name} errand")).data] != []
            made = await create_task(uow, actor, TaskCreate(title="after the upgrade"))
            assert made.project_id == inbox.id
            assert [t.id for t in (await search_tasks(uow, actor, "after upgrade")).data] == [made.id]
    finally:
        await db.dispose()


def _downgrade(url: str, revision: str) -> None:
    from alembic import command

    from runtime.migrate import alembic_config

    command.downgrade(alembic_config(url), revision)


async def test_downgrading_to_0006_and_upgrading_again_keeps_every_task(url_at_0006: str) -> None:
    seeded = await _seed(url_at_0006)
    await asyncio.to_thread(upgrade, url_at_0006)
    await asyncio.to_thread(_downgrade, url_at_0006, "0006")
    await asyncio.to_thread(upgrade, url_at_0006)
    db = Database(url_at_0006)
    try:
        uow = UnitOfWork(db)
        actor = Actor(id=1)
        [inbox] = await list_projects(uow, actor)
        tasks = await list_tasks(uow, actor, task_query(status=["open", "deleted"]))
        assert sorted(t.id for t in tasks.data) == seeded["ada@example.com"]
        assert {t.project_id for t in tasks.data} == {inbox.id}
        assert (await search_tasks(uow, actor, "ada errand")).count == 2
    finally:
        await db.dispose()
