"""BFCL-style argument matching and the task fields the scorer compares: alternatives, absent arguments, ISO
moments in the user's timezone, order-free lists, and recurrence rules compared by what they do."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from evals.matching import call_matches, matches, same_rule

BERLIN = ZoneInfo("Europe/Berlin")


def call(name: str, **arguments: object) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


@pytest.mark.parametrize(("expected", "actual"), [
    ("Tomorrow  9AM", "tomorrow 9am"),  # case and spaces
    ("2026-03-29T09:00", "2026-03-29 09:00"),
    ("2026-03-29T09:00", "2026-03-29T09:00:00+02:00"),  # 09:00 CEST is 09:00 local
    ("2026-03-29T09:00", "2026-03-29T07:00:00Z"),
    ("2026-03-29", "2026-03-29"),
    (["a", "tomorrow 9am"], "tomorrow 9am"),  # any of the alternatives
    (42, 42), ("42", 42), (42, "42"),
    ([["errands", "home"]], ["home", "errands"]),  # a list value, order-free
    ({"rule": "weekly"}, {"rule": "Weekly", "mode": "due"}),  # objects match as subsets
])
def test_values_that_match(expected: object, actual: object) -> None:
    assert matches(expected, actual, BERLIN)


@pytest.mark.parametrize(("expected", "actual"), [
    ("2026-03-29T09:00", "2026-03-29T09:00:00+01:00"),  # 09:00 CET is 10:00 in Berlin that day
    ("2026-03-29T09:00", "2026-03-29"),  # a moment is not a day
    ("tomorrow 9am", "tomorrow 10am"),
    (["a", "b"], "c"),
    (42, 43), (True, 1), (1, True),
    ([["errands", "home"]], ["errands"]),
    ([["errands"]], ["errands", "errands"]),
    ({"rule": "weekly", "mode": "completion"}, {"rule": "weekly", "mode": "due"}),
    ("x", None),
])
def test_values_that_do_not_match(expected: object, actual: object) -> None:
    assert not matches(expected, actual, BERLIN)


def test_calls_match_by_name_and_the_named_arguments_only() -> None:
    wanted = call("set_due_date", task_id=7, due_at=["tomorrow 9am", "2026-03-29T09:00"])
    assert call_matches(wanted, "set_due_date", {"task_id": 7, "due_at": "2026-03-29T09:00", "extra": 1}, BERLIN)
    assert not call_matches(wanted, "update_task", {"task_id": 7, "due_at": "tomorrow 9am"}, BERLIN)
    assert not call_matches(wanted, "set_due_date", {"task_id": 7}, BERLIN)  # a named argument must be there
    either = {"name": ["set_due_date", "update_task"], "arguments": {"task_id": 7}}
    assert call_matches(either, "update_task", {"task_id": 7}, BERLIN)
    optional = call("delete_task", task_id=[7, None])  # null among the alternatives: absent is fine too
    assert call_matches(optional, "delete_task", {"task_ids": [7]}, BERLIN)
    assert not call_matches(optional, "delete_task", {"task_id": 8}, BERLIN)
    assert call_matches(call("whoami"), "whoami", {}, BERLIN)


def test_recurrence_rules_are_compared_by_their_occurrences() -> None:
    tuesday_nine = datetime(2026, 3, 10, 9, 0)
    assert same_rule("every other tuesday", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU", tuesday_nine, BERLIN)
    assert same_rule("biweekly", "Every  other Tuesday", tuesday_nine, BERLIN)
    assert same_rule("weekdays", "0 9 * * 1-5", tuesday_nine, BERLIN)
    assert not same_rule("weekly", "biweekly", tuesday_nine, BERLIN)
    assert not same_rule("every weekday at 8", "weekdays", tuesday_nine, BERLIN)
    assert not same_rule("daily", "not a rule at all", tuesday_nine, BERLIN)
