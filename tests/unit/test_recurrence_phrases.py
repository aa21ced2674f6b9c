"""Recurrence phrases people type ("every other tuesday", "biweekly", "every 3rd of the month"): the expression
each becomes and a preview of its next three occurrences, at a frozen now of Thursday 2026-12-03 10:30 in Berlin.
A phrase without a time takes the time of day from the due (here: now, as preview_recurrence does)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from domain.errors import InvalidRecurrence
from domain.recurrence import parse_rule
from domain.uow import UnitOfWork
from domain.usecases import preview_recurrence
from tests.conftest import Clock, new_actor

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 3, 10, 30, tzinfo=BERLIN)
EVERY_TWO_THURSDAYS = "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH;BYHOUR=10;BYMINUTE=30;BYSECOND=0"
THURSDAYS = ["2026-12-17 10:30 Thu", "2026-12-31 10:30 Thu", "2027-01-14 10:30 Thu"]
SECOND_TUESDAYS = ["2026-12-08 10:30 Tue", "2027-01-12 10:30 Tue", "2027-02-09 10:30 Tue"]


@pytest.mark.parametrize(("phrase", "expression", "upcoming"), [
    # every two weeks on Tuesday, counted from the due's week (this week's Tuesday has passed)
    ("every other tuesday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=10;BYMINUTE=30;BYSECOND=0",
     ["2026-12-15 10:30 Tue", "2026-12-29 10:30 Tue", "2027-01-12 10:30 Tue"]),
    ("every other tuesday at 9am", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU;BYHOUR=9;BYMINUTE=0;BYSECOND=0",
     ["2026-12-15 09:00 Tue", "2026-12-29 09:00 Tue", "2027-01-12 09:00 Tue"]),
    ("every weekday at 8", "0 8 * * 1-5", ["2026-12-04 08:00 Fri", "2026-12-07 08:00 Mon", "2026-12-08 08:00 Tue"]),
    ("biweekly", EVERY_TWO_THURSDAYS, THURSDAYS),
    ("fortnightly", EVERY_TWO_THURSDAYS, THURSDAYS),
    ("every fortnight", EVERY_TWO_THURSDAYS, THURSDAYS),
    ("every other week", EVERY_TWO_THURSDAYS, THURSDAYS),
    ("every 3rd of the month", "30 10 3 * *", ["2027-01-03 10:30 Sun", "2027-02-03 10:30 Wed", "2027-03-03 10:30 Wed"]),
    ("every 2nd tuesday", "FREQ=MONTHLY;BYDAY=+2TU;BYHOUR=10;BYMINUTE=30;BYSECOND=0", SECOND_TUESDAYS),
    ("every 2nd tuesday of the month", "FREQ=MONTHLY;BYDAY=+2TU;BYHOUR=10;BYMINUTE=30;BYSECOND=0", SECOND_TUESDAYS),
])
async def test_a_phrase_becomes_its_expression_and_previews_its_next_three(
    uow: UnitOfWork, clock: Clock, phrase: str, expression: str, upcoming: list[str]
) -> None:
    assert parse_rule(phrase, NOW).expression == expression
    clock.set(NOW)
    actor = await new_actor(uow, "Europe/Berlin")
    preview = await preview_recurrence(uow, actor, phrase, count=3)
    assert preview.occurrences_local == upcoming


@pytest.mark.parametrize(("phrase", "advice"), [
    ("twice a month", "'every 2 weeks'"),
    ("twice a week", "'every mon and thu'"),
    ("3 times a week", "'every mon and thu'"),
    ("every twice a month", "'FREQ=MONTHLY;BYMONTHDAY=1,15'"),
])
def test_how_often_without_when_says_what_to_write(phrase: str, advice: str) -> None:
    with pytest.raises(InvalidRecurrence) as err:
        parse_rule(phrase, NOW)
    assert err.value.field == "rule" and "does not say when" in err.value.message and advice in err.value.message


@pytest.mark.parametrize("phrase", ["every other blorp", "every 2nd blorpday", "bimonthlyish"])
def test_a_wrong_phrase_keeps_naming_examples(phrase: str) -> None:
    with pytest.raises(InvalidRecurrence) as err:
        parse_rule(phrase, NOW)
    assert err.value.field == "rule" and "'every 2 weeks'" in err.value.message
