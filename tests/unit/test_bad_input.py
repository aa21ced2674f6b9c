"""Bad input is refused with a typed domain error that names the field at fault and says how to fix the call;
nothing is written when a call is refused."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from domain.errors import (
    IdempotencyConflict,
    InvalidCursor,
    InvalidDue,
    InvalidInput,
    InvalidRecurrence,
    InvalidTimezone,
    TagNotFound,
    VersionConflict,
)
from domain.schemas import RecurrenceSpec, TaskCreate, TaskQuery, TaskUpdate, TaskView
from domain.uow import UnitOfWork
from domain.usecases import (
    Actor,
    add_tags,
    bulk_add_tags,
    bulk_complete,
    bulk_delete,
    bulk_set_priority,
    complete_task,
    create_task,
    create_user,
    get_task,
    get_user,
    list_tasks,
    preview_recurrence,
    rename_tag,
    search_tasks,
    set_due_date,
    set_priority,
    set_recurrence,
    set_reminders,
    set_timezone,
    update_task,
)
from tests.conftest import new_actor, new_task

VALID_PRIORITIES = ("none", "low", "medium", "high", "urgent")


async def unchanged(uow: UnitOfWork, actor: Actor, task: TaskView) -> bool:
    return await get_task(uow, actor, task.id) == task


# --- title and description -------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["", "   ", "\n\t "])
async def test_an_empty_or_blank_title_is_refused(uow, actor, title):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, title)
    assert err.value.field == "title" and "empty" in err.value.message
    assert (await list_tasks(uow, actor)).count == 0


async def test_updating_a_title_to_blank_is_refused(uow, actor):
    task = await new_task(uow, actor)
    with pytest.raises(InvalidInput) as err:
        await update_task(uow, actor, task.id, TaskUpdate(title="  "))
    assert err.value.field == "title"
    assert await unchanged(uow, actor, task)


async def test_a_title_of_501_characters_is_refused_and_500_is_accepted(uow, actor):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, "x" * 501)
    assert err.value.field == "title" and "500" in err.value.message
    assert len((await new_task(uow, actor, "x" * 500)).title) == 500
    assert len((await new_task(uow, actor, " " + "y" * 500 + " ")).title) == 500


async def test_a_description_of_10001_characters_is_refused(uow, actor):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, description="d" * 10_001)
    assert err.value.field == "description" and "10000" in err.value.message.replace(",", "")
    assert len((await new_task(uow, actor, description="d" * 10_000)).description) == 10_000
    task = await new_task(uow, actor)
    with pytest.raises(InvalidInput) as err:
        await update_task(uow, actor, task.id, TaskUpdate(description="d" * 10_001))
    assert err.value.field == "description"
    assert await unchanged(uow, actor, task)


# --- priority --------------------------------------------------------------------------------------------


def _assert_names_valid_priorities(err: pytest.ExceptionInfo[InvalidInput]) -> None:
    assert err.value.field == "priority"
    assert "critical" in err.value.message
    assert all(p in err.value.message for p in VALID_PRIORITIES)


async def test_an_unknown_priority_is_refused_with_the_valid_ones_listed(uow, actor):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, priority="critical")
    _assert_names_valid_priorities(err)
    task = await new_task(uow, actor)
    for call in (
        set_priority(uow, actor, task.id, "critical"),
        update_task(uow, actor, task.id, TaskUpdate(priority="critical")),
        bulk_set_priority(uow, actor, [task.id], "critical"),
        list_tasks(uow, actor, TaskQuery(priority=["critical"])),
    ):
        with pytest.raises(InvalidInput) as err:
            await call
        _assert_names_valid_priorities(err)
    assert await unchanged(uow, actor, task)


# --- tags ------------------------------------------------------------------------------------------------


async def test_twenty_one_tags_are_refused(uow, actor):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, tags=[f"tag{i}" for i in range(21)])
    assert err.value.field == "tags" and "20" in err.value.message
    task = await new_task(uow, actor, tags=[f"tag{i}" for i in range(20)])
    with pytest.raises(InvalidInput) as err:
        await update_task(uow, actor, task.id, TaskUpdate(tags=[f"new{i}" for i in range(21)]))
    assert err.value.field == "tags"
    assert await unchanged(uow, actor, task)


async def test_twenty_tags_that_normalize_to_nineteen_are_accepted(uow, actor):
    task = await new_task(uow, actor, tags=[f"tag{i}" for i in range(19)] + ["TAG0"])
    assert len(task.tags) == 19


async def test_twenty_one_tags_in_one_call_are_refused_even_when_they_normalize_to_twenty(uow, actor):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, tags=[f"tag{i}" for i in range(20)] + ["TAG0"])
    assert err.value.field == "tags" and "at most 20 tags per call" in err.value.message


async def test_a_tag_of_51_characters_is_refused_and_50_is_accepted(uow, actor):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, tags=["t" * 51])
    assert err.value.field == "tags" and "50" in err.value.message
    task = await new_task(uow, actor, tags=["t" * 50])
    with pytest.raises(InvalidInput) as err:
        await add_tags(uow, actor, task.id, ["ok", "u" * 51])
    assert err.value.field == "tags"
    assert await unchanged(uow, actor, task)


@pytest.mark.parametrize("tag", ["", "   ", "#"])
async def test_an_empty_tag_is_refused(uow, actor, tag):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, tags=["fine", tag])
    assert err.value.field == "tags"


async def test_renaming_a_tag_to_51_characters_or_an_unknown_tag_is_refused(uow, actor):
    await new_task(uow, actor, tags=["home"])
    with pytest.raises(InvalidInput) as err:
        await rename_tag(uow, actor, "home", "h" * 51)
    assert err.value.field == "new_name"
    with pytest.raises(TagNotFound) as missing:
        await rename_tag(uow, actor, "nope", "yes")
    assert missing.value.field == "name"


# --- recurrence --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "rule",
    [
        "61 9 * * *",  # minute out of range
        "0 25 * * *",  # hour out of range
        "0 9 32 * *",  # day of month out of range
        "0 9 * * 1 2",  # six fields
        "FREQ=SOMETIMES",  # RRULE with a bad frequency
        "FREQ=DAILY;BYHOUR=25",  # RRULE with a bad hour
        "FREQ=WEEKLY;BYDAY=XX",  # RRULE with a bad weekday
        "every blursday",  # phrase with an unknown day
        "every 0 days",  # phrase with no interval
        "every monday at 25:00",  # phrase with a bad time
        "whenever I feel like it",  # nothing at all
        "",
    ],
)
async def test_an_invalid_rule_is_refused_with_an_example(uow, actor, rule):
    task = await new_task(uow, actor, due_at="2026-05-04T09:00")
    with pytest.raises(InvalidRecurrence) as err:
        await set_recurrence(uow, actor, task.id, RecurrenceSpec(rule=rule))
    assert err.value.field == "rule"
    assert "e.g." in err.value.message
    assert await unchanged(uow, actor, task)


async def test_an_invalid_rule_is_refused_on_create_update_and_preview(uow, actor):
    bad = RecurrenceSpec(rule="every blursday")
    with pytest.raises(InvalidRecurrence):
        await new_task(uow, actor, recurrence=bad)
    assert (await list_tasks(uow, actor)).count == 0
    task = await new_task(uow, actor)
    with pytest.raises(InvalidRecurrence):
        await update_task(uow, actor, task.id, TaskUpdate(title="changed", recurrence=bad))
    assert await unchanged(uow, actor, task)
    with pytest.raises(InvalidRecurrence):
        await preview_recurrence(uow, actor, "FREQ=SOMETIMES")


# --- timezones -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", " UTC", "Europe/Berlin ", "+02:00", "../etc/passwd"])
async def test_an_unknown_timezone_is_refused_when_creating_a_user(uow, tz):
    with pytest.raises(InvalidTimezone) as err:
        await create_user(uow, "tz-check@example.com", timezone=tz)
    assert err.value.field == "timezone" and "Europe/Berlin" in err.value.message


async def test_an_unknown_timezone_is_refused_when_changing_it_and_the_old_one_stays(uow):
    actor = await new_actor(uow, "Asia/Tokyo")
    with pytest.raises(InvalidTimezone) as err:
        await set_timezone(uow, actor, "Asia/Atlantis")
    assert err.value.field == "timezone"
    assert (await get_user(uow, user_id=actor.id)).timezone == "Asia/Tokyo"


# --- due dates -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("due", ["next blursday", "2026-02-30", "2026-13-01T09:00", "31/12/2026", "soon", ""])
async def test_an_unparseable_due_is_refused_with_examples(uow, actor, due):
    with pytest.raises(InvalidDue) as err:
        await new_task(uow, actor, due_at=due)
    assert err.value.field == "due_at" and "e.g." in err.value.message
    task = await new_task(uow, actor, due_at="2026-05-04")
    for call in (set_due_date(uow, actor, task.id, due), update_task(uow, actor, task.id, TaskUpdate(due_at=due))):
        with pytest.raises(InvalidDue):
            await call
    assert await unchanged(uow, actor, task)


@pytest.mark.parametrize("field", ["due_before", "due_after"])
async def test_an_unparseable_due_filter_names_the_filter(uow, actor, field):
    with pytest.raises(InvalidInput) as err:
        await list_tasks(uow, actor, TaskQuery(**{field: "yesterday-ish"}))
    assert err.value.field == field and field in err.value.message


# --- concurrency and idempotency -----------------------------------------------------------------------


async def test_a_stale_version_is_refused_with_the_current_one(uow, actor):
    task = await new_task(uow, actor)
    await complete_task(uow, actor, task.id)
    with pytest.raises(VersionConflict) as err:
        await update_task(uow, actor, task.id, TaskUpdate(title="late edit"), expected_version=1)
    assert err.value.field == "version" and "version 2" in err.value.message
    assert (await get_task(uow, actor, task.id)).title == "Task"


async def test_a_future_version_is_a_conflict_too(uow, actor):
    task = await new_task(uow, actor)
    with pytest.raises(VersionConflict):
        await set_priority(uow, actor, task.id, "high", expected_version=7)


async def test_a_reused_idempotency_key_with_a_different_payload_is_refused(uow, actor):
    await create_task(uow, actor, TaskCreate(title="A", tags=["x"]), idempotency_key="k-1")
    for different in (TaskCreate(title="A", tags=["y"]), TaskCreate(title="A", tags=["x"], priority="high")):
        with pytest.raises(IdempotencyConflict) as err:
            await create_task(uow, actor, different, idempotency_key="k-1")
        assert err.value.field == "idempotency_key" and "k-1" in err.value.message
    assert (await list_tasks(uow, actor)).count == 1


@pytest.mark.parametrize("key", ["", "k" * 256])
async def test_an_empty_or_oversized_idempotency_key_is_refused(uow, actor, key):
    with pytest.raises(InvalidInput) as err:
        await create_task(uow, actor, TaskCreate(title="A"), idempotency_key=key)
    assert err.value.field == "idempotency_key"
    assert (await list_tasks(uow, actor)).count == 0


# --- bulk ------------------------------------------------------------------------------------------------

_BULK = [
    lambda u, a, ids: bulk_complete(u, a, ids),
    lambda u, a, ids: bulk_delete(u, a, ids),
    lambda u, a, ids: bulk_set_priority(u, a, ids, "high"),
    lambda u, a, ids: bulk_add_tags(u, a, ids, ["x"]),
]


@pytest.mark.parametrize("bulk", _BULK, ids=["complete", "delete", "priority", "tags"])
async def test_a_bulk_request_with_no_ids_or_51_ids_is_refused(uow, actor, bulk):
    task = await new_task(uow, actor)
    for ids, hint in (([], "at least one"), ([task.id, *range(10**9, 10**9 + 50)], "50")):
        with pytest.raises(InvalidInput) as err:
            await bulk(uow, actor, ids)
        assert err.value.field == "task_ids" and hint in err.value.message
    assert await unchanged(uow, actor, task)


# --- paging and search ---------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [0, -1, 101, 10_000])
async def test_a_limit_outside_1_to_100_is_refused(uow, actor, limit):
    with pytest.raises(InvalidInput) as err:
        await list_tasks(uow, actor, TaskQuery(limit=limit))
    assert err.value.field == "limit" and "100" in err.value.message
    with pytest.raises(InvalidInput):
        await search_tasks(uow, actor, "milk", limit=limit)


def _forge(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["garbage", "!!!", "e30", _forge({"k": 1}), _forge({"f": "x", "k": 1, "i": 1}), _forge([1, 2, 3])],
    ids=["garbage", "not-base64", "empty-object", "missing-fields", "wrong-fingerprint", "a-list"],
)
async def test_a_bad_cursor_is_refused(uow, actor, cursor):
    with pytest.raises(InvalidCursor) as err:
        await list_tasks(uow, actor, TaskQuery(cursor=cursor))
    assert err.value.field == "cursor" and "next_cursor" in err.value.message


async def test_a_cursor_is_refused_for_another_query_or_sort(uow, actor):
    for i in range(3):
        await new_task(uow, actor, f"t{i}", priority="high")
    page = await list_tasks(uow, actor, TaskQuery(limit=1, sort="title"))
    assert page.next_cursor is not None
    for other in (
        TaskQuery(limit=1, sort="due", cursor=page.next_cursor),
        TaskQuery(limit=1, sort="title", order="desc", cursor=page.next_cursor),
        TaskQuery(limit=1, sort="title", priority=["high"], cursor=page.next_cursor),
    ):
        with pytest.raises(InvalidCursor):
            await list_tasks(uow, actor, other)
    same = await list_tasks(uow, actor, TaskQuery(limit=2, sort="title", cursor=page.next_cursor))
    assert [t.title for t in same.data] == ["t1", "t2"]


@pytest.mark.parametrize("sort", ["due", "priority", "created", "updated", "title"])
async def test_a_forged_cursor_with_a_key_of_the_wrong_type_is_refused(uow, actor, sort):
    await new_task(uow, actor, "a", due_at="2026-05-04")
    await new_task(uow, actor, "b", due_at="2026-05-05")
    cursor = (await list_tasks(uow, actor, TaskQuery(limit=1, sort=sort))).next_cursor
    assert cursor is not None
    body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    for key in ([1], {"a": 1}, None, "not-a-key" if sort != "title" else 12):
        with pytest.raises(InvalidCursor):
            await list_tasks(uow, actor, TaskQuery(limit=1, sort=sort, cursor=_forge({**body, "k": key})))


@pytest.mark.parametrize("text", ["", "   ", "!!! ...", "-"])
async def test_searching_for_nothing_searchable_is_refused(uow, actor, text):
    with pytest.raises(InvalidInput) as err:
        await search_tasks(uow, actor, text)
    assert err.value.field == "q" and "e.g." in err.value.message


async def test_search_text_over_500_characters_is_refused(uow, actor):
    with pytest.raises(InvalidInput) as err:
        await list_tasks(uow, actor, TaskQuery(q="word " * 101))
    assert err.value.field == "q"


# --- reminders -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("offsets", [[-1], [0, 40_321], [60 * 24 * 365], list(range(11))])
async def test_reminder_offsets_out_of_range_or_too_many_are_refused(uow, actor, offsets):
    with pytest.raises(InvalidInput) as err:
        await new_task(uow, actor, reminders=offsets)
    assert err.value.field == "reminders"
    task = await new_task(uow, actor, due_at="2026-05-04T09:00", reminders=[0])
    for call in (lambda: set_reminders(uow, actor, task.id, offsets),
                 lambda: update_task(uow, actor, task.id, TaskUpdate(reminders=offsets))):
        with pytest.raises(InvalidInput) as err:
            await call()  # TaskUpdate itself refuses 11 reminders, so it is built inside the check
        assert err.value.field == "reminders"
    assert await unchanged(uow, actor, task)


async def test_the_largest_reminder_offset_is_four_weeks(uow, actor):
    task = await new_task(uow, actor, reminders=[0, 40_320])
    assert task.reminders == [0, 40_320]


@pytest.mark.parametrize("offsets", [[1.5], ["60"], [True]])
async def test_a_reminder_that_is_not_whole_minutes_is_refused(uow, actor, offsets):
    task = await new_task(uow, actor)
    with pytest.raises(InvalidInput) as err:
        await set_reminders(uow, actor, task.id, offsets)
    assert err.value.field == "reminders"


# --- accounts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["", "not-an-email", "a@b", "two@@example.com", "sp ace@example.com"])
async def test_an_invalid_email_is_refused(uow, email):
    with pytest.raises(InvalidInput) as err:
        await create_user(uow, email)
    assert err.value.field == "email"


async def test_a_short_password_is_refused(uow):
    with pytest.raises(InvalidInput) as err:
        await create_user(uow, "short-pw@example.com", "1234567")
    assert err.value.field == "password"
