"""The audit service: every task event once, with before and after; users read their own, admins everyone's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from domain.schemas import TaskCreate, TaskUpdate
from domain.uow import UnitOfWork
from domain.usecases import Actor, complete_task, create_task, delete_task, reopen_task, restore_task, update_task
from services.audit import before_of
from services.consumer import Outcome
from services.subscriptions import Subscription
from tests.api.conftest import assert_problem
from tests.conftest import Clock
from tests.services.conftest import T0, Outbox, signed_in


@pytest.fixture
def audit(groups: dict[str, Subscription], clock: Clock) -> Subscription:
    clock.set(T0)
    return groups["audit"]


async def history(uow: UnitOfWork, outbox: Outbox, audit: Subscription, clock: Clock, user_id: int) -> int:
    """Create, rename, complete and delete a task an hour apart; audit every event once. Returns the task id."""
    actor = Actor(id=user_id)
    task = await create_task(uow, actor, TaskCreate(title="Draft", priority="low"))
    clock.advance(hours=1)
    await update_task(uow, actor, task.id, TaskUpdate(title="Final", priority="high"))
    clock.advance(hours=1)
    await complete_task(uow, actor, task.id)
    clock.advance(hours=1)
    await delete_task(uow, actor, task.id)
    for event in await outbox.new(user_id):
        assert await audit.deliver(event) is Outcome.SUCCESS
    return task.id


async def entries(client: httpx.AsyncClient, headers: dict[str, str], path: str = "/api/v1/audit",
                  **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_every_task_event_is_audited_with_actor_time_before_and_after(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, audit: Subscription, client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow)
    task_id = await history(uow, outbox, audit, clock, user.id)
    body = await entries(client, user.headers)
    assert body["count"] == 4 and body["next_cursor"] is None
    assert [e["type"] for e in body["data"]] == [
        "com.todoagent.task.deleted", "com.todoagent.task.completed", "com.todoagent.task.updated",
        "com.todoagent.task.created",
    ]
    deleted, completed, updated, created = body["data"]
    assert all(e["task_id"] == task_id and e["actor"] == f"user:{user.id}" for e in body["data"])
    assert created["before"] is None and created["after"]["title"] == "Draft"
    assert created["time"].startswith(T0.strftime("%Y-%m-%dT%H:%M"))
    assert (updated["before"]["title"], updated["before"]["priority"]) == ("Draft", "low")
    assert (updated["after"]["title"], updated["after"]["priority"]) == ("Final", "high")
    assert (completed["before"]["status"], completed["after"]["status"]) == ("open", "completed")
    assert deleted["before"]["deleted_at"] is None and deleted["after"]["deleted_at"] is not None


def test_before_is_after_with_the_old_values_and_without_unknowable_fields() -> None:
    after = {"title": "B", "status": "open", "version": 3, "updated_at": "x", "due_local": "y", "tags": ["a"]}
    before = before_of(after, {"title": ("A", "B"), "tags": ([], ["a"])})
    assert before == {"title": "A", "status": "open", "tags": []}


async def test_redelivered_and_reordered_events_are_audited_once_each(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, audit: Subscription, client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow)
    actor = Actor(id=user.id)
    task = await create_task(uow, actor, TaskCreate(title="One"))
    await update_task(uow, actor, task.id, TaskUpdate(title="Two"))
    await complete_task(uow, actor, task.id)
    await reopen_task(uow, actor, task.id)
    await delete_task(uow, actor, task.id)
    await restore_task(uow, actor, task.id)
    events = await outbox.new(user.id)
    for event in events[::-1] + events + events:
        assert await audit.deliver(event) is Outcome.SUCCESS
    body = await entries(client, user.headers)
    assert body["count"] == 6
    assert sorted(e["type"] for e in body["data"]) == sorted(e["type"] for e in events)


async def test_filters_and_cursor(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, audit: Subscription, client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow)
    first = await history(uow, outbox, audit, clock, user.id)
    second = await history(uow, outbox, audit, clock, user.id)
    assert (await entries(client, user.headers, task_id=first))["count"] == 4
    completed = await entries(client, user.headers, type="task.completed")
    assert [e["task_id"] for e in completed["data"]] == [second, first]
    full_name = await entries(client, user.headers, type="com.todoagent.task.completed")
    assert full_name["count"] == 2
    window = await entries(client, user.headers, since=(T0 + timedelta(hours=1)).isoformat(),
                           until=(T0 + timedelta(hours=3)).isoformat())
    assert [e["type"].rsplit(".", 1)[1] for e in window["data"]] == ["completed", "updated"]
    assert all(e["task_id"] == first for e in window["data"])

    seen: list[int] = []
    cursor = None
    while True:
        page = await entries(client, user.headers, limit=3, **({"cursor": cursor} if cursor else {}))
        assert page["count"] == 8
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 8 and seen == sorted(seen, reverse=True)


async def test_times_without_offset_are_the_users_local_times(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, audit: Subscription, client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow, "America/New_York")  # T0 is 04:00 there
    await history(uow, outbox, audit, clock, user.id)
    body = await entries(client, user.headers, since="2026-06-01T05:00:00", until="2026-06-01T06:00:00")
    assert [e["type"] for e in body["data"]] == ["com.todoagent.task.updated"]


async def test_a_user_sees_only_their_own_entries(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, audit: Subscription, client: httpx.AsyncClient
) -> None:
    alice, bob = await signed_in(uow), await signed_in(uow)
    alices = await history(uow, outbox, audit, clock, alice.id)
    assert (await entries(client, bob.headers))["count"] == 0
    assert (await entries(client, bob.headers, task_id=alices))["data"] == []


async def test_the_admin_audit_is_for_admins_and_covers_any_user(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, audit: Subscription, client: httpx.AsyncClient
) -> None:
    alice, admin = await signed_in(uow), await signed_in(uow, admin=True)
    task_id = await history(uow, outbox, audit, clock, alice.id)
    forbidden = await client.get("/api/v1/admin/audit", headers=alice.headers)
    assert_problem(forbidden, 403)
    body = await entries(client, admin.headers, "/api/v1/admin/audit", user_id=alice.id)
    assert body["count"] == 4 and {e["user_id"] for e in body["data"]} == {alice.id}
    everyone = await entries(client, admin.headers, "/api/v1/admin/audit", task_id=task_id, type="task.created")
    assert [e["user_id"] for e in everyone["data"]] == [alice.id]


async def test_bad_queries_and_missing_tokens_are_problems(uow: UnitOfWork, client: httpx.AsyncClient) -> None:
    user = await signed_in(uow)
    assert_problem(await client.get("/api/v1/audit"), 401)
    assert_problem(await client.get("/api/v1/audit", params={"cursor": "nonsense"}, headers=user.headers), 422,
                   "cursor")
    assert_problem(await client.get("/api/v1/audit", params={"limit": 0}, headers=user.headers), 422, "limit")
    assert_problem(await client.get("/api/v1/audit", params={"since": "yesterday"}, headers=user.headers), 422)
