"""Queries against SQLite and PostgreSQL: every filter, sort and page of list_tasks, prefix search that answers
alike on both databases, tags with counts, undo, and the user's local "now"."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col

from domain.db import Database
from domain.errors import Conflict, NothingToUndo, TagNotFound, TaskNotFound
from domain.models import OutboxEvent, Task
from domain.schemas import RecurrenceSpec, TaskPage, TaskQuery, TaskUpdate, TaskView
from domain.uow import UnitOfWork
from domain.usecases import (
    Actor,
    add_tags,
    bulk_complete,
    bulk_set_priority,
    complete_task,
    delete_tag,
    delete_task,
    get_task,
    list_tags,
    list_tasks,
    rename_tag,
    search_tasks,
    set_due_date,
    set_priority,
    set_timezone,
    undo_last_change,
    update_task,
    whats_now,
)
from tests.conftest import Clock, new_actor, new_task

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def ids(page: TaskPage) -> list[int]:
    return [t.id for t in page.data]


async def found(uow: UnitOfWork, actor: Actor, **query: Any) -> set[int]:
    page = await list_tasks(uow, actor, TaskQuery(limit=100, **query))
    assert page.count == len(page.data)
    return set(ids(page))


async def every_page(uow: UnitOfWork, actor: Actor, query: TaskQuery) -> tuple[list[int], list[int]]:
    """All ids in order, following next_cursor; and the count reported by each page."""
    seen: list[int] = []
    counts: list[int] = []
    cursor = None
    while True:
        page = await list_tasks(uow, actor, query.model_copy(update={"cursor": cursor}))
        seen += ids(page)
        counts.append(page.count)
        cursor = page.next_cursor
        if cursor is None:
            return seen, counts


# --- filters ---------------------------------------------------------------------------------------------


async def test_status_filters_select_open_completed_or_the_trash(uow, actor):
    open_ = await new_task(uow, actor, "open")
    done = await new_task(uow, actor, "done")
    await complete_task(uow, actor, done.id)
    trashed = await new_task(uow, actor, "trashed")
    await delete_task(uow, actor, trashed.id)
    trashed_done = await new_task(uow, actor, "trashed done")
    await complete_task(uow, actor, trashed_done.id)
    await delete_task(uow, actor, trashed_done.id)
    assert await found(uow, actor) == {open_.id, done.id}
    assert await found(uow, actor, status=[]) == {open_.id, done.id}
    assert await found(uow, actor, status=["open"]) == {open_.id}
    assert await found(uow, actor, status=["completed"]) == {done.id}
    assert await found(uow, actor, status=["deleted"]) == {trashed.id, trashed_done.id}
    assert await found(uow, actor, status=["open", "deleted"]) == {open_.id, trashed.id, trashed_done.id}
    assert await found(uow, actor, status=["open", "completed", "deleted"]) == {
        open_.id, done.id, trashed.id, trashed_done.id}


async def test_priority_filter_takes_several_priorities_in_any_case(uow, actor):
    by = {p: (await new_task(uow, actor, p, priority=p)).id for p in ("none", "low", "medium", "high", "urgent")}
    assert await found(uow, actor, priority=["HIGH", "urgent"]) == {by["high"], by["urgent"]}
    assert await found(uow, actor, priority=["none"]) == {by["none"]}
    assert await found(uow, actor, priority=[]) == set(by.values())


async def test_tag_filter_matches_any_or_all_of_the_tags(uow, actor, other):
    a = await new_task(uow, actor, "a", tags=["home"])
    ab = await new_task(uow, actor, "ab", tags=["home", "errand"])
    b = await new_task(uow, actor, "b", tags=["errand", "later"])
    await new_task(uow, actor, "none")
    await new_task(uow, other, "theirs", tags=["home", "errand"])
    assert await found(uow, actor, tag=["Home"]) == {a.id, ab.id}
    assert await found(uow, actor, tag=["home", "errand"]) == {a.id, ab.id, b.id}
    assert await found(uow, actor, tag=["home", "errand"], tag_mode="all") == {ab.id}
    assert await found(uow, actor, tag=["home", "HOME"], tag_mode="all") == {a.id, ab.id}
    assert await found(uow, actor, tag=["nowhere"]) == set()
    assert await found(uow, actor, tag=["home", "nowhere"]) == {a.id, ab.id}  # any: the known one counts
    assert await found(uow, actor, tag=["home", "nowhere"], tag_mode="all") == set()  # all: one nobody carries
    assert await found(uow, other, tag=["later"]) == set()  # "later" is this user's tag, not theirs


async def test_due_before_and_after_with_moments_are_strict_bounds(uow, actor):
    early = await new_task(uow, actor, "early", due_at="2026-05-01T08:00:00Z")
    edge = await new_task(uow, actor, "edge", due_at="2026-05-01T09:00:00Z")
    late = await new_task(uow, actor, "late", due_at="2026-05-01T10:00:00Z")
    await new_task(uow, actor, "no due")
    bound = "2026-05-01T11:00:00+02:00"  # 09:00Z
    assert await found(uow, actor, due_before=bound) == {early.id}
    assert await found(uow, actor, due_after=bound) == {late.id}
    assert await found(uow, actor, due_after=datetime(2026, 5, 1, 7, 59, tzinfo=UTC),
                       due_before=datetime(2026, 5, 1, 9, 1, tzinfo=UTC)) == {early.id, edge.id}


async def test_due_before_and_after_a_date_mean_whole_days_in_the_users_timezone(uow):
    actor = await new_actor(uow, "Asia/Tokyo")
    day_before = await new_task(uow, actor, "all day 30th", due_at="2026-04-30")
    last_second = await new_task(uow, actor, "23:59:59 on the 30th", due_at="2026-04-30T23:59:59")
    first_second = await new_task(uow, actor, "00:00 on the 1st", due_at="2026-05-01T00:00")
    all_day = await new_task(uow, actor, "all day 1st", due_at="2026-05-01")
    night = await new_task(uow, actor, "23:59 on the 1st", due_at="2026-05-01T23:59")
    next_day = await new_task(uow, actor, "00:00 on the 2nd", due_at="2026-05-02T00:00")
    next_all_day = await new_task(uow, actor, "all day 2nd", due_at="2026-05-02")
    await new_task(uow, actor, "no due")
    assert await found(uow, actor, due_before="2026-05-01") == {day_before.id, last_second.id}
    assert await found(uow, actor, due_after="2026-05-01") == {next_day.id, next_all_day.id}
    assert await found(uow, actor, due_after="2026-04-30", due_before="2026-05-02") == {
        first_second.id, all_day.id, night.id}


async def test_a_date_object_means_a_whole_day_in_queries_and_new_tasks_too(uow):
    actor = await new_actor(uow, "Asia/Tokyo")
    night = await new_task(uow, actor, "23:59 on the 1st", due_at="2026-05-01T23:59")
    all_day = await new_task(uow, actor, "all day 2nd", due_at=date(2026, 5, 2))
    assert all_day.all_day and all_day.due_at is None
    assert await found(uow, actor, due_after=date(2026, 5, 1)) == {all_day.id}
    assert await found(uow, actor, due_before=date(2026, 5, 2)) == {night.id}


async def test_overdue_means_open_and_past_its_moment_or_past_its_whole_day(uow, clock: Clock):
    actor = await new_actor(uow, "America/Los_Angeles")
    clock.set(datetime(2026, 5, 1, 19, 0, tzinfo=UTC))  # 12:00 local on May 1st
    past = await new_task(uow, actor, "past moment", due_at="2026-05-01T11:59")
    yesterday = await new_task(uow, actor, "all day yesterday", due_at="2026-04-30")
    today = await new_task(uow, actor, "all day today", due_at="2026-05-01")
    soon = await new_task(uow, actor, "later today", due_at="2026-05-01T12:01")
    done = await new_task(uow, actor, "completed past", due_at="2026-04-01")
    await complete_task(uow, actor, done.id)
    none = await new_task(uow, actor, "no due")
    assert await found(uow, actor, overdue=True) == {past.id, yesterday.id}
    assert await found(uow, actor, overdue=False) == {today.id, soon.id, done.id, none.id}
    clock.set(datetime(2026, 5, 2, 7, 0, 1, tzinfo=UTC))  # 00:00:01 local on May 2nd
    assert await found(uow, actor, overdue=True) == {past.id, yesterday.id, today.id, soon.id}


async def test_due_today_means_today_in_the_users_timezone(uow, clock: Clock):
    actor = await new_actor(uow, "Australia/Sydney")
    clock.set(datetime(2026, 5, 1, 14, 30, tzinfo=UTC))  # 00:30 local on May 2nd
    start = await new_task(uow, actor, "00:00 local", due_at="2026-05-02T00:00")
    end = await new_task(uow, actor, "23:59:59 local", due_at="2026-05-02T23:59:59")
    all_day = await new_task(uow, actor, "all day", due_at="2026-05-02")
    done = await new_task(uow, actor, "done today", due_at="2026-05-02T08:00")
    await complete_task(uow, actor, done.id)
    utc_today = await new_task(uow, actor, "May 1st all day", due_at="2026-05-01")
    tomorrow = await new_task(uow, actor, "00:00 tomorrow", due_at="2026-05-03T00:00")
    assert await found(uow, actor, due_today=True) == {start.id, end.id, all_day.id, done.id}
    assert await found(uow, actor, due_today=True, status=["open"]) == {start.id, end.id, all_day.id}
    assert await found(uow, actor, due_today=False, has_due=True) == {utc_today.id, tomorrow.id}


async def test_not_due_today_includes_tasks_without_a_due_date(uow, clock: Clock):
    actor = await new_actor(uow)
    clock.set(T0)
    await new_task(uow, actor, "today", due_at=T0.date())
    later = await new_task(uow, actor, "later", due_at="2027-01-01")
    none = await new_task(uow, actor, "no due")
    assert await found(uow, actor, due_today=False) == {later.id, none.id}


async def test_has_due_separates_tasks_with_and_without_a_due_date(uow, actor):
    moment = await new_task(uow, actor, due_at="2026-05-01T08:00")
    day = await new_task(uow, actor, due_at="2026-05-01")
    none = await new_task(uow, actor)
    assert await found(uow, actor, has_due=True) == {moment.id, day.id}
    assert await found(uow, actor, has_due=False) == {none.id}


async def test_after_a_timezone_change_all_day_tasks_keep_their_local_day_in_sorts_and_filters(uow, clock: Clock):
    actor = await new_actor(uow)
    clock.set(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    moment = await new_task(uow, actor, "moment", due_at="2026-05-01T20:00:00Z")
    day = await new_task(uow, actor, "all day", due_at="2026-05-02")
    assert ids(await list_tasks(uow, actor)) == [moment.id, day.id]
    await set_timezone(uow, actor, "Pacific/Kiritimati")
    moved = Actor(id=actor.id, timezone="Pacific/Kiritimati")  # 12:00Z is May 2nd, 02:00 there
    assert ids(await list_tasks(uow, moved)) == [day.id, moment.id]
    assert await found(uow, moved, due_today=True) == {day.id, moment.id}
    assert await found(uow, moved, due_before="2026-05-02") == set()
    assert await found(uow, moved, due_after="2026-05-01") == {day.id, moment.id}


async def test_filters_combine_and_count_is_the_total_matching(uow, actor):
    for i in range(7):
        await new_task(uow, actor, f"report {i}", priority="high" if i % 2 else "low", tags=["work"] if i < 5 else [])
    await new_task(uow, actor, "something else", priority="high", tags=["work"])
    page = await list_tasks(uow, actor, TaskQuery(q="rep", priority=["high"], tag=["work"], limit=1))
    assert page.count == 2 and len(page.data) == 1 and page.next_cursor is not None


async def test_the_count_stops_at_the_cap_and_says_so(uow, actor, monkeypatch: pytest.MonkeyPatch):
    """Counting stops past COUNT_CAP matches (so a huge result costs no more to count than a small one): the page
    says the count is a lower bound; at or under the cap the count is exact, on the first page and on later ones."""
    monkeypatch.setattr("domain.usecases.queries.COUNT_CAP", 5)
    for i in range(7):
        await new_task(uow, actor, f"capped {i}", tags=["work"] if i < 5 else [])
    page = await list_tasks(uow, actor, TaskQuery(limit=2))
    assert (page.count, page.count_exact, len(page.data)) == (5, False, 2)
    later = await list_tasks(uow, actor, TaskQuery(limit=2, cursor=page.next_cursor))
    assert (later.count, later.count_exact) == (5, False)
    tagged = await list_tasks(uow, actor, TaskQuery(tag=["work"], limit=2))
    assert (tagged.count, tagged.count_exact) == (5, True)
    small = await list_tasks(uow, actor, TaskQuery(tag=["work"], limit=10))
    assert (small.count, small.count_exact, len(small.data)) == (5, True, 5)


async def test_a_users_list_never_shows_another_users_tasks(uow, actor, other):
    mine = await new_task(uow, actor, "mine")
    await new_task(uow, other, "theirs")
    page = await list_tasks(uow, actor, TaskQuery(status=["open", "completed", "deleted"]))
    assert ids(page) == [mine.id] and page.count == 1


# --- sorting -------------------------------------------------------------------------------------------


async def _sort_corpus(uow: UnitOfWork, actor: Actor, clock: Clock) -> list[TaskView]:
    """Tasks with ties on every key, created and updated at chosen times."""
    rows = [
        ("banana", "high", "2026-05-02T09:00:00Z"),
        ("Apple", "low", None),
        ("cherry", "high", "2026-05-01"),
        ("apple", "urgent", "2026-05-02T09:00:00Z"),
        ("Banana", "none", None),
        ("date", "low", "2026-05-01T00:00:00Z"),
        ("Ärger", "medium", "2026-04-30T23:00:00Z"),
    ]
    tasks = []
    for i, (title, priority, due) in enumerate(rows):
        clock.set(T0 + timedelta(minutes=i % 3))
        tasks.append(await new_task(uow, actor, title, priority=priority, due_at=due))
    clock.set(T0 + timedelta(hours=1))
    for t in tasks[::2]:
        tasks[tasks.index(t)] = await update_task(uow, actor, t.id, TaskUpdate(description="touched"))
    return tasks


def _expected(tasks: list[TaskView], sort: str, order: str) -> list[int]:
    """A Python-side sort by (key, id), tasks without a due last in both orders."""
    def key(t: TaskView) -> Any:
        if sort == "due":
            if t.all_day:
                assert t.due_date is not None
                return datetime.combine(t.due_date, datetime.min.time(), UTC)
            return t.due_at
        return {"priority": ["none", "low", "medium", "high", "urgent"].index(t.priority),
                "created": t.created_at, "updated": t.updated_at, "title": t.title.casefold()}[sort]

    with_key = sorted((t for t in tasks if key(t) is not None), key=lambda t: (key(t), t.id),
                      reverse=order == "desc")
    without = sorted((t for t in tasks if key(t) is None), key=lambda t: t.id, reverse=order == "desc")
    return [t.id for t in with_key + without]


_SORTS = ("due", "priority", "created", "updated", "title")


async def test_every_sort_key_in_both_orders_breaks_ties_by_id(uow, actor, clock: Clock):
    tasks = await _sort_corpus(uow, actor, clock)
    for sort in _SORTS:
        for order in ("asc", "desc"):
            expected = _expected(tasks, sort, order)
            listed = ids(await list_tasks(uow, actor, TaskQuery(sort=sort, order=order)))
            assert listed == expected, (sort, order)
            paged, _ = await every_page(uow, actor, TaskQuery(sort=sort, order=order, limit=2))
            assert paged == expected, (sort, order, "paged")


async def test_tasks_without_a_due_date_come_last_in_both_orders(uow, actor):
    none = await new_task(uow, actor, "none")
    a = await new_task(uow, actor, "a", due_at="2026-05-01")
    b = await new_task(uow, actor, "b", due_at="2026-06-01T10:00")
    assert ids(await list_tasks(uow, actor, TaskQuery(sort="due", order="asc"))) == [a.id, b.id, none.id]
    assert ids(await list_tasks(uow, actor, TaskQuery(sort="due", order="desc"))) == [b.id, a.id, none.id]


async def test_each_sort_has_a_sensible_default_order(uow, actor, clock: Clock):
    tasks = await _sort_corpus(uow, actor, clock)
    defaults = {"due": "asc", "priority": "desc", "created": "desc", "updated": "desc", "title": "asc"}
    for sort, default in defaults.items():
        assert ids(await list_tasks(uow, actor, TaskQuery(sort=sort))) == _expected(tasks, sort, default), sort


async def test_the_default_sort_is_by_due_date(uow, actor):
    late = await new_task(uow, actor, "late", due_at="2026-06-01")
    early = await new_task(uow, actor, "early", due_at="2026-05-01")
    assert ids(await list_tasks(uow, actor)) == [early.id, late.id]


# --- paging --------------------------------------------------------------------------------------------


async def test_cursor_paging_visits_every_task_once_and_count_is_the_total(uow, actor, clock: Clock):
    clock.set(T0)
    made = []
    for i in range(13):
        clock.advance(minutes=i % 2)
        made.append(await new_task(uow, actor, f"task {i % 4}", priority=["low", "high"][i % 2],
                               due_at=None if i % 5 == 0 else f"2026-05-0{1 + i % 3}"))
    for sort in _SORTS:
        for order in ("asc", "desc"):
            seen, counts = await every_page(uow, actor, TaskQuery(sort=sort, order=order, limit=4))
            assert sorted(seen) == sorted(t.id for t in made), (sort, order)
            assert counts == [13] * 4, (sort, order)


async def test_the_default_page_is_20_and_a_page_holds_at_most_100(uow, actor):
    for i in range(101):
        await new_task(uow, actor, f"task {i:03}")
    first = await list_tasks(uow, actor)
    assert len(first.data) == 20 and first.count == 101 and first.next_cursor is not None
    full = await list_tasks(uow, actor, TaskQuery(limit=100, sort="title"))
    assert len(full.data) == 100 and full.next_cursor is not None
    rest = await list_tasks(uow, actor, TaskQuery(limit=100, sort="title", cursor=full.next_cursor))
    assert [t.title for t in rest.data] == ["task 100"] and rest.next_cursor is None


async def test_the_last_page_has_no_cursor_even_when_it_is_exactly_full(uow, actor):
    for i in range(4):
        await new_task(uow, actor, f"t{i}")
    page = await list_tasks(uow, actor, TaskQuery(limit=2, sort="title"))
    last = await list_tasks(uow, actor, TaskQuery(limit=2, sort="title", cursor=page.next_cursor))
    assert [t.title for t in last.data] == ["t2", "t3"] and last.next_cursor is None


async def test_an_empty_list_has_no_cursor_and_count_zero(uow, actor):
    page = await list_tasks(uow, actor)
    assert page.data == [] and page.count == 0 and page.next_cursor is None


# --- search --------------------------------------------------------------------------------------------



_PREFIX_CASES = [
    ("milk", True), ("MILK", True), ("mil", True), ("oat mi", True), ("corner buy", True),
    ("Shop, BEFORE", True), ("6pm", True), ("6", True), ("b", True),
    ("ilk", False), ("milkshake", False), ("oat bread", False), ("corners", False), ("pm", False),
]


async def test_every_word_must_be_a_case_insensitive_prefix_in_title_or_description(uow, actor):
    task = await new_task(uow, actor, "Buy oat milk", description="from the corner shop, before 6pm")
    await new_task(uow, actor, "Unrelated", description="nothing here")
    for q, hit in _PREFIX_CASES:
        assert ids(await search_tasks(uow, actor, q)) == ([task.id] if hit else []), q
        assert await found(uow, actor, q=q) == ({task.id} if hit else set()), q


_TEXT_CASES = [
    ("Café crème", "café", True),
    ("Café crème", "CAFÉ CRÈ", True),
    ("Café crème", "cafe", False),  # diacritics are significant, alike on both databases
    ("Cafe\u0301 au lait", "café", True),  # typed decomposed (e + U+0301), searched composed
    ("Café au lait", "cafe\u0301", True),
    ("Straße fegen", "strasse", True),
    ("STRASSE fegen", "straße", True),
    ("Ελληνικά μαθήματα", "ΕΛΛ", True),
    ("東京タワー visit", "東京", True),
    ("x² formula", "x²", True),
    ("xylophone", "x²", False),
    ("ＦＵＬＬ width", "full", True),
    ("don't forget", "don't", True),
    ("don't forget", "dont", False),
    ("e-mail Bob", "mail", True),
    ("e-mail Bob", "email", False),
    ("snake_case name", "case", True),
    ("bob@example.com", "example com", True),
    ("see https://docs.example.org/a?b=c", "docs org", True),
    ("C++ & C# (again)!", "c again", True),
    ('say "hi" * AND OR NOT', "hi and or not", True),
    ("NEAR(x y) col:umn", "near col", True),
    ("100% done", "100", True),
]


async def test_search_handles_diacritics_scripts_and_punctuation(uow, actor):
    by_title = {title: (await new_task(uow, actor, title)).id for title in dict.fromkeys(t for t, _, _ in _TEXT_CASES)}
    for title, q, hit in _TEXT_CASES:
        assert (by_title[title] in ids(await search_tasks(uow, actor, q))) is hit, (title, q)


async def test_search_text_with_query_syntax_characters_is_taken_literally(uow, actor):
    task = await new_task(uow, actor, "and or not near a b c")
    for q in ['"', "'", "*", "a*", "AND", "OR NOT", "(", ":*", "\\", "a & b | !c", "NEAR(", "c:*", "-a"]:
        page = await list_tasks(uow, actor, TaskQuery(q=q))
        assert ids(page) == [task.id], q


async def test_search_follows_title_and_description_changes(uow, actor):
    task = await new_task(uow, actor, "Call plumber")
    await update_task(uow, actor, task.id, TaskUpdate(title="Call electrician", description="fuse box"))
    assert ids(await search_tasks(uow, actor, "plumb")) == []
    assert ids(await search_tasks(uow, actor, "electr fuse")) == [task.id]


async def test_search_leaves_out_the_trash_and_other_users_unless_asked(uow, actor, other):
    kept = await new_task(uow, actor, "milk run")
    trashed = await new_task(uow, actor, "milk shake")
    await delete_task(uow, actor, trashed.id)
    await new_task(uow, other, "milk for them")
    assert ids(await search_tasks(uow, actor, "milk")) == [kept.id]
    assert ids(await search_tasks(uow, actor, "milk", status=["deleted"])) == [trashed.id]


async def test_search_lists_the_most_recently_updated_first_and_pages(uow, actor, clock: Clock):
    clock.set(T0)
    made = []
    for i in range(5):
        clock.advance(minutes=1)
        made.append(await new_task(uow, actor, f"milk {i}"))
    clock.advance(minutes=1)
    await set_priority(uow, actor, made[1].id, "high")
    first = await search_tasks(uow, actor, "milk", limit=3)
    assert ids(first) == [made[1].id, made[4].id, made[3].id] and first.count == 5
    rest = await search_tasks(uow, actor, "milk", limit=3, cursor=first.next_cursor)
    assert ids(rest) == [made[2].id, made[0].id] and rest.next_cursor is None


_CORPUS = [
    ("Buy oat milk", "corner shop"), ("Milkshake machine", ""), ("Café crème", "für Zoë"),
    ("Cafe\u0301 au lait", ""), ("Straße fegen", "Hausordnung"), ("x² formula", "maths"),
    ("xylophone lesson", "music"), ("Ελληνικά", "μάθημα"), ("東京タワー", "trip"), ("e-mail Bob", "re: invoice"),
    ("don't forget", "the keys"), ("snake_case", "python"), ("ＦＵＬＬ width", ""), ("naïve Bayes", "ML"),
    ("İstanbul flight", "TK"), ("Œuvre complète", ""), ("1e5 requests", "load test"), ("v2.0 release", "notes"),
    ("100% done", ""), ("Ünïcödé", "test"), ("hindi: हिन्दी पाठ", ""), ("O'Brien call", "re contract"),
]
_QUERIES = [
    "milk", "mil", "MILK", "oat milk", "shop", "café", "cafe", "für", "zoe", "zoë", "strasse", "straß",
    "x²", "x", "x2", "ελλ", "東京", "mail", "email", "don't", "dont", "snake", "case", "full", "naive", "naïve",
    "istanbul", "i̇stanbul", "œuv", "oeuv", "1e", "1e5", "v2", "2.0", "100", "ünï", "हिन्दी", "o'brien",
    "brien", "re", "re contract", "t", "test", "notes release",
]


def _oracle(title: str, description: str, q: str) -> bool:
    """Every word of q is a prefix of a word of the task, after case folding and Unicode NFKC."""
    def fold(text: str) -> list[str]:
        return re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold()))

    text_words = fold(f"{title} {description}")
    return all(any(w.startswith(term) for w in text_words) for term in fold(q))


async def _search_results(url: str, clock: Clock) -> dict[str, list[str]]:
    db = Database(url)
    try:
        uow = UnitOfWork(db, clock)
        actor = await new_actor(uow)
        for title, description in _CORPUS:
            await new_task(uow, actor, title, description=description)
        out = {}
        for q in _QUERIES:
            page = await list_tasks(uow, actor, TaskQuery(q=q, limit=100))
            out[q] = sorted(t.title for t in page.data)
        return out
    finally:
        await db.dispose()


async def test_search_answers_alike_on_sqlite_and_postgresql(sqlite_db_url, postgres_url, clock: Clock):
    on_sqlite = await _search_results(sqlite_db_url, clock)
    on_postgres = await _search_results(postgres_url, clock)
    differ = {q: (on_sqlite[q], on_postgres[q]) for q in _QUERIES if on_sqlite[q] != on_postgres[q]}
    assert differ == {}
    expected = {q: sorted(t for t, d in _CORPUS if _oracle(t, d, q)) for q in _QUERIES}
    assert on_sqlite == expected


# --- tags ----------------------------------------------------------------------------------------------


async def test_tags_are_listed_with_counts_of_tasks_not_in_the_trash_most_used_first(uow, actor, other):
    await new_task(uow, actor, "a", tags=["home", "work"])
    await new_task(uow, actor, "b", tags=["home"])
    done = await new_task(uow, actor, "c", tags=["home", "errand"])
    await complete_task(uow, actor, done.id)
    trashed = await new_task(uow, actor, "d", tags=["work", "gone"])
    await delete_task(uow, actor, trashed.id)
    await new_task(uow, other, "theirs", tags=["home", "secret"])
    listed = [(t.name, t.count) for t in await list_tags(uow, actor)]
    assert listed == [("home", 3), ("errand", 1), ("work", 1), ("gone", 0)]


async def test_renaming_a_tag_renames_it_on_every_task(uow, actor, clock: Clock):
    a = await new_task(uow, actor, "a", tags=["hom", "x"])
    b = await new_task(uow, actor, "b", tags=["hom"])
    trashed = await new_task(uow, actor, "c", tags=["hom"])
    await delete_task(uow, actor, trashed.id)
    renamed = await rename_tag(uow, actor, "HOM", " Home ")
    assert (renamed.name, renamed.count) == ("home", 2)
    assert (await get_task(uow, actor, a.id)).tags == ["home", "x"]
    assert (await get_task(uow, actor, b.id)).tags == ["home"]
    assert [t.name for t in await list_tags(uow, actor)] == ["home", "x"]
    trash = await list_tasks(uow, actor, TaskQuery(status=["deleted"]))
    assert trash.data[0].tags == ["home"]
    assert await found(uow, actor, tag=["hom"]) == set()


async def test_renaming_onto_an_existing_tag_merges_the_two(uow, actor):
    both = await new_task(uow, actor, "both", tags=["house", "home"])
    old = await new_task(uow, actor, "old", tags=["house"])
    new = await new_task(uow, actor, "new", tags=["home"])
    merged = await rename_tag(uow, actor, "house", "home")
    assert (merged.name, merged.count) == ("home", 3)
    for task in (both, old, new):
        assert (await get_task(uow, actor, task.id)).tags == ["home"]
    assert [(t.name, t.count) for t in await list_tags(uow, actor)] == [("home", 3)]


async def test_renaming_a_tag_to_its_own_name_changes_nothing(uow, actor):
    task = await new_task(uow, actor, "a", tags=["home"])
    assert (await rename_tag(uow, actor, "home", "HOME")).count == 1
    assert (await get_task(uow, actor, task.id)).version == 1


async def test_deleting_a_tag_removes_it_from_every_task_and_says_how_many(uow, actor):
    a = await new_task(uow, actor, "a", tags=["later", "x"])
    b = await new_task(uow, actor, "b", tags=["later"])
    assert await delete_tag(uow, actor, "Later") == 2
    assert (await get_task(uow, actor, a.id)).tags == ["x"]
    assert (await get_task(uow, actor, b.id)).tags == []
    assert [t.name for t in await list_tags(uow, actor)] == ["x"]
    with pytest.raises(TagNotFound):
        await delete_tag(uow, actor, "later")


async def test_renaming_or_deleting_a_tag_never_touches_another_users_tags(uow, actor, other):
    await new_task(uow, actor, "mine", tags=["home"])
    theirs = await new_task(uow, other, "theirs", tags=["home", "work"])
    await rename_tag(uow, actor, "home", "house")
    assert await delete_tag(uow, actor, "house") == 1
    with pytest.raises(TagNotFound):
        await delete_tag(uow, actor, "work")
    assert await get_task(uow, other, theirs.id) == theirs
    assert [(t.name, t.count) for t in await list_tags(uow, other)] == [("home", 1), ("work", 1)]


# --- undo ----------------------------------------------------------------------------------------------


async def test_undo_reverts_the_latest_update_of_every_field_it_changed(uow, actor):
    task = await new_task(uow, actor, "Old", description="d", priority="low", tags=["a"], due_at="2026-05-01T09:00",
                      reminders=[5])
    await update_task(uow, actor, task.id, TaskUpdate(
        title="New", description="", priority="high", tags=["b", "c"], due_at="2026-06-01", reminders=[0, 60],
        recurrence=RecurrenceSpec(rule="weekly")))
    result = await undo_last_change(uow, actor)
    restored = await get_task(uow, actor, task.id)
    assert result.tasks == [restored]
    assert restored.version == 3
    assert restored.model_dump(exclude={"version", "updated_at", "series_id"}) == task.model_dump(
        exclude={"version", "updated_at", "series_id"})
    assert str(task.id) in result.undone


async def test_undo_of_a_creation_moves_the_task_to_the_trash(uow, actor):
    task = await new_task(uow, actor)
    await undo_last_change(uow, actor)
    with pytest.raises(TaskNotFound):
        await get_task(uow, actor, task.id)
    assert await found(uow, actor, status=["deleted"]) == {task.id}


async def test_undo_of_a_completion_reopens_and_undo_of_a_delete_restores(uow, actor):
    task = await new_task(uow, actor)
    await complete_task(uow, actor, task.id)
    reopened = (await undo_last_change(uow, actor)).tasks[0]
    assert reopened.status == "open" and reopened.completed_at is None
    await delete_task(uow, actor, task.id)
    restored = (await undo_last_change(uow, actor)).tasks[0]
    assert restored.deleted_at is None
    assert await get_task(uow, actor, task.id) == restored


async def test_undo_of_a_due_date_change_restores_a_moment_in_the_users_timezone(uow):
    actor = await new_actor(uow, "Europe/Berlin")
    task = await new_task(uow, actor, due_at="2026-03-29T09:00")
    await set_due_date(uow, actor, task.id, "2026-04-02")
    restored = (await undo_last_change(uow, actor)).tasks[0]
    assert restored.due_at == task.due_at and not restored.all_day and restored.due_local == task.due_local


async def test_a_bulk_request_is_undone_as_a_whole(uow, actor):
    tasks = [await new_task(uow, actor, f"t{i}") for i in range(3)]
    await bulk_complete(uow, actor, [t.id for t in tasks])
    result = await undo_last_change(uow, actor)
    assert sorted(t.id for t in result.tasks) == sorted(t.id for t in tasks)
    assert [(await get_task(uow, actor, t.id)).status for t in tasks] == ["open"] * 3


async def test_undoing_twice_goes_further_back(uow, actor):
    a = await new_task(uow, actor, "a")
    b = await new_task(uow, actor, "b")
    await set_priority(uow, actor, a.id, "high")
    await bulk_set_priority(uow, actor, [a.id, b.id], "urgent")
    await undo_last_change(uow, actor)
    assert [(await get_task(uow, actor, t.id)).priority for t in (a, b)] == ["high", "none"]
    await undo_last_change(uow, actor)
    assert [(await get_task(uow, actor, t.id)).priority for t in (a, b)] == ["none", "none"]
    await undo_last_change(uow, actor)
    with pytest.raises(TaskNotFound):
        await get_task(uow, actor, b.id)
    assert (await get_task(uow, actor, a.id)).priority == "none"


async def test_undoing_twice_on_one_task_goes_back_two_changes(uow, actor):
    task = await new_task(uow, actor, "v1")
    await update_task(uow, actor, task.id, TaskUpdate(title="v2"))
    await add_tags(uow, actor, task.id, ["x"])
    await undo_last_change(uow, actor)
    assert (await get_task(uow, actor, task.id)).tags == []
    await undo_last_change(uow, actor)
    back = await get_task(uow, actor, task.id)
    assert back.title == "v1" and back.tags == []


async def test_undo_is_refused_when_the_task_changed_since(uow, actor):
    task = await new_task(uow, actor, "v1")
    await update_task(uow, actor, task.id, TaskUpdate(title="v2"))
    # Another writer changes the task between undo's reading of the log and its lock (or the log of that
    # change was pruned): the undo must not overwrite a change it does not know about.
    async with uow.write() as tx:
        await tx.session.exec(sa.update(Task).where(col(Task.id) == task.id).values(title="v3", version=3))
    with pytest.raises(Conflict) as err:
        await undo_last_change(uow, actor)
    assert err.value.field == "version"
    assert (await get_task(uow, actor, task.id)).title == "v3"


async def test_there_is_nothing_to_undo_for_a_new_user_or_once_everything_is_undone(uow, actor, other):
    with pytest.raises(NothingToUndo):
        await undo_last_change(uow, actor)
    await new_task(uow, other, "theirs")
    with pytest.raises(NothingToUndo):
        await undo_last_change(uow, actor)
    await new_task(uow, actor, "mine")
    await undo_last_change(uow, actor)
    with pytest.raises(NothingToUndo):
        await undo_last_change(uow, actor)


async def test_undo_never_reverts_another_users_change(uow, actor, other):
    mine = await new_task(uow, actor, "mine")
    theirs = await new_task(uow, other, "theirs")
    await set_priority(uow, actor, mine.id, "high")
    await set_priority(uow, other, theirs.id, "low")
    await undo_last_change(uow, actor)
    assert (await get_task(uow, actor, mine.id)).priority == "none"
    assert (await get_task(uow, other, theirs.id)).priority == "low"


async def test_undo_writes_its_change_as_events_that_are_not_themselves_undoable(uow, actor):
    task = await new_task(uow, actor)
    await complete_task(uow, actor, task.id)
    await undo_last_change(uow, actor)
    async with uow.read() as tx:
        rows = (await tx.session.exec(sa.select(OutboxEvent.type, OutboxEvent.undoable)
                                      .where(OutboxEvent.user_id == actor.id).order_by(OutboxEvent.seq))).all()
    assert [(r[0].rsplit(".", 1)[1], r[1]) for r in rows] == [
        ("created", True), ("completed", False), ("reopened", False)]


# --- the user's local now ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "local", "weekday"),
    [
        ("Pacific/Kiritimati", datetime(2026, 1, 1, 0, 30), "Thursday"),
        ("Etc/GMT+12", datetime(2025, 12, 30, 22, 30), "Tuesday"),
        ("UTC", datetime(2025, 12, 31, 10, 30), "Wednesday"),
    ],
)
async def test_now_is_the_users_local_date_and_time(uow, clock: Clock, tz, local, weekday):
    actor = await new_actor(uow, tz)
    clock.set(datetime(2025, 12, 31, 10, 30, tzinfo=UTC))
    now = await whats_now(uow, actor)
    assert now.timezone == tz
    assert now.utc == datetime(2025, 12, 31, 10, 30, tzinfo=UTC)
    assert now.local.replace(tzinfo=None) == local and now.local == now.utc
    assert now.local_date == local.date() and now.local_time == local.strftime("%H:%M")
    assert now.weekday == weekday


async def test_kiritimati_and_gmt_minus_12_are_two_calendar_days_apart(uow, clock: Clock):
    east = await new_actor(uow, "Pacific/Kiritimati")
    west = await new_actor(uow, "Etc/GMT+12")
    clock.set(datetime(2026, 6, 1, 11, 0, tzinfo=UTC))
    a, b = await whats_now(uow, east), await whats_now(uow, west)
    assert (a.local_date - b.local_date).days == 2 and a.local_time == "01:00" and b.local_time == "23:00"


async def test_each_user_sees_their_own_today(uow, clock: Clock):
    east = await new_actor(uow, "Pacific/Kiritimati")
    west = await new_actor(uow, "Etc/GMT+12")
    clock.set(datetime(2026, 6, 1, 11, 0, tzinfo=UTC))  # June 2nd in Kiritimati, May 31st at UTC-12
    e = await new_task(uow, east, "east", due_at="2026-06-02")
    w = await new_task(uow, west, "west", due_at="2026-05-31")
    assert await found(uow, east, due_today=True) == {e.id}
    assert await found(uow, west, due_today=True) == {w.id}
