"""Notifications in the web host: one per reminder and user, listed newest first, marked read by their owner."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from domain.events import REMINDER_DUE
from domain.uow import UnitOfWork
from services.consumer import Outcome
from services.notifications import notification_of_event
from services.subscriptions import Subscription
from tests.api.conftest import assert_problem
from tests.services.conftest import dead_letter, reminder_due, signed_in


@pytest.fixture
def notifications(groups: dict[str, Subscription]) -> Subscription:
    return groups["notifications"]


async def listed(client: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/notifications", params=params, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_reminder_becomes_a_notification_of_its_user(
    uow: UnitOfWork, notifications: Subscription, client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow)
    assert await notifications.deliver(reminder_due(user.id, late=True)) is Outcome.SUCCESS
    body = await listed(client, user.headers)
    assert body["count"] == 1 and body["next_cursor"] is None
    [note] = body["data"]
    assert (note["task_id"], note["title"], note["offset_minutes"], note["late"]) == (7, "Call mum", 15, True)
    assert note["fire_at"].startswith("2026-06-01T07:45") and note["read_at"] is None


async def test_a_redelivered_reminder_is_stored_once(
    uow: UnitOfWork, notifications: Subscription, client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow)
    event = reminder_due(user.id)
    for _ in range(3):
        await notifications.deliver(event)
    assert (await listed(client, user.headers))["count"] == 1


async def test_reading_marks_one_and_the_unread_filter_hides_it(
    uow: UnitOfWork, notifications: Subscription, client: httpx.AsyncClient
) -> None:
    user = await signed_in(uow)
    for task_id in (1, 2, 3):
        await notifications.deliver(reminder_due(user.id, task_id))
    newest_first = (await listed(client, user.headers))["data"]
    assert [n["task_id"] for n in newest_first] == [3, 2, 1]
    read = await client.post(f"/api/v1/notifications/{newest_first[1]['id']}/read", headers=user.headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = await client.post(f"/api/v1/notifications/{newest_first[1]['id']}/read", headers=user.headers)
    assert again.json()["read_at"] == read.json()["read_at"]
    unread = await listed(client, user.headers, unread=True)
    assert unread["count"] == 2 and [n["task_id"] for n in unread["data"]] == [3, 1]


async def test_pages_follow_the_cursor(uow: UnitOfWork, notifications: Subscription, client: httpx.AsyncClient) -> None:
    user = await signed_in(uow)
    for task_id in range(1, 6):
        await notifications.deliver(reminder_due(user.id, task_id))
    first = await listed(client, user.headers, limit=2)
    second = await listed(client, user.headers, limit=2, cursor=first["next_cursor"])
    third = await listed(client, user.headers, limit=2, cursor=second["next_cursor"])
    assert [n["task_id"] for page in (first, second, third) for n in page["data"]] == [5, 4, 3, 2, 1]
    assert third["next_cursor"] is None and first["count"] == 5


async def test_other_users_notifications_are_invisible_and_not_found(
    uow: UnitOfWork, notifications: Subscription, client: httpx.AsyncClient
) -> None:
    alice, bob = await signed_in(uow), await signed_in(uow)
    await notifications.deliver(reminder_due(alice.id))
    [note] = (await listed(client, alice.headers))["data"]
    assert (await listed(client, bob.headers))["count"] == 0
    assert_problem(await client.post(f"/api/v1/notifications/{note['id']}/read", headers=bob.headers), 404, "id")
    assert_problem(await client.get("/api/v1/notifications"), 401)


async def test_a_malformed_reminder_is_dead_lettered(uow: UnitOfWork, notifications: Subscription) -> None:
    event = {"id": f"bad-{uuid.uuid4()}", "type": REMINDER_DUE, "data": {"schema_version": 1, "user_id": 1}}
    assert await notifications.deliver(event) is Outcome.DROP


@pytest.mark.parametrize("user_id", [2**31 - 1, 10**30], ids=["missing", "out-of-range"])
async def test_a_reminder_for_a_user_that_does_not_exist_is_dead_lettered_and_stores_nothing(
    uow: UnitOfWork, notifications: Subscription, user_id: int
) -> None:
    """No notification is stored for an account that does not exist, and the event is not retried forever."""
    event = reminder_due(user_id)
    assert await notifications.deliver(event) is Outcome.DROP
    letter = await dead_letter(uow, "notifications", event["id"])
    assert letter is not None and "does not exist" in letter.error
    assert await notification_of_event(uow, event["id"]) is None
