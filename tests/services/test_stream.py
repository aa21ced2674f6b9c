"""GET /api/v1/stream: a user's live events only, heartbeats, resuming with Last-Event-ID, ending on shutdown."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from domain.schemas import TaskCreate
from domain.uow import UnitOfWork
from domain.usecases import Actor, complete_task, create_task
from tests.api.conftest import assert_problem
from tests.services.conftest import Outbox, signed_in
from tests.services.streaming import stream
from web.live import LiveHub
from web.live_feed import task_changed_feed


async def test_the_stream_needs_a_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/stream"), 401)
    assert_problem(await client.get("/api/v1/stream", headers={"Authorization": "Bearer nope"}), 401)


async def test_a_users_events_arrive_with_increasing_ids(uow: UnitOfWork, app: FastAPI, hub: LiveHub) -> None:
    user = await signed_in(uow)
    async with stream(app, user) as reader:
        hub.publish(user.id, "notification", {"id": 1, "title": "Call mum"})
        hub.publish(user.id, "task.changed", {"id": 9, "type": "com.todoagent.task.updated", "version": 2})
        first, second = await reader.event(), await reader.event()
    assert (first.event, first.data) == ("notification", '{"id":1,"title":"Call mum"}')
    assert (second.event, second.data) == ("task.changed",
                                           '{"id":9,"type":"com.todoagent.task.updated","version":2}')
    assert first.id is not None and second.id is not None and int(second.id) > int(first.id)


async def test_other_users_events_never_appear(uow: UnitOfWork, app: FastAPI, hub: LiveHub) -> None:
    alice, bob = await signed_in(uow), await signed_in(uow)
    async with stream(app, alice) as alices, stream(app, bob) as bobs:
        hub.publish(bob.id, "notification", {"for": "bob"})
        hub.publish(alice.id, "notification", {"for": "alice"})
        assert (await alices.event()).data == '{"for":"alice"}'
        assert (await bobs.event()).data == '{"for":"bob"}'
        hub.publish(alice.id, "notification", {"for": "alice", "n": 2})
        assert (await alices.event()).data == '{"for":"alice","n":2}'
        with pytest.raises(TimeoutError):
            await bobs.event(timeout=0.2)


async def test_heartbeats_keep_an_idle_stream_alive(uow: UnitOfWork, app: FastAPI, hub: LiveHub) -> None:
    hub.ping_seconds = 0.05
    user = await signed_in(uow)
    async with stream(app, user) as reader:
        beats = [await reader.next(timeout=2) for _ in range(2)]
    assert all(b.comments and b.comments[0].startswith("ping") and not b.data for b in beats)


async def test_resuming_with_last_event_id_replays_what_was_missed(
    uow: UnitOfWork, app: FastAPI, hub: LiveHub
) -> None:
    user = await signed_in(uow)
    async with stream(app, user) as reader:
        hub.publish(user.id, "notification", {"n": 1})
        seen = await reader.event()
    missed = [hub.publish(user.id, "notification", {"n": n}) for n in (2, 3)]
    async with stream(app, user, last_event_id=int(seen.id or 0)) as reader:
        replayed = [await reader.event(), await reader.event()]
        hub.publish(user.id, "notification", {"n": 4})
        live = await reader.event()
    assert [r.id for r in replayed] == [str(m.id) for m in missed if m is not None]
    assert [e.data for e in (*replayed, live)] == ['{"n":2}', '{"n":3}', '{"n":4}']


async def test_resuming_from_before_what_the_hub_holds_asks_the_page_to_reload(
    uow: UnitOfWork, app: FastAPI, hub: LiveHub
) -> None:
    user = await signed_in(uow)
    hub.publish(user.id, "notification", {"n": 1})
    async with stream(app, user, last_event_id=1) as reader:  # an id from before this process started
        resync = await reader.event()
        hub.publish(user.id, "notification", {"n": 2})
        after = await reader.event()
    assert resync.event == "resync"
    assert after.data == '{"n":2}' and int(after.id or 0) > int(resync.id or 0)


async def test_a_page_resuming_from_an_event_its_buffer_dropped_resyncs() -> None:
    hub = LiveHub(buffer=2)
    first = hub.publish(1, "notification", {"n": 1})
    for n in range(2, 5):
        hub.publish(1, "notification", {"n": n})
    assert first is not None
    subscription = hub.subscribe(1, last_event_id=first.id)
    hub.close()
    assert [e.event async for e in subscription] == ["resync"]


async def test_an_id_of_another_workers_hub_resyncs_instead_of_replaying_by_the_wrong_numbering() -> None:
    """Two `serve` workers each have a hub; a page reconnecting to the other one must not resume against numbers
    that hub never gave (its ids may be larger, so nothing would be replayed, or interleave with its own)."""
    mine, other = LiveHub(), LiveHub()
    while other.tag == mine.tag:  # 1 in 4096: two workers with one tag behave as one hub did before
        other = LiveHub()
    for hub in (mine, other):
        for n in range(3):
            hub.publish(1, "notification", {"n": n})
    theirs = other.publish(1, "notification", {"n": 3})
    ours = mine.publish(1, "notification", {"n": 3})
    assert theirs is not None and ours is not None
    for foreign in (theirs.id, ours.id + 10 * 4096):  # the other hub's id; an id this hub has not given yet
        assert [e.event for e in mine._backlog(1, foreign)] == ["resync"]
    assert mine._backlog(1, ours.id) == []  # up to date: nothing to replay


def test_a_redelivered_event_is_shown_once() -> None:
    hub = LiveHub()
    assert hub.publish(1, "task.changed", {"id": 1}, key="event-1") is not None
    assert hub.publish(1, "task.changed", {"id": 1}, key="event-1") is None


async def test_streams_end_when_the_server_shuts_down(uow: UnitOfWork, app: FastAPI, hub: LiveHub) -> None:
    user = await signed_in(uow)
    async with stream(app, user) as reader:
        hub.close()
        assert await reader.ended()
    assert hub.subscribers(user.id) == 0


async def test_a_closed_page_unsubscribes(uow: UnitOfWork, app: FastAPI, hub: LiveHub) -> None:
    user = await signed_in(uow)
    async with stream(app, user):
        assert hub.subscribers(user.id) == 1
    async with asyncio.timeout(5):
        while hub.subscribers(user.id):
            await asyncio.sleep(0.01)


async def test_task_events_become_task_changed_events(
    uow: UnitOfWork, app: FastAPI, hub: LiveHub, outbox: Outbox
) -> None:
    user = await signed_in(uow)
    feed = task_changed_feed(hub)
    actor = Actor(id=user.id)
    task = await create_task(uow, actor, TaskCreate(title="Live"))
    await complete_task(uow, actor, task.id)
    async with stream(app, user) as reader:
        events = await outbox.new(user.id)
        for event in events + events:  # redelivered: shown once
            await feed(event)
        created, completed = await reader.event(), await reader.event()
        with pytest.raises(TimeoutError):
            await reader.event(timeout=0.2)
    assert created.event == completed.event == "task.changed"
    assert created.data == f'{{"id":{task.id},"type":"com.todoagent.task.created","version":1}}'
    assert completed.data == f'{{"id":{task.id},"type":"com.todoagent.task.completed","version":2}}'
