"""Quick add: the grammar (domain.quick_add) and the use cases that create or preview a task from one line.
"Now" is Thursday 2026-12-03 10:30 in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.errors import IdempotencyConflict, InvalidInput
from domain.quick_add import QuickAdd, parse_quick
from domain.timeutil import Due
from domain.uow import UnitOfWork
from domain.usecases import Actor, get_task, list_tasks, preview_quick_add, quick_add
from domain.values import Priority
from tests.conftest import Clock, new_actor

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN)
TOMORROW_9 = Due(at=datetime(2026, 12, 4, 8, 0, tzinfo=UTC))  # 09:00 in Berlin


def read(text: str) -> QuickAdd:
    return parse_quick(text, BERLIN, NOW)


def chips(text: str) -> list[tuple[str, str, str]]:
    return [(c.kind, c.text, c.value) for c in read(text).chips]


def refusal(text: str) -> str:
    with pytest.raises(InvalidInput) as err:
        read(text)
    assert err.value.field == "text"
    return err.value.message


def test_the_example_sentence_reads_as_every_part() -> None:
    quick = read("buy stamps tomorrow at 9am p1 #errands every week")
    assert (quick.title, quick.due, quick.due_text) == ("buy stamps", TOMORROW_9, "tomorrow at 9am")
    assert (quick.priority, quick.tags, quick.rule) == (Priority.URGENT, ["errands"], "every week")
    assert chips("buy stamps tomorrow at 9am p1 #errands every week") == [
        ("due", "tomorrow at 9am", "2026-12-04 09:00 Fri"),
        ("priority", "p1", "urgent"),
        ("tag", "#errands", "errands"),
        ("recurrence", "every week", "every week"),
    ]


def test_a_plain_title_is_only_a_title() -> None:
    quick = read("  buy   oat milk  ")
    assert (quick.title, quick.due, quick.priority, quick.tags, quick.rule, quick.chips) == (
        "buy oat milk", None, Priority.NONE, [], None, [])


# --- each marker alone ---------------------------------------------------------------------------------


def test_tags_are_lower_cased_repeatable_and_may_hold_dashes_underscores_and_slashes() -> None:
    quick = read("plan #Work/Q4 launch #deep-work #deep_work #work/q4")
    assert quick.title == "plan launch" and quick.tags == ["work/q4", "deep-work", "deep_work"]
    assert ("tag", "#Work/Q4", "work/q4") in chips("plan #Work/Q4 launch")


def test_a_hash_inside_a_word_or_alone_is_title_text() -> None:
    assert read("learn c# and # things").title == "learn c# and # things"


@pytest.mark.parametrize(("marker", "priority"), [
    ("p1", Priority.URGENT), ("p2", Priority.HIGH), ("p3", Priority.MEDIUM), ("p4", Priority.LOW),
    ("P1", Priority.URGENT), ("!urgent", Priority.URGENT), ("!high", Priority.HIGH), ("!Medium", Priority.MEDIUM),
    ("!low", Priority.LOW),
])
def test_a_priority_marker_anywhere_sets_the_priority(marker: str, priority: Priority) -> None:
    quick = read(f"file {marker} taxes")
    assert (quick.title, quick.priority) == ("file taxes", priority)
    assert chips(f"file {marker} taxes") == [("priority", marker, priority.value)]


@pytest.mark.parametrize("text", ["fix p5 valve", "p0 thing", "say !nope", "!none of that", "cp1 cable"])
def test_other_p_and_bang_words_stay_in_the_title(text: str) -> None:
    quick = read(text)
    assert (quick.title, quick.priority, quick.chips) == (text, Priority.NONE, [])


def test_two_priorities_are_refused() -> None:
    assert "'p1' and '!low' are two priorities: keep one" in refusal("x p1 !low")


@pytest.mark.parametrize(("text", "title", "rule"), [
    ("stretch every day at 9am", "stretch", "every day at 9am"),
    ("water plants every other tuesday", "water plants", "every other tuesday"),
    ("pay rent every month on the 1st #home", "pay rent", "every month on the 1st"),
    ("every monday at 9am team sync", "team sync", "every monday at 9am"),  # the longest part that is a rule
    ("standup daily", "standup", "daily"),
    ("review biweekly #work", "review", "biweekly"),
    ("standup Weekdays", "standup", "weekdays"),
])
def test_a_recurrence_is_an_every_phrase_or_a_preset_as_the_last_word(text: str, title: str, rule: str) -> None:
    quick = read(text)
    assert (quick.title, quick.rule, quick.due) == (title, rule, None)


@pytest.mark.parametrize("text", ["write weekly report", "daily standup notes", "read every book", "every one counts"])
def test_presets_and_every_inside_the_title_stay_there(text: str) -> None:
    quick = read(text)
    assert (quick.title, quick.rule) == (text, None)


@pytest.mark.parametrize(("text", "title", "due", "due_text"), [
    ("call mom monday", "call mom", Due(day=date(2026, 12, 7)), "monday"),
    ("call mom next friday", "call mom", Due(day=date(2026, 12, 11)), "next friday"),
    ("renew passport in 3 days", "renew passport", Due(day=date(2026, 12, 6)), "in 3 days"),
    ("party dec 5 at 3pm", "party", Due(at=datetime(2026, 12, 5, 14, 0, tzinfo=UTC)), "dec 5 at 3pm"),
    ("meeting 2026-12-05T09:00", "meeting", Due(at=datetime(2026, 12, 5, 8, 0, tzinfo=UTC)), "2026-12-05T09:00"),
    ("tomorrow 9am call mom", "call mom", TOMORROW_9, "tomorrow 9am"),  # no date at the end: one at the start
    ("buy milk tomorrow.", "buy milk", Due(day=date(2026, 12, 4)), "tomorrow."),
])
def test_a_due_is_the_longest_phrase_at_the_end_else_at_the_start(text: str, title: str, due: Due,
                                                                  due_text: str) -> None:
    quick = read(text)
    assert (quick.title, quick.due, quick.due_text) == (title, due, due_text)


@pytest.mark.parametrize("text", [
    "call mom about monday's meeting", "move friday standup up", "plan the dec 5 party", "read chapter 5",
])
def test_a_date_inside_the_title_is_not_eaten(text: str) -> None:
    quick = read(text)
    assert (quick.title, quick.due) == (text, None)


@pytest.mark.parametrize(("text", "title", "due_text", "rule"), [
    ("standup 9am daily", "standup", "9am", "daily"),
    ("standup daily 9am", "standup", "9am", "daily"),
    ("report every week tomorrow", "report", "tomorrow", "every week"),
    ("report tomorrow every week", "report", "tomorrow", "every week"),
])
def test_a_due_and_a_recurrence_at_the_end_are_both_read_in_either_order(text: str, title: str, due_text: str,
                                                                         rule: str) -> None:
    quick = read(text)
    assert (quick.title, quick.due_text, quick.rule) == (title, due_text, rule)


# --- quoting -------------------------------------------------------------------------------------------


def test_quoted_words_are_title_text_never_markers_or_dates() -> None:
    quick = read('watch "next friday" p2 "#1 fan" "every week"')
    assert (quick.title, quick.due, quick.tags, quick.rule, quick.priority) == (
        "watch next friday #1 fan every week", None, [], None, Priority.HIGH)


def test_typographic_quotes_quote_too() -> None:
    quick = read("watch “next friday” tomorrow")
    assert (quick.title, quick.due) == ("watch next friday", Due(day=date(2026, 12, 4)))


def test_a_date_after_a_quote_is_still_read_and_one_before_it_at_the_start() -> None:
    assert (read('watch "Dune" tomorrow').title, read('watch "Dune" tomorrow').due) == (
        "watch Dune", Due(day=date(2026, 12, 4)))
    assert (read('tomorrow watch "Dune"').title, read('tomorrow watch "Dune"').due) == (
        "watch Dune", Due(day=date(2026, 12, 4)))


# --- what is refused -----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["#errands #home", "p1", "tomorrow 9am", "p2 #x every week", '""'])
def test_nothing_left_for_the_title_is_refused_with_an_example(text: str) -> None:
    message = refusal(text)
    assert "nothing is left for the title" in message and "e.g. 'buy stamps tomorrow" in message


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_refused(text: str) -> None:
    assert "quick-add text is empty" in refusal(text)


def test_too_long_a_text_or_title_is_refused_on_text() -> None:
    assert "at most 1000 characters" in refusal("x" * 1001)
    assert "at most 500 characters" in refusal("x" * 501)


def test_a_tag_too_long_is_refused_on_text() -> None:
    assert "tags are at most 50" in refusal("x #" + "t" * 51)


# --- the use cases -------------------------------------------------------------------------------------


@pytest.fixture
async def berliner(uow: UnitOfWork, clock: Clock) -> Actor:
    clock.set(NOW)
    return await new_actor(uow, "Europe/Berlin")


async def test_quick_add_creates_the_task_it_read(uow: UnitOfWork, berliner: Actor) -> None:
    task = await quick_add(uow, berliner, "buy stamps tomorrow at 9am p1 #errands every week")
    assert (task.title, task.priority, task.tags) == ("buy stamps", Priority.URGENT, ["errands"])
    assert task.due_at == datetime(2026, 12, 4, 9, 0, tzinfo=BERLIN) and not task.all_day
    assert task.recurrence is not None and task.recurrence.rule == "every week"
    assert await get_task(uow, berliner, task.id) == task


async def test_a_recurring_task_without_a_due_gets_its_first_due_from_the_rule(uow: UnitOfWork,
                                                                               berliner: Actor) -> None:
    task = await quick_add(uow, berliner, "water plants every monday")
    assert (task.due_date, task.all_day) == (date(2026, 12, 7), True)
    timed = await quick_add(uow, berliner, "stretch every day at 9am")
    assert timed.due_at == datetime(2026, 12, 4, 9, 0, tzinfo=BERLIN)


async def test_the_same_key_and_text_return_the_first_task_a_new_text_conflicts(uow: UnitOfWork,
                                                                                berliner: Actor) -> None:
    first = await quick_add(uow, berliner, "buy milk tomorrow", idempotency_key="q-1")
    assert await quick_add(uow, berliner, "buy milk tomorrow", idempotency_key="q-1") == first
    with pytest.raises(IdempotencyConflict):
        await quick_add(uow, berliner, "buy bread tomorrow", idempotency_key="q-1")
    assert (await list_tasks(uow, berliner)).count == 1


async def test_a_refused_text_saves_nothing(uow: UnitOfWork, berliner: Actor) -> None:
    with pytest.raises(InvalidInput):
        await quick_add(uow, berliner, "#only #tags")
    assert (await list_tasks(uow, berliner)).count == 0


async def test_the_preview_shows_what_quick_add_creates_and_saves_nothing(uow: UnitOfWork, berliner: Actor) -> None:
    text = "buy stamps tomorrow at 9am p1 #errands every week"
    preview = await preview_quick_add(uow, berliner, text)
    assert (await list_tasks(uow, berliner)).count == 0
    task = await quick_add(uow, berliner, text)
    assert (preview.title, preview.due_at, preview.due_date, preview.all_day, preview.due_local) == (
        task.title, task.due_at, task.due_date, task.all_day, task.due_local)
    assert (preview.priority, preview.tags) == (task.priority, task.tags)
    assert preview.recurrence is not None and preview.recurrence.rule == "every week"
    assert preview.recurrence.next == [
        "2026-12-04T09:00:00+01:00", "2026-12-11T09:00:00+01:00", "2026-12-18T09:00:00+01:00"]
    assert [c.kind for c in preview.chips] == ["due", "priority", "tag", "recurrence"]


async def test_the_preview_of_a_recurring_task_without_a_due_shows_the_rule_s_dates(uow: UnitOfWork,
                                                                                    berliner: Actor) -> None:
    preview = await preview_quick_add(uow, berliner, "water plants every other tuesday")
    assert (preview.due_date, preview.all_day, preview.due_at) == (date(2026, 12, 15), True, None)
    assert preview.recurrence is not None
    assert preview.recurrence.next == ["2026-12-15", "2026-12-29", "2027-01-12"]
    assert preview.chips[0].kind == "recurrence" and preview.chips[0].text == "every other tuesday"
