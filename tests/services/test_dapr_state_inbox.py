"""The reminder and recurrence services' inbox in the Dapr state store (services.transport.dapr_state): a
redelivered event has no second effect, a concurrent duplicate is retried, a failed effect releases its claim,
poison still goes to the dead letters, and a failing sidecar means RETRY with nothing written.

Only the Dapr sidecar is faked: tests/dapr_state_fake.py answers over httpx.MockTransport as daprd's state API over
state.postgresql v2 does (facts note b6: status codes, ETag headers, first-write, TTL, the API token). The handlers,
the consumer runtime and the database (SQLite and PostgreSQL) are the real ones."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlmodel import col, select

from domain.events import NEXT_OCCURRENCE_REQUESTED, TASK_COMPLETED, TASK_CREATED
from domain.schemas import RecurrenceSpec, TaskCreate
from domain.uow import Tx, UnitOfWork
from domain.usecases import Actor, complete_task, create_task
from runtime.apps import build_service
from runtime.bootstrap import close_runtime
from runtime.settings import Settings
from services.consumer import Handler, Outcome
from services.subscriptions import Subscription
from services.tables import InboxRecord, ReminderSchedule, ReminderTaskState
from services.transport.dapr_state import CLAIM_TTL_SECONDS, DaprStateInbox
from tests.conftest import Clock, new_actor
from tests.dapr_state_fake import FakeStateStore
from tests.hosts import user_of
from tests.infra import sqlite_url
from tests.services.conftest import T0, Outbox, dead_letter

TOKEN, APP_TOKEN = "api-token-" + "t" * 32, "app-token-" + "s" * 32
WEEK = 7 * 86400
DUE = T0 + timedelta(days=2)
SIDECAR = "http://127.0.0.1:3500/v1.0/state/statestore"


@pytest.fixture
def store() -> FakeStateStore:
    return FakeStateStore(app_id="todo-agent-reminder", token=TOKEN)


@pytest.fixture
async def inbox(store: FakeStateStore) -> AsyncIterator[DaprStateInbox]:
    inbox = DaprStateInbox("statestore", base_url="http://127.0.0.1:3500", done_ttl=WEEK, api_token=TOKEN,
                           transport=store.transport())
    yield inbox
    await inbox.close()


def counted(sub: Subscription, inbox: DaprStateInbox, *, fail: int = 0,
            during: Callable[[], None] | None = None) -> tuple[Subscription, list[str]]:
    """`sub` on `inbox`, its real handlers counting their calls; the first `fail` calls raise a transient error
    after the real effect (before the commit), and `during` runs inside each call."""
    calls: list[str] = []

    def wrap(handler: Handler) -> Handler:
        async def handle(tx: Tx, event: dict[str, Any]) -> None:
            calls.append(event["id"])
            await handler(tx, event)
            if during is not None:
                during()
            if len(calls) <= fail:
                raise ConnectionError("the database went away")
        return handle

    return replace(sub, inbox=inbox, handlers={t: wrap(h) for t, h in sub.handlers.items()}), calls


async def pending(uow: UnitOfWork, task_id: int) -> list[tuple[int, datetime]]:
    async with uow.read() as tx:
        rows = (await tx.session.exec(select(ReminderSchedule).where(
            ReminderSchedule.task_id == task_id, col(ReminderSchedule.sent_at).is_(None)))).all()
    return sorted((r.offset_minutes, r.fire_at.astimezone(UTC)) for r in rows)


@pytest.fixture
async def created(uow: UnitOfWork, clock: Clock, outbox: Outbox) -> tuple[int, dict[str, Any]]:
    """A new user's task due in two days with reminders 0 and 60 minutes before, and its task.created event."""
    clock.set(T0)
    actor = await new_actor(uow)
    task = await create_task(uow, actor, TaskCreate(title="Call", due_at=DUE, reminders=[0, 60]))
    return task.id, await outbox.one(actor.id, TASK_CREATED)


SCHEDULED = [(0, DUE), (60, DUE - timedelta(hours=1))]


async def test_a_task_event_delivered_twice_changes_the_schedule_once(
    uow: UnitOfWork, groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]],
) -> None:
    """The second delivery finds the done record with one GET and answers SUCCESS without calling the handler."""
    task_id, event = created
    sub, calls = counted(groups["reminder"], inbox)
    assert await sub.deliver(event) is Outcome.SUCCESS
    assert await pending(uow, task_id) == SCHEDULED
    seen = len(store.requests)
    assert await sub.deliver(event) is Outcome.SUCCESS
    assert calls == [event["id"]] and await pending(uow, task_id) == SCHEDULED
    assert [r.method for r in store.requests[seen:]] == ["GET"]


async def test_the_keys_carry_the_group_the_records_their_ttls_and_every_call_the_token(
    groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]],
) -> None:
    """GET (missing) → first-write claim with the claim TTL → GET for its ETag → save "done" with that ETag and the
    retention TTL; the sidecar prefixes the app id."""
    _, event = created
    assert await replace(groups["reminder"], inbox=inbox).deliver(event) is Outcome.SUCCESS
    key = store.full_key(f"inbox:reminder:{event['id']}")
    assert {k: v["state"] for k, v in store.live().items()} == {key: "done"}
    assert store.ttl_left(key) == WEEK
    assert [(r.method, a.status_code) for r, a in zip(store.requests, store.answers, strict=True)] == [
        ("GET", 204), ("POST", 204), ("GET", 200), ("POST", 204)]
    [claim], [done] = (json.loads(store.requests[i].content) for i in (1, 3))
    assert claim["value"]["state"] == "pending" and "etag" not in claim
    assert claim["metadata"] == {"ttlInSeconds": str(CLAIM_TTL_SECONDS)}
    assert claim["options"]["concurrency"] == done["options"]["concurrency"] == "first-write"
    assert done["etag"] == store.answers[2].headers["etag"] and done["metadata"] == {"ttlInSeconds": str(WEEK)}
    assert all(r.headers["dapr-api-token"] == TOKEN for r in store.requests)


async def test_two_concurrent_deliveries_of_one_event_have_one_effect(
    uow: UnitOfWork, groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]],
) -> None:
    """Both find the key missing; the second first-write claim fails (500 "no item was updated", as PostgreSQL v2
    answers) and is RETRY; the retry then finds the event done."""
    task_id, event = created
    sub, calls = counted(groups["reminder"], inbox)
    outcomes = await asyncio.gather(sub.deliver(event), sub.deliver(event))
    assert sorted(outcomes) == [Outcome.RETRY, Outcome.SUCCESS] and len(calls) == 1
    assert any(a.status_code == 500 and "no item was updated" in a.json()["message"] for a in store.answers)
    assert await sub.deliver(event) is Outcome.SUCCESS
    assert len(calls) == 1 and await pending(uow, task_id) == SCHEDULED


async def test_a_failed_effect_releases_its_claim_and_the_redelivery_applies_it_once(
    uow: UnitOfWork, groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]],
) -> None:
    task_id, event = created
    sub, calls = counted(groups["reminder"], inbox, fail=1)
    assert await sub.deliver(event) is Outcome.RETRY
    assert await pending(uow, task_id) == [] and store.live() == {}  # rolled back, claim deleted
    [delete] = [r for r in store.requests if r.method == "DELETE"]
    assert delete.headers["If-Match"] == store.answers[2].headers["etag"]
    assert await sub.deliver(event) is Outcome.SUCCESS
    assert await sub.deliver(event) is Outcome.SUCCESS
    assert len(calls) == 2 and await pending(uow, task_id) == SCHEDULED


async def test_poison_is_dropped_to_the_dead_letters_and_leaves_no_record(
    uow: UnitOfWork, groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]],
) -> None:
    """An unknown schema version is DROP as with the SQL inbox; the claim is released, so a replay can run it."""
    _, event = created
    poison = {**event, "data": {**event["data"], "schema_version": 99}}
    sub = replace(groups["reminder"], inbox=inbox)
    assert await sub.deliver(poison) is Outcome.DROP
    assert await dead_letter(uow, "reminder", event["id"]) is not None and store.live() == {}
    seen = len(store.requests)
    assert await sub.deliver({"type": TASK_CREATED, "data": {}}) is Outcome.DROP  # no id: the sidecar is not asked
    assert len(store.requests) == seen


@pytest.mark.parametrize("trouble", ["sidecar down", "store failing", "wrong token"])
async def test_a_failing_sidecar_is_retry_with_nothing_written(
    uow: UnitOfWork, groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]], trouble: str,
) -> None:
    task_id, event = created
    store.down, store.failing = trouble == "sidecar down", trouble == "store failing"
    store.token = "another token" if trouble == "wrong token" else TOKEN
    sub, calls = counted(groups["reminder"], inbox)
    assert await sub.deliver(event) is Outcome.RETRY
    async with uow.read() as tx:
        assert await tx.session.get(ReminderTaskState, task_id) is None
        assert await tx.session.get(InboxRecord, ("reminder", event["id"])) is None
    assert calls == [] and await pending(uow, task_id) == []
    store.down, store.failing, store.token = False, False, TOKEN
    assert await sub.deliver(event) is Outcome.SUCCESS and await pending(uow, task_id) == SCHEDULED


async def test_a_claim_left_by_another_replica_is_retry_until_it_expires(
    uow: UnitOfWork, groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]],
) -> None:
    """A replica that crashed with the event in hand leaves a pending claim: RETRY, and after its TTL it runs."""
    task_id, event = created
    async with httpx.AsyncClient(transport=store.transport(), headers={"dapr-api-token": TOKEN}) as other:
        claim = {"key": f"inbox:reminder:{event['id']}", "value": {"state": "pending"},
                 "metadata": {"ttlInSeconds": "300"}, "options": {"concurrency": "first-write"}}
        assert (await other.post(SIDECAR, json=[claim])).status_code == 204
    sub, calls = counted(groups["reminder"], inbox)
    assert await sub.deliver(event) is Outcome.RETRY and calls == []
    store.advance(301)
    assert await sub.deliver(event) is Outcome.SUCCESS and await pending(uow, task_id) == SCHEDULED


async def test_an_effect_committed_but_not_marked_done_is_harmless_when_applied_again(
    uow: UnitOfWork, groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
    created: tuple[int, dict[str, Any]],
) -> None:
    """The window the module documents: the store fails after the SQL commit, so the claim stays pending; once it
    expires the event runs again, and the reminder handler (newest version only) changes nothing."""
    task_id, event = created
    sub, calls = counted(groups["reminder"], inbox, during=lambda: setattr(store, "failing", True))
    assert await sub.deliver(event) is Outcome.SUCCESS  # applied; only the done record is missing
    store.failing = False
    assert [v["state"] for v in store.live().values()] == ["pending"]
    assert await sub.deliver(event) is Outcome.RETRY
    store.advance(CLAIM_TTL_SECONDS + 1)
    sub, calls = counted(groups["reminder"], inbox)
    assert await sub.deliver(event) is Outcome.SUCCESS and len(calls) == 1
    assert await pending(uow, task_id) == SCHEDULED


async def test_an_event_id_dapr_could_not_take_as_a_key_is_encoded(
    groups: dict[str, Subscription], inbox: DaprStateInbox, store: FakeStateStore,
) -> None:
    """Dapr refuses "||" in a key and unescapes path parameters as a query ("+" is a space): the id is encoded."""
    odd_id = "a||b/c d+e%"
    event = {"specversion": "1.0", "id": odd_id, "source": "test", "type": "com.example.other", "data": {}}
    sub = replace(groups["reminder"], inbox=inbox)
    assert await sub.deliver(event) is Outcome.SUCCESS and await sub.deliver(event) is Outcome.SUCCESS
    assert list(store.live()) == [store.full_key("inbox:reminder:" + quote(odd_id, safe=""))]


async def test_a_completed_recurring_task_delivered_twice_asks_for_one_next_occurrence(
    uow: UnitOfWork, clock: Clock, outbox: Outbox, groups: dict[str, Subscription],
) -> None:
    store = FakeStateStore(app_id="todo-agent-recurrence")
    inbox = DaprStateInbox("statestore", base_url="http://127.0.0.1:3500", done_ttl=WEEK, transport=store.transport())
    clock.set(T0)
    actor = await new_actor(uow)
    task = await create_task(uow, actor, TaskCreate(title="Water", due_at=DUE, recurrence=RecurrenceSpec(rule="daily")))
    await complete_task(uow, actor, task.id)
    completed = await outbox.one(actor.id, TASK_COMPLETED)
    sub = replace(groups["recurrence"], inbox=inbox)
    assert [await sub.deliver(completed) for _ in range(2)] == [Outcome.SUCCESS, Outcome.SUCCESS]
    await inbox.close()
    assert [e["type"] for e in await outbox.new(actor.id)] == [NEXT_OCCURRENCE_REQUESTED]


@pytest.mark.parametrize("state_store", ["statestore", ""])
async def test_the_reminder_service_on_dapr_keeps_its_inbox_in_the_state_store_unless_told_not_to(
    migrated_file: Path, tmp_path: Path, state_store: str,
) -> None:
    """build_service("reminder") on bus=dapr with the fake sidecar: the sidecar POSTs one CloudEvent twice, one
    schedule results; with TODO_AGENT_DAPR_STATE_STORE="" the SQL inbox takes it and the store is never asked."""
    path = Path(shutil.copy(migrated_file, tmp_path / "todo.db"))
    settings = Settings(data_dir=tmp_path, database_url=sqlite_url(path), bus="dapr", dapr_app_token=APP_TOKEN,
                        dapr_api_token=TOKEN, dapr_state_store=state_store)
    store = FakeStateStore(token=TOKEN)
    rt, app = build_service("reminder", settings, sidecar=store.transport())
    try:
        user = await user_of(rt)
        due = datetime.now(UTC) + timedelta(days=2)
        actor = Actor(id=user.id, timezone="Europe/Berlin")
        task = await create_task(rt.uow, actor, TaskCreate(title="Call", due_at=due, reminders=[30]))
        event = await Outbox(rt.uow).one(user.id, TASK_CREATED)
        headers = {"Content-Type": "application/cloudevents+json", "dapr-api-token": APP_TOKEN}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8001") as c:
            answers = [(await c.post("/events/reminder", json=event, headers=headers)).json() for _ in range(2)]
        assert answers == [{"status": "SUCCESS"}] * 2
        assert [offset for offset, _ in await pending(rt.uow, task.id)] == [30]
        async with rt.uow.read() as tx:
            in_sql = await tx.session.get(InboxRecord, ("reminder", event["id"])) is not None
        assert (in_sql, len(store.live())) == ((False, 1) if state_store else (True, 0))
        assert len(rt.closing) == (1 if state_store else 0)
    finally:
        await close_runtime(rt)
