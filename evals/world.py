"""One trial's world: a fresh SQLite database (a copy of a migrated template), the user and another user, their seed
projects and tasks, the real MCP server acting for the user, and the agent on a frozen clock with the trial's
model."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from mcp import Client
from sqlmodel import col

from agent.agent import Agent
from agent.mcp_client import McpToolbox
from agent.model import ChatModel
from agent.pool import SessionPool
from agent.settings import AgentSettings
from agent.store import ConversationStore
from domain.db import Database
from domain.models import OutboxEvent
from domain.project_schemas import ProjectView
from domain.schemas import RecurrenceSpec, TaskCreate, TaskQuery, TaskView
from domain.uow import UnitOfWork
from domain.usecases import (
    Actor,
    archive_project,
    complete_task,
    create_project,
    create_task,
    create_user,
    delete_task,
    list_projects,
    list_tasks,
)
from domain.values import PAGE_MAX, Status, StatusFilter
from evals.scenario import RecurrenceValue, Scenario, SeedProject, SeedTask
from mcp_server import McpPorts, build_server

SECRET = "evals-" + "s" * 34
EVERY_STATUS = [StatusFilter.OPEN, StatusFilter.COMPLETED, StatusFilter.DELETED]
Migrate = Callable[[str], None]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


async def make_template(directory: Path, migrate: Migrate) -> Path:
    """A migrated SQLite file to copy per trial (`migrate(url)` is runtime.migrate.upgrade; evals does not import
    runtime). Its WAL is folded in, so copying the one file copies the whole database."""
    path = directory / "template.db"
    await asyncio.to_thread(migrate, sqlite_url(path))
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    finally:
        connection.close()
    return path


class FrozenClock:
    """The scenario's `now`, moved only by a turn's `advance`."""

    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass
class World:
    """What a trial runs in; `ids` maps ('seed' | 'others', key) to the seeded task's id and ('projects' |
    'others_projects', key) to the seeded project's."""

    database: Database
    uow: UnitOfWork
    clock: FrozenClock
    user: Actor
    other: Actor
    ids: dict[tuple[str, str], int]
    store: ConversationStore
    pool: SessionPool | None = None

    async def tasks(self, actor: Actor | None = None) -> list[TaskView]:
        """Every task of the user (or `actor`), the trash included, oldest first."""
        who = actor or self.user
        found: list[TaskView] = []
        cursor: str | None = None
        while True:
            query = TaskQuery(status=EVERY_STATUS, sort="created", order="asc", limit=PAGE_MAX, cursor=cursor)
            page = await list_tasks(self.uow, who, query)
            found += page.data
            if (cursor := page.next_cursor) is None:
                return found

    async def projects(self, actor: Actor | None = None) -> list[ProjectView]:
        """Every live project of the user (or `actor`), archived ones and the Inbox included."""
        return await list_projects(self.uow, actor or self.user, include_archived=True)

    def agent(self, model: ChatModel, settings: AgentSettings) -> Agent:
        """The agent over the real MCP server acting for the user (in-process), its session pooled across turns as
        the chat host does (agent.pool)."""
        server = build_server(McpPorts(uow=self.uow, secret=SECRET, fixed_user_id=self.user.id))

        @asynccontextmanager
        async def connect(user_id: int) -> AsyncIterator[McpToolbox]:
            assert user_id == self.user.id, "the eval agent acts for its one user"
            async with Client(server) as client:
                yield McpToolbox(client, timeout=settings.tool_timeout)

        self.pool = SessionPool(connect, idle_seconds=settings.tool_session_idle.total_seconds())
        return Agent(model, self.pool, self.store, self.clock, settings)

    async def close(self) -> None:
        """Leave the MCP session, then close the database."""
        if self.pool is not None:
            await self.pool.aclose()
        await self.database.dispose()


async def build_world(scenario: Scenario, template: Path, directory: Path) -> World:
    """A fresh copy of the template with the scenario's two users and their seed projects and tasks (a seeded
    project is archived after its tasks are in it: an archived project takes no new tasks)."""
    path = directory / f"trial-{uuid.uuid4().hex[:10]}.db"
    shutil.copyfile(template, path)
    database = Database(sqlite_url(path))
    clock = FrozenClock(scenario.now)
    uow = UnitOfWork(database, clock, source="todo-agent/evals")
    email = scenario.user.email or f"{scenario.id}@example.com"
    user = await create_user(uow, email, timezone=scenario.user.timezone)
    other = await create_user(uow, f"other-{uuid.uuid4().hex[:8]}@example.com", timezone=scenario.user.timezone)
    me = Actor(id=user.id, timezone=user.timezone, is_admin=False)
    them = Actor(id=other.id, timezone=other.timezone, is_admin=False)
    ids: dict[tuple[str, str], int] = {}
    groups = (("seed", "projects", me, scenario.seed, scenario.projects),
              ("others", "others_projects", them, scenario.others, scenario.others_projects))
    for group, project_group, actor, seeds, projects in groups:
        made = [await create_project(uow, actor, p.name, colour=p.colour) for p in projects]
        ids |= {(project_group, p.key): view.id for p, view in zip(projects, made, strict=True) if p.key}
        for seed in seeds:
            parent = ids[(group, seed.parent)] if seed.parent else None
            task_id = await seed_task(uow, actor, seed, parent)
            if seed.key:
                ids[(group, seed.key)] = task_id
        await archive_seeded(uow, actor, projects, made)
    await settle_history(database)
    store = ConversationStore(database.writer, reader=database.reader)
    return World(database, uow, clock, me, them, ids, store)


async def archive_seeded(uow: UnitOfWork, actor: Actor, projects: list[SeedProject],
                         made: list[ProjectView]) -> None:
    """Archive the seed projects marked `archived`."""
    for project, view in zip(projects, made, strict=True):
        if project.archived:
            await archive_project(uow, actor, view.id)


async def seed_task(uow: UnitOfWork, actor: Actor, seed: SeedTask, parent_id: int | None = None) -> int:
    """Create one seed task through the use cases (so it is stored as the app stores it) in its project or under
    its parent, then complete or trash it as the seed says."""
    recurrence = seed.recurrence
    if isinstance(recurrence, str):
        recurrence = RecurrenceValue(rule=recurrence)
    data = TaskCreate(
        title=seed.title,
        description=seed.description or None,
        priority=seed.priority,
        tags=seed.tags or None,
        due_at=seed.due.replace(" ", "T") if seed.due else None,
        reminders=seed.reminders or None,
        recurrence=RecurrenceSpec(rule=recurrence.rule, mode=recurrence.mode) if recurrence else None,
        project=None if parent_id else seed.project,
        parent_id=parent_id,
    )
    task = await create_task(uow, actor, data)
    if seed.status == Status.COMPLETED:
        await complete_task(uow, actor, task.id)
    if seed.deleted:
        await delete_task(uow, actor, task.id)
    return task.id


async def settle_history(database: Database) -> None:
    """The seed is history from before the scenario: its events are marked sent and not undoable, so that
    `undo_last_change` undoes what the agent did, never the seeding."""
    async with database.writer() as session:
        await session.exec(sa.update(OutboxEvent).where(col(OutboxEvent.sent_at).is_(None))
                              .values(undoable=False, sent_at=sa.func.current_timestamp()))
        await session.commit()
