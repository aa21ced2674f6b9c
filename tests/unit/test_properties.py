"""Property tests of due dates, "today", sorting and paging, on SQLite and PostgreSQL.

How hypothesis meets async fixtures here: `@given` does not drive an async test on pytest-asyncio's session loop
well, and `strategy.example()` is meant for the REPL, not tests. So each test is a plain async test that first
asks hypothesis for its examples — `drawn(strategy, n)` runs `@given` on an inner *sync* function that only
collects the values hypothesis generates (n of them, capped by the loaded profile) — and then awaits the use
cases for each collected value, naming the failing example in the assertion message. Hypothesis still chooses
the values (edge cases included); what is lost is shrinking, so keep the examples small and readable.

Dues stay before 2038: PostgreSQL stores the sort key as a 32-bit INTEGER (see test_queries / the report).
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import hypothesis.strategies as st
from hypothesis import HealthCheck, Phase, given, settings

from domain.schemas import TaskCreate, TaskQuery, TaskView
from domain.uow import UnitOfWork
from domain.usecases import Actor, complete_task, create_task, create_user, get_task, list_tasks
from tests.conftest import Clock

T = TypeVar("T")


def drawn(strategy: st.SearchStrategy[T], cap: int) -> list[T]:
    """Up to `cap` values chosen by hypothesis (fewer under a smaller profile), collected by a sync @given."""
    values: list[T] = []

    @settings(max_examples=min(cap, settings.default.max_examples), database=None, phases=[Phase.generate],
              deadline=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value: T) -> None:
        values.append(value)

    collect()
    return values


async def fresh_actor(uow: UnitOfWork, tz: str = "UTC") -> Actor:
    user = await create_user(uow, f"prop-{uuid.uuid4().hex[:12]}@example.com", timezone=tz)
    return Actor(id=user.id, timezone=tz)


# --- due dates round-trip through any IANA timezone -------------------------------------------------------

_ZONES = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z in {"UTC", "GMT", "EST", "MST"})


def _expected_wall(naive: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    """The wall time a naive local due keeps: itself, or, in a DST gap, itself moved forward by the gap."""
    before = naive.replace(tzinfo=tz, fold=0).utcoffset()
    after = naive.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None and after is not None
    gap = after - before
    return naive + gap if gap > timedelta(0) else naive


async def test_a_naive_due_reads_back_as_the_same_wall_time_in_any_timezone(uow, actor):
    examples = drawn(
        st.tuples(
            st.sampled_from(_ZONES),
            st.datetimes(min_value=datetime(1902, 1, 1), max_value=datetime(2037, 12, 31)),
            st.booleans(),
        ),
        cap=30,
    )
    for name, naive, as_text in examples:
        tz = zoneinfo.ZoneInfo(name)
        naive = naive.replace(fold=0)
        user = Actor(id=actor.id, timezone=name)
        task = await create_task(uow, user, TaskCreate(title="due", due_at=naive.isoformat() if as_text else naive))
        back = await get_task(uow, user, task.id)
        expected = _expected_wall(naive, tz)
        example = (name, naive.isoformat(), as_text)
        assert back.due_at is not None and back.due_at.tzinfo is not None, example
        assert back.due_at.replace(tzinfo=None) == expected, example
        assert back.due_at == expected.replace(tzinfo=tz), example
        assert back.due_at.utcoffset() == expected.replace(tzinfo=tz).utcoffset(), example
        assert back.due_date == expected.date() and not back.all_day, example
        assert back.due_local == expected.strftime("%Y-%m-%d %H:%M %a"), example
        assert back == task, example


async def test_a_due_with_an_offset_is_the_same_instant_for_a_user_in_any_timezone(uow, actor):
    examples = drawn(
        st.tuples(
            st.sampled_from(_ZONES),
            st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2037, 12, 31),
                         timezones=st.sampled_from([UTC, zoneinfo.ZoneInfo("Asia/Kolkata"),
                                                    zoneinfo.ZoneInfo("America/St_Johns")])),
        ),
        cap=10,
    )
    for name, aware in examples:
        user = Actor(id=actor.id, timezone=name)
        task = await create_task(uow, user, TaskCreate(title="due", due_at=aware.isoformat()))
        back = await get_task(uow, user, task.id)
        example = (name, aware.isoformat())
        # Compare in UTC: Python never finds aware datetimes of two zones equal inside a fold (PEP 495).
        assert back.due_at is not None and back.due_at.astimezone(UTC) == aware.astimezone(UTC), example
        assert back.due_at.utcoffset() == aware.astimezone(zoneinfo.ZoneInfo(name)).utcoffset(), example


# --- "due today" and overdue at the edges of the day, at UTC-12 and UTC+14 -------------------------------

_EDGE_ZONES = {"Etc/GMT+12": timedelta(hours=-12), "Pacific/Kiritimati": timedelta(hours=14)}

_moment_offsets = st.one_of(
    st.sampled_from([-86_401, -86_400, -86_399, -2, -1, 0, 1, 2, 86_399, 86_400, 86_401]),
    st.integers(-3 * 86_400, 3 * 86_400),
)
_task_specs = st.lists(
    st.tuples(
        st.one_of(st.tuples(st.just("day"), st.integers(-2, 2)), st.tuples(st.just("moment"), _moment_offsets)),
        st.booleans(),  # completed
    ),
    min_size=1,
    max_size=5,
)


def _is_today(due: date | datetime, today: date, offset: timedelta) -> bool:
    """A whole day is today when it is today's date; a moment when its local date (UTC + offset) is."""
    if isinstance(due, datetime):
        return (due + offset).date() == today
    return due == today


def _is_past(due: date | datetime, now: datetime, today: date) -> bool:
    """A moment is past once now is later; a whole day once its local day has ended."""
    return due < now if isinstance(due, datetime) else due < today


async def test_due_today_and_overdue_are_right_one_second_either_side_of_local_midnight(uow, clock: Clock):
    examples = drawn(
        st.tuples(st.sampled_from(sorted(_EDGE_ZONES)), st.dates(date(2000, 1, 2), date(2037, 12, 30)), _task_specs),
        cap=8,
    )
    for name, day, specs in examples:
        offset = _EDGE_ZONES[name]
        midnight = datetime.combine(day, time(0), UTC) - offset  # local midnight starting `day`, as UTC
        actor = await fresh_actor(uow, name)
        clock.set(midnight - timedelta(days=3))
        tasks: list[tuple[TaskView, Any, bool]] = []
        for (kind, amount), completed in specs:
            due: Any = day + timedelta(days=amount) if kind == "day" else midnight + timedelta(seconds=amount)
            task = await create_task(uow, actor, TaskCreate(title=f"{kind} {amount}", due_at=due.isoformat()))
            if completed:
                await complete_task(uow, actor, task.id)
            tasks.append((task, due, completed))
        for now in (midnight - timedelta(seconds=1), midnight + timedelta(seconds=1)):
            clock.set(now)
            today = (now + offset).date()

            example = (name, day.isoformat(), specs, now.isoformat())
            want_today = {t.id for t, due, _ in tasks if _is_today(due, today, offset)}
            want_overdue = {t.id for t, due, done in tasks if not done and _is_past(due, now, today)}
            got_today = await list_tasks(uow, actor, TaskQuery(due_today=True, limit=100))
            got_overdue = await list_tasks(uow, actor, TaskQuery(overdue=True, limit=100))
            assert {t.id for t in got_today.data} == want_today, example
            assert {t.id for t in got_overdue.data} == want_overdue, example


# --- sorting is total and stable --------------------------------------------------------------------------

_DAY0 = datetime(2026, 5, 1, tzinfo=UTC)
_random_task = st.fixed_dictionaries({
    "title": st.sampled_from(["a", "A", "b", "B", "ab", "Ab", "ä", "Ä", "z", "ß", "ss", "10", "9"]),
    "priority": st.sampled_from(["none", "low", "medium", "high", "urgent"]),
    "due": st.one_of(
        st.none(),
        st.sampled_from([0, 3600, 86_400]).map(lambda s: (_DAY0 + timedelta(seconds=s)).isoformat()),
        st.sampled_from(["2026-05-01", "2026-05-02"]),
    ),
    "minute": st.integers(0, 2),
})
_SORTS = ("due", "priority", "created", "updated", "title")


def _oracle(tasks: list[TaskView], sort: str, order: str) -> list[int]:
    """Python-side sort by (key, id), tasks without a due last in both orders."""
    key: Callable[[TaskView], Any] = {
        "due": lambda t: (datetime.combine(t.due_date, time(0), UTC) if t.all_day and t.due_date else t.due_at),
        "priority": lambda t: ["none", "low", "medium", "high", "urgent"].index(t.priority),
        "created": lambda t: t.created_at,
        "updated": lambda t: t.updated_at,
        "title": lambda t: t.title.casefold(),
    }[sort]
    keyed = sorted((t for t in tasks if key(t) is not None), key=lambda t: (key(t), t.id), reverse=order == "desc")
    rest = sorted((t for t in tasks if key(t) is None), key=lambda t: t.id, reverse=order == "desc")
    return [t.id for t in keyed + rest]


async def _create_random(uow: UnitOfWork, actor: Actor, clock: Clock, spec: dict[str, Any]) -> TaskView:
    clock.set(_DAY0 + timedelta(minutes=spec["minute"]))
    return await create_task(uow, actor, TaskCreate(title=spec["title"], priority=spec["priority"],
                                                    due_at=spec["due"]))


async def test_every_sort_is_total_and_stable_and_equals_a_python_sort_by_key_then_id(uow, clock: Clock):
    examples = drawn(
        st.tuples(st.lists(_random_task, min_size=2, max_size=7), st.sampled_from(_SORTS),
                  st.sampled_from(["asc", "desc"]), st.integers(1, 3)),
        cap=8,
    )
    for specs, paged_sort, paged_order, limit in examples:
        actor = await fresh_actor(uow)
        tasks = [await _create_random(uow, actor, clock, spec) for spec in specs]
        for sort in _SORTS:
            for order in ("asc", "desc"):
                listed = await list_tasks(uow, actor, TaskQuery(sort=sort, order=order, limit=100))
                assert [t.id for t in listed.data] == _oracle(tasks, sort, order), (specs, sort, order)
        seen: list[int] = []
        cursor = None
        while True:
            page = await list_tasks(uow, actor, TaskQuery(sort=paged_sort, order=paged_order, limit=limit,
                                                          cursor=cursor))
            seen += [t.id for t in page.data]
            if (cursor := page.next_cursor) is None:
                break
        assert seen == _oracle(tasks, paged_sort, paged_order), (specs, paged_sort, paged_order, limit)


# --- paging while tasks are added -------------------------------------------------------------------------


async def test_paging_returns_every_task_that_existed_exactly_once_while_tasks_are_added(uow, clock: Clock):
    examples = drawn(
        st.tuples(
            st.lists(_random_task, min_size=1, max_size=8),
            st.sampled_from(_SORTS),
            st.sampled_from(["asc", "desc"]),
            st.integers(1, 3),
            st.lists(st.lists(_random_task, max_size=2), min_size=1, max_size=6),
        ),
        cap=8,
    )
    for specs, sort, order, limit, additions in examples:
        actor = await fresh_actor(uow)
        existing = {(await _create_random(uow, actor, clock, spec)).id for spec in specs}
        seen: list[int] = []
        cursor = None
        pages = 0
        while True:
            page = await list_tasks(uow, actor, TaskQuery(sort=sort, order=order, limit=limit, cursor=cursor))
            seen += [t.id for t in page.data]
            if (cursor := page.next_cursor) is None:
                break
            # Tasks added while paging may sort before or after the cursor (same keys included).
            for spec in additions[pages] if pages < len(additions) else []:
                await _create_random(uow, actor, clock, spec)
            pages += 1
            assert pages < 100, "paging does not end"
        example = (specs, sort, order, limit, additions)
        assert len(seen) == len(set(seen)), example
        assert existing <= set(seen), example
