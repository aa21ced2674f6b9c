"""Bounded input in the domain: tag lists are capped and normalised in linear time, recurrence rules are at most 200
characters, dates lie in 1900..2200, and search takes at most 12 words; each refusal names the field."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import event

from domain.errors import InvalidDue, InvalidInput, InvalidRecurrence
from domain.recurrence import parse_rule
from domain.schemas import RecurrenceSpec, TaskCreate, TaskQuery, TaskUpdate
from domain.timeutil import parse_due, zone
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_task, list_tasks, preview_recurrence, search_tasks
from domain.values import RULE_MAX, TAGS_PER_TASK_MAX, normalize_tags

BERLIN = zone("Europe/Berlin")
NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)  # what "now" a phrase would be read against
LONG_RULE = "FREQ=DAILY;BYHOUR=" + ",".join(["9"] * 100)  # a valid rule of 217 characters


def test_normalising_tags_stops_at_the_twenty_first_distinct_tag_without_reading_the_rest():
    """The normaliser fails as soon as it has 21 distinct tags: the other 39,979 are never looked at."""
    read: list[int] = []

    def tags() -> Iterator[str]:
        for i in range(40_000):
            read.append(i)
            yield f"t{i}"

    with pytest.raises(InvalidInput) as err:
        normalize_tags(tags())
    assert err.value.field == "tags" and "at most 20" in err.value.message
    assert len(read) == TAGS_PER_TASK_MAX + 1


def test_normalising_many_spellings_of_few_tags_keeps_the_first_of_each_in_order():
    """Duplicates (after case folding and trimming) collapse onto the first spelling's position."""
    assert normalize_tags(["Work", " home", "#work", "HOME", "q4"]) == ["work", "home", "q4"]


@pytest.mark.parametrize("make", [
    lambda tags: TaskCreate(title="t", tags=tags), lambda tags: TaskUpdate(tags=tags),
], ids=["create", "update"])
def test_a_task_body_with_more_than_twenty_tags_is_refused_before_any_is_normalised(make):
    """40,000 tags in a body are refused by the schema's cap, naming the field."""
    with pytest.raises(InvalidInput) as err:
        make([f"t{i}" for i in range(40_000)])
    assert err.value.field == "tags" and "at most 20 tags" in err.value.message


def test_a_tag_filter_of_more_than_twenty_tags_is_refused():
    """The list filter takes at most 20 tags too."""
    with pytest.raises(InvalidInput) as err:
        TaskQuery(tag=[f"t{i}" for i in range(21)])
    assert err.value.field == "tag"


def test_more_than_ten_reminders_in_a_body_are_refused():
    """A reminders list is capped at 10 items in the schema."""
    with pytest.raises(InvalidInput) as err:
        TaskCreate(title="t", reminders=[0] * 11)
    assert err.value.field == "reminders"


def test_a_recurrence_rule_over_200_characters_is_refused_before_it_is_parsed():
    """parse_rule refuses a 201-character rule at once, whatever it says; 200 is the column's size."""
    assert len(LONG_RULE) > RULE_MAX == 200
    with pytest.raises(InvalidRecurrence) as err:
        parse_rule(LONG_RULE, datetime(2026, 3, 2, 9, 0))
    assert err.value.field == "rule" and "200" in err.value.message


async def test_a_task_with_a_rule_over_200_characters_is_refused_on_both_databases(uow: UnitOfWork, actor: Actor):
    """The use case refuses a long rule (PostgreSQL would otherwise fail the insert) and writes nothing."""
    spec = RecurrenceSpec.model_construct(rule=LONG_RULE, mode="due", until=None, count=None)  # past the schema
    with pytest.raises(InvalidRecurrence) as err:
        await create_task(uow, actor, TaskCreate(title="r", recurrence=spec))
    assert err.value.field == "rule"
    assert (await list_tasks(uow, actor)).count == 0


@pytest.mark.parametrize("value", [
    "0001-01-01", "9999-12-31", "0001-01-01T00:00", "9999-12-31T23:59-05:00", "1899-12-31", "2201-01-01T00:00Z",
    date(1, 1, 1), datetime(9999, 12, 31, 23, 59),
])
def test_a_due_outside_1900_to_2200_is_refused_as_invalid_due(value):
    """Dates far in the past or future are refused (they overflowed into 500s when converted)."""
    with pytest.raises(InvalidDue) as err:
        parse_due(value, BERLIN, NOW)
    assert err.value.field == "due_at" and "1900" in err.value.message and "2200" in err.value.message


@pytest.mark.parametrize("value", ["1900-01-01", "1900-01-01T00:00", "2200-12-31", "2200-12-31T23:59+14:00"])
def test_the_first_and_last_days_of_the_range_are_accepted(value):
    """1900-01-01 and 2200-12-31 themselves are valid dues."""
    assert parse_due(value, zone("Pacific/Kiritimati"), NOW)


@pytest.mark.parametrize(("field", "query"), [
    ("due_before", {"due_before": "0001-01-01"}), ("due_after", {"due_after": "9999-12-31"}),
])
async def test_a_due_filter_outside_the_range_names_its_field(uow: UnitOfWork, actor: Actor, field, query):
    """The list filters refuse such dates as the filter's own field."""
    with pytest.raises(InvalidDue) as err:
        await list_tasks(uow, actor, TaskQuery(**query))
    assert err.value.field == field


async def test_a_recurrence_until_outside_the_range_names_until(uow: UnitOfWork, actor: Actor):
    """until: 0001-01-01 is refused as field until, and nothing is written."""
    with pytest.raises(InvalidInput) as err:
        await create_task(uow, actor, TaskCreate(title="r", recurrence=RecurrenceSpec(rule="daily",
                                                                                       until="0001-01-01")))
    assert err.value.field == "until"
    assert (await list_tasks(uow, actor)).count == 0


@pytest.mark.parametrize("start", ["0001-01-01", "9999-12-31"])
async def test_a_preview_start_outside_the_range_names_start(uow: UnitOfWork, actor: Actor, start):
    """The recurrence preview refuses such a start as field start."""
    with pytest.raises(InvalidDue) as err:
        await preview_recurrence(uow, actor, "daily", start=start)
    assert err.value.field == "start"


async def test_search_takes_at_most_twelve_words(uow: UnitOfWork, actor: Actor):
    """13 words are refused naming q; 12 are searched."""
    with pytest.raises(InvalidInput) as err:
        await search_tasks(uow, actor, " ".join("abcdefghijklm"))
    assert err.value.field == "q" and "12" in err.value.message
    await create_task(uow, actor, TaskCreate(title="abcdefghijkl", description=" ".join("abcdefghijkl")))
    assert (await search_tasks(uow, actor, " ".join("abcdefghijkl"))).count == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL filters by owner before it matches
async def test_sqlite_full_text_search_matches_within_the_callers_own_index(uow: UnitOfWork, actor: Actor):
    """On SQLite the MATCH expression names the owner, so another user's index is never scanned."""
    matches: list[str] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        if "MATCH" in statement:
            matches.extend(p for p in parameters if isinstance(p, str) and "*" in p)  # the MATCH expression

    event.listen(uow.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        await create_task(uow, actor, TaskCreate(title="Buy milk"))
        assert (await search_tasks(uow, actor, "mil")).count == 1
    finally:
        event.remove(uow.db.engine.sync_engine, "before_cursor_execute", record)
    assert matches and all(f'owner_id : "{actor.id}"' in m for m in matches), matches
