"""Recurrence rules: presets, cron, RRULE and phrases, evaluated in local wall-clock time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from croniter import croniter  # type: ignore[import-untyped]
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from domain.errors import InvalidInput, InvalidRecurrence, InvalidTimezone
from domain.recurrence import (
    RecurrenceMode,
    Rule,
    next_occurrence,
    next_occurrences,
    parse_rule,
    validate_rule,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
EXAMPLE = "e.g. '"  # every InvalidRecurrence message shows a valid example after this marker
WED = datetime(2026, 1, 14, 9, 0, tzinfo=NY)  # Wednesday 14 January 2026, 09:00 New York


def local(moments: list[datetime]) -> list[str]:
    return [m.strftime("%a %Y-%m-%d %H:%M") for m in moments]


def offsets(moments: list[datetime]) -> list[float]:
    return [(m.utcoffset() or timedelta()).total_seconds() / 3600 for m in moments]


def upcoming(rule: str, anchor: datetime, count: int = 3) -> list[str]:
    return local(next_occurrences(rule, anchor, "America/New_York", count))


def rejection(rule: str) -> InvalidRecurrence:
    with pytest.raises(InvalidRecurrence) as caught:
        validate_rule(rule)
    assert caught.value.field == "rule"
    assert EXAMPLE in caught.value.message
    return caught.value


# Presets


@pytest.mark.parametrize(("preset", "expression"), [
    ("daily", "30 14 * * *"),
    ("weekdays", "30 14 * * 1-5"),
    ("weekly", "30 14 * * 3"),
    ("monthly", "30 14 14 * *"),
    ("yearly", "30 14 14 1 *"),
])
def test_presets_take_time_weekday_day_and_month_from_the_anchor(preset: str, expression: str) -> None:
    rule = parse_rule(preset, datetime(2026, 1, 14, 14, 30, tzinfo=NY))
    assert (rule.kind, rule.expression) == ("preset", expression)


def test_daily_on_a_task_due_at_nine_is_nine_every_day() -> None:
    assert parse_rule("daily", WED).expression == "0 9 * * *"
    assert upcoming("daily", WED) == ["Thu 2026-01-15 09:00", "Fri 2026-01-16 09:00", "Sat 2026-01-17 09:00"]


def test_presets_ignore_case_and_surrounding_whitespace() -> None:
    rule = parse_rule("  Weekdays \n", WED)
    assert (rule.text, rule.kind, rule.expression) == ("Weekdays", "preset", "0 9 * * 1-5")


def test_weekdays_preset_skips_the_weekend() -> None:
    assert upcoming("weekdays", datetime(2026, 1, 16, 9, 0, tzinfo=NY)) == [
        "Mon 2026-01-19 09:00", "Tue 2026-01-20 09:00", "Wed 2026-01-21 09:00"]


def test_monthly_from_the_31st_falls_on_the_last_day_of_shorter_months_in_a_leap_year() -> None:
    assert upcoming("monthly", datetime(2028, 1, 31, 9, 0, tzinfo=NY), 5) == [
        "Tue 2028-02-29 09:00", "Fri 2028-03-31 09:00", "Sun 2028-04-30 09:00", "Wed 2028-05-31 09:00",
        "Fri 2028-06-30 09:00"]


def test_monthly_from_the_31st_falls_on_february_28_in_a_common_year() -> None:
    assert upcoming("monthly", datetime(2026, 1, 31, 9, 0, tzinfo=NY)) == [
        "Sat 2026-02-28 09:00", "Tue 2026-03-31 09:00", "Thu 2026-04-30 09:00"]


def test_monthly_from_the_30th_returns_to_the_30th_after_february() -> None:
    assert upcoming("monthly", datetime(2026, 1, 30, 9, 0, tzinfo=NY)) == [
        "Sat 2026-02-28 09:00", "Mon 2026-03-30 09:00", "Thu 2026-04-30 09:00"]


def test_yearly_from_february_29_falls_on_february_28_in_other_years() -> None:
    assert upcoming("yearly", datetime(2028, 2, 29, 9, 0, tzinfo=NY), 5) == [
        "Wed 2029-02-28 09:00", "Thu 2030-02-28 09:00", "Fri 2031-02-28 09:00", "Sun 2032-02-29 09:00",
        "Mon 2033-02-28 09:00"]


# Cron


@pytest.mark.parametrize(("cron", "expected"), [
    ("0 9 * * 1-5", ["Thu 2026-01-15 09:00", "Fri 2026-01-16 09:00", "Mon 2026-01-19 09:00"]),
    ("*/15 9-17 * * MON-FRI", ["Wed 2026-01-14 09:15", "Wed 2026-01-14 09:30", "Wed 2026-01-14 09:45"]),
    ("30 8 1,15 * *", ["Thu 2026-01-15 08:30", "Sun 2026-02-01 08:30", "Sun 2026-02-15 08:30"]),
    ("0 18 L * *", ["Sat 2026-01-31 18:00", "Sat 2026-02-28 18:00", "Tue 2026-03-31 18:00"]),
    ("0 9 * * 5#3", ["Fri 2026-01-16 09:00", "Fri 2026-02-20 09:00", "Fri 2026-03-20 09:00"]),
    ("0 9 15W * *", ["Thu 2026-01-15 09:00", "Mon 2026-02-16 09:00", "Mon 2026-03-16 09:00"]),
    ("0 9 13 * 5", ["Fri 2026-01-16 09:00", "Fri 2026-01-23 09:00", "Fri 2026-01-30 09:00"]),
    ("0 9 * * L5", ["Fri 2026-01-30 09:00", "Fri 2026-02-27 09:00", "Fri 2026-03-27 09:00"]),
])
def test_cron_expressions_are_evaluated_like_croniter(cron: str, expected: list[str]) -> None:
    assert parse_rule(cron, WED).kind == "cron"
    assert upcoming(cron, WED) == expected


def test_cron_with_both_day_fields_matches_either_of_them() -> None:
    assert upcoming("0 9 13 * 5", datetime(2026, 2, 10, tzinfo=NY)) == [
        "Fri 2026-02-13 09:00", "Fri 2026-02-20 09:00", "Fri 2026-02-27 09:00"]
    assert upcoming("0 9 13 * 5", datetime(2026, 3, 10, tzinfo=NY)) == [
        "Fri 2026-03-13 09:00", "Fri 2026-03-20 09:00", "Fri 2026-03-27 09:00"]
    assert upcoming("0 9 13 * 1", datetime(2026, 4, 10, tzinfo=NY)) == [
        "Mon 2026-04-13 09:00", "Mon 2026-04-20 09:00", "Mon 2026-04-27 09:00"]


def test_cron_is_normalized_to_single_spaces_and_upper_case() -> None:
    rule = parse_rule("  0  9 * *   mon-fri ", WED)
    assert (rule.text, rule.expression) == ("0  9 * *   mon-fri", "0 9 * * MON-FRI")


@pytest.mark.parametrize(("macro", "expression"), [
    ("@hourly", "0 * * * *"), ("@daily", "0 0 * * *"), ("@weekly", "0 0 * * 0"), ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
])
def test_cron_macros_are_accepted_at_midnight(macro: str, expression: str) -> None:
    assert parse_rule(macro, WED) == Rule(macro, "cron", expression)


@pytest.mark.parametrize(("cron", "problem"), [
    ("0 9 * *", "must have 5 fields"),
    ("0 9 * * * *", "must have 5 fields"),
    ("0 0 9 * * * 2026", "must have 5 fields"),
    ("61 9 * * *", "minute field '61'"),
    ("0 25 * * *", "hour field '25'"),
    ("0 9 32 * *", "day-of-month field '32'"),
    ("0 9 * 13 *", "month field '13'"),
    ("0 9 * * 8", "day-of-week field '8'"),
    ("0 9 * * funday", "day-of-week field 'FUNDAY'"),
    ("0 9 31 2 *", "never matches a date"),
    ("0 9 30 2 *", "never matches a date"),
    ("0 9 1 * 5#3", "never matches a date"),
    ("@reboot", "unknown cron macro"),
    ("garbage", "not a recognized rule"),
])
def test_invalid_cron_is_rejected_with_the_problem_and_an_example(cron: str, problem: str) -> None:
    assert problem in rejection(cron).message


def test_a_cron_with_the_wrong_field_count_names_the_fields() -> None:
    assert rejection("0 9 * *").message == (
        "cron expression '0 9 * *' must have 5 fields (minute hour day month weekday), e.g. '0 9 * * 1-5'")


# RRULE


def test_rrule_without_a_time_takes_the_time_from_the_anchor() -> None:
    anchor = datetime(2026, 1, 14, 8, 30, tzinfo=NY)
    rule = parse_rule("FREQ=MONTHLY;BYDAY=-1FR", anchor)
    assert (rule.kind, rule.expression) == ("rrule", "FREQ=MONTHLY;BYDAY=-1FR")
    assert upcoming("FREQ=MONTHLY;BYDAY=-1FR", anchor) == [
        "Fri 2026-01-30 08:30", "Fri 2026-02-27 08:30", "Fri 2026-03-27 08:30"]


def test_rrule_prefix_is_optional_and_case_does_not_matter() -> None:
    rule = parse_rule("rrule:freq=weekly;byday=mo,th;byhour=7", WED)
    assert rule.expression == "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=7;BYMINUTE=0"
    assert upcoming(rule.text, WED) == ["Thu 2026-01-15 07:00", "Mon 2026-01-19 07:00", "Thu 2026-01-22 07:00"]


def test_rrule_interval_counts_from_the_anchor() -> None:
    assert upcoming("FREQ=WEEKLY;INTERVAL=3", WED) == [
        "Wed 2026-02-04 09:00", "Wed 2026-02-25 09:00", "Wed 2026-03-18 09:00"]


def test_rrule_until_inside_the_rule_ends_the_series() -> None:
    rule = "FREQ=DAILY;UNTIL=20260116T235959"
    assert upcoming(rule, WED, 10) == ["Thu 2026-01-15 09:00", "Fri 2026-01-16 09:00"]


def test_rrule_until_as_a_date_includes_that_whole_day() -> None:
    assert parse_rule("FREQ=DAILY;UNTIL=20260116", WED).expression == "FREQ=DAILY;UNTIL=20260116T235959"
    assert upcoming("FREQ=DAILY;UNTIL=20260116", WED, 10) == ["Thu 2026-01-15 09:00", "Fri 2026-01-16 09:00"]


def test_hourly_rrule_is_accepted() -> None:
    assert upcoming("FREQ=HOURLY;INTERVAL=6", WED) == [
        "Wed 2026-01-14 15:00", "Wed 2026-01-14 21:00", "Thu 2026-01-15 03:00"]


@pytest.mark.parametrize(("rrule", "problem"), [
    ("FREQ=FOO", "FREQ must be HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY"),
    ("BYDAY=MO", "FREQ must be"),
    ("FREQ=MINUTELY", "too frequent"),
    ("FREQ=SECONDLY;INTERVAL=30", "too frequent"),
    ("DTSTART:20260101T090000\nRRULE:FREQ=DAILY", "DTSTART is not allowed"),
    ("FREQ=DAILY;DTSTART=20260101T090000", "DTSTART is not allowed"),
    ("FREQ=DAILY;COUNT=3", "COUNT is not allowed"),
    ("FREQ=DAILY;INTERVAL=0", "INTERVAL must be a whole number from 1 to 999"),
    ("FREQ=DAILY;UNTIL=20261231T000000Z", "UNTIL must be a local date"),
    ("FREQ=DAILY;BYDAY=XX", "is not valid"),
    ("FREQ=DAILY;BYHOUR=25", "is not valid"),
    ("FREQ=DAILY;WHEN", "is not NAME=VALUE"),
    ("FREQ=DAILY;FREQ=WEEKLY", "is repeated"),
    ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "never produces a date"),
])
def test_invalid_rrule_is_rejected_with_the_problem_and_an_example(rrule: str, problem: str) -> None:
    assert problem in rejection(rrule).message


# Phrases


@pytest.mark.parametrize(("phrase", "expected"), [
    ("every day", ["Thu 2026-01-15 09:00", "Fri 2026-01-16 09:00", "Sat 2026-01-17 09:00"]),
    ("every 3 days", ["Sat 2026-01-17 09:00", "Tue 2026-01-20 09:00", "Fri 2026-01-23 09:00"]),
    ("every other day", ["Fri 2026-01-16 09:00", "Sun 2026-01-18 09:00", "Tue 2026-01-20 09:00"]),
    ("every weekday", ["Thu 2026-01-15 09:00", "Fri 2026-01-16 09:00", "Mon 2026-01-19 09:00"]),
    ("every week", ["Wed 2026-01-21 09:00", "Wed 2026-01-28 09:00", "Wed 2026-02-04 09:00"]),
    ("every 2 weeks", ["Wed 2026-01-28 09:00", "Wed 2026-02-11 09:00", "Wed 2026-02-25 09:00"]),
    ("every two weeks", ["Wed 2026-01-28 09:00", "Wed 2026-02-11 09:00", "Wed 2026-02-25 09:00"]),
    ("every 2 weeks on mon and thu", ["Thu 2026-01-15 09:00", "Mon 2026-01-26 09:00", "Thu 2026-01-29 09:00"]),
    ("every monday", ["Mon 2026-01-19 09:00", "Mon 2026-01-26 09:00", "Mon 2026-02-02 09:00"]),
    ("every mon, wed and fri", ["Fri 2026-01-16 09:00", "Mon 2026-01-19 09:00", "Wed 2026-01-21 09:00"]),
    ("every monday and thursday", ["Thu 2026-01-15 09:00", "Mon 2026-01-19 09:00", "Thu 2026-01-22 09:00"]),
    ("Every Tuesdays & Thursdays", ["Thu 2026-01-15 09:00", "Tue 2026-01-20 09:00", "Thu 2026-01-22 09:00"]),
    ("every month", ["Sat 2026-02-14 09:00", "Sat 2026-03-14 09:00", "Tue 2026-04-14 09:00"]),
    ("every 2 months", ["Sat 2026-03-14 09:00", "Thu 2026-05-14 09:00", "Tue 2026-07-14 09:00"]),
    ("every month on the 15th", ["Thu 2026-01-15 09:00", "Sun 2026-02-15 09:00", "Sun 2026-03-15 09:00"]),
    ("every month on the 1st", ["Sun 2026-02-01 09:00", "Sun 2026-03-01 09:00", "Wed 2026-04-01 09:00"]),
    ("every 2nd", ["Mon 2026-02-02 09:00", "Mon 2026-03-02 09:00", "Thu 2026-04-02 09:00"]),
    ("every 3rd", ["Tue 2026-02-03 09:00", "Tue 2026-03-03 09:00", "Fri 2026-04-03 09:00"]),
    ("every 15th", ["Thu 2026-01-15 09:00", "Sun 2026-02-15 09:00", "Sun 2026-03-15 09:00"]),
    ("every 31st", ["Sat 2026-01-31 09:00", "Sat 2026-02-28 09:00", "Tue 2026-03-31 09:00"]),
    ("every last day of the month", ["Sat 2026-01-31 09:00", "Sat 2026-02-28 09:00", "Tue 2026-03-31 09:00"]),
    ("every month on the last day", ["Sat 2026-01-31 09:00", "Sat 2026-02-28 09:00", "Tue 2026-03-31 09:00"]),
    ("every 3 months on the last day", ["Sat 2026-01-31 09:00", "Thu 2026-04-30 09:00", "Fri 2026-07-31 09:00"]),
    ("every last friday", ["Fri 2026-01-30 09:00", "Fri 2026-02-27 09:00", "Fri 2026-03-27 09:00"]),
    ("every first monday", ["Mon 2026-02-02 09:00", "Mon 2026-03-02 09:00", "Mon 2026-04-06 09:00"]),
    ("every second tuesday", ["Tue 2026-02-10 09:00", "Tue 2026-03-10 09:00", "Tue 2026-04-14 09:00"]),
    ("every third wednesday of the month", ["Wed 2026-01-21 09:00", "Wed 2026-02-18 09:00", "Wed 2026-03-18 09:00"]),
    ("every fourth thursday", ["Thu 2026-01-22 09:00", "Thu 2026-02-26 09:00", "Thu 2026-03-26 09:00"]),
    ("every fifth friday", ["Fri 2026-01-30 09:00", "Fri 2026-05-29 09:00", "Fri 2026-07-31 09:00"]),
    ("every year", ["Thu 2027-01-14 09:00", "Fri 2028-01-14 09:00", "Sun 2029-01-14 09:00"]),
    ("every 2 years", ["Fri 2028-01-14 09:00", "Mon 2030-01-14 09:00", "Wed 2032-01-14 09:00"]),
    ("every year on march 5", ["Thu 2026-03-05 09:00", "Fri 2027-03-05 09:00", "Sun 2028-03-05 09:00"]),
    ("every march 5", ["Thu 2026-03-05 09:00", "Fri 2027-03-05 09:00", "Sun 2028-03-05 09:00"]),
    ("every 5th of march", ["Thu 2026-03-05 09:00", "Fri 2027-03-05 09:00", "Sun 2028-03-05 09:00"]),
    ("every feb 29", ["Sat 2026-02-28 09:00", "Sun 2027-02-28 09:00", "Tue 2028-02-29 09:00"]),
    ("every hour", ["Wed 2026-01-14 10:00", "Wed 2026-01-14 11:00", "Wed 2026-01-14 12:00"]),
    ("every 4 hours", ["Wed 2026-01-14 13:00", "Wed 2026-01-14 17:00", "Wed 2026-01-14 21:00"]),
])
def test_phrases_recur_as_they_read(phrase: str, expected: list[str]) -> None:
    assert parse_rule(phrase, WED).kind == "phrase"
    assert upcoming(phrase, WED) == expected


@pytest.mark.parametrize(("phrase", "expected"), [
    ("every monday at 09:00", ["Mon 2026-01-19 09:00", "Mon 2026-01-26 09:00"]),
    ("every day at 9am", ["Thu 2026-01-15 09:00", "Fri 2026-01-16 09:00"]),
    ("every last friday at 5:30pm", ["Fri 2026-01-30 17:30", "Fri 2026-02-27 17:30"]),
    ("every day at 12am", ["Thu 2026-01-15 00:00", "Fri 2026-01-16 00:00"]),
    ("every day at 12pm", ["Wed 2026-01-14 12:00", "Thu 2026-01-15 12:00"]),
    ("every day at 7 PM", ["Wed 2026-01-14 19:00", "Thu 2026-01-15 19:00"]),
    ("every day at 17:30", ["Wed 2026-01-14 17:30", "Thu 2026-01-15 17:30"]),
    ("every day at noon", ["Wed 2026-01-14 12:00", "Thu 2026-01-15 12:00"]),
    ("every 2 weeks at 8:15am", ["Wed 2026-01-28 08:15", "Wed 2026-02-11 08:15"]),
    ("every month on the 15th at 6pm", ["Thu 2026-01-15 18:00", "Sun 2026-02-15 18:00"]),
])
def test_an_explicit_time_overrides_the_anchors_time(phrase: str, expected: list[str]) -> None:
    assert upcoming(phrase, datetime(2026, 1, 14, 11, 45, tzinfo=NY), 2) == expected


def test_phrases_translate_to_cron_when_cron_can_say_it() -> None:
    assert parse_rule("every mon, wed and fri at 9am", WED).expression == "0 9 * * 1,3,5"
    assert parse_rule("every day at 5:30pm", WED).expression == "30 17 * * *"


def test_every_n_weeks_and_days_are_rrules_anchored_on_the_anchor_date() -> None:
    weeks, days = parse_rule("every 2 weeks", WED), parse_rule("every 3 days", WED)
    assert weeks.expression == "FREQ=WEEKLY;INTERVAL=2;BYDAY=WE;BYHOUR=9;BYMINUTE=0;BYSECOND=0"
    assert days.expression == "FREQ=DAILY;INTERVAL=3;BYHOUR=9;BYMINUTE=0;BYSECOND=0"
    assert weeks.dtstart == days.dtstart == datetime(2026, 1, 14, 9, 0)


@pytest.mark.parametrize(("phrase", "problem"), [
    ("every blursday", "unrecognized phrase"),
    ("every 0 days", "from 1 to 999"),
    ("every 1000 days", "from 1 to 999"),
    ("every month on the 32nd", "1st to 31st"),
    ("every 32nd", "1st to 31st"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("every", "unrecognized phrase"),
    ("every other", "unrecognized phrase"),
    ("every mon and blursday", "'blursday' is not a weekday"),
    ("every feb 30", "february has no day 30"),
    ("every day at 25:00", "not a valid time of day"),
    ("every day at 13pm", "not a valid time of day"),
    ("every day at 9:75", "not a valid time of day"),
    ("every hour at 9am", "has no 'at' or 'on'"),
    ("every day on monday", "unrecognized phrase"),
    ("tomorrow", "not a recognized rule"),
])
def test_invalid_phrases_are_rejected_with_the_problem_and_an_example(phrase: str, problem: str) -> None:
    assert problem in rejection(phrase).message


def test_an_unrecognized_rule_lists_every_accepted_form_with_an_example() -> None:
    message = rejection("whenever").message
    for example in ("'daily'", "'0 9 * * 1-5'", "'FREQ=MONTHLY;BYDAY=-1FR'", "'every monday at 9am'"):
        assert example in message


def test_validate_rule_returns_the_trimmed_text() -> None:
    assert validate_rule("  every Monday at 9am ") == "every Monday at 9am"


# Daylight saving time


DST_CHANGES = [
    pytest.param(NY, datetime(2026, 3, 6, 12), -5, -4, id="new-york-spring-forward"),
    pytest.param(NY, datetime(2026, 10, 30, 12), -4, -5, id="new-york-fall-back"),
    pytest.param(BERLIN, datetime(2026, 3, 27, 12), 1, 2, id="berlin-spring-forward"),
    pytest.param(BERLIN, datetime(2026, 10, 23, 12), 2, 1, id="berlin-fall-back"),
]


@pytest.mark.parametrize("rule", ["daily", "0 9 * * *", "FREQ=DAILY", "every day at 9am", "every 1 days"])
@pytest.mark.parametrize(("zone", "start", "before", "after"), DST_CHANGES)
def test_nine_am_daily_stays_at_nine_local_across_dst_changes(
    rule: str, zone: ZoneInfo, start: datetime, before: int, after: int
) -> None:
    begin = start.replace(tzinfo=zone)
    found = next_occurrences(rule, begin, zone, 5, anchor=begin.replace(hour=9))
    assert [m.hour for m in found] == [9] * 5
    assert [m.minute for m in found] == [0] * 5
    assert offsets(found) == [before, after, after, after, after]
    assert all(m.tzinfo is zone for m in found)


def test_every_two_weeks_keeps_its_local_time_across_spring_forward() -> None:
    found = next_occurrences("every 2 weeks", datetime(2026, 2, 25, 9, 0, tzinfo=NY), NY, 3)
    assert local(found) == ["Wed 2026-03-11 09:00", "Wed 2026-03-25 09:00", "Wed 2026-04-08 09:00"]
    assert offsets(found) == [-4, -4, -4]


def test_monthly_last_friday_keeps_its_local_time_across_berlin_dst() -> None:
    found = next_occurrences("every last friday at 17:00", datetime(2026, 2, 1, tzinfo=BERLIN), BERLIN, 3)
    assert local(found) == ["Fri 2026-02-27 17:00", "Fri 2026-03-27 17:00", "Fri 2026-04-24 17:00"]
    assert offsets(found) == [1, 1, 2]


@pytest.mark.parametrize("rule", ["30 2 * * *", "every day at 2:30am", "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"])
def test_a_nonexistent_local_time_moves_forward_by_the_gap(rule: str) -> None:
    found = next_occurrences(rule, datetime(2026, 3, 6, 12, tzinfo=NY), NY, 3)
    assert local(found) == ["Sat 2026-03-07 02:30", "Sun 2026-03-08 03:30", "Mon 2026-03-09 02:30"]
    assert offsets(found) == [-5, -4, -4]


def test_a_nonexistent_local_time_moves_forward_in_berlin_too() -> None:
    found = next_occurrences("30 2 * * *", datetime(2026, 3, 28, 12, tzinfo=BERLIN), BERLIN, 2)
    assert local(found) == ["Sun 2026-03-29 03:30", "Mon 2026-03-30 02:30"]


def test_the_moved_occurrence_is_found_when_start_is_just_after_the_gap() -> None:
    found = next_occurrences("30 2 * * *", datetime(2026, 3, 8, 3, 0, tzinfo=NY), NY, 2)
    assert local(found) == ["Sun 2026-03-08 03:30", "Mon 2026-03-09 02:30"]


@pytest.mark.parametrize("rule", ["30 1 * * *", "every day at 1:30am", "FREQ=DAILY;BYHOUR=1;BYMINUTE=30"])
def test_an_ambiguous_local_time_happens_once_at_its_first_instant(rule: str) -> None:
    found = next_occurrences(rule, datetime(2026, 10, 31, 12, tzinfo=NY), NY, 2)
    assert local(found) == ["Sun 2026-11-01 01:30", "Mon 2026-11-02 01:30"]
    assert offsets(found) == [-4, -5]


def test_hourly_rules_never_repeat_or_step_back_across_dst_changes() -> None:
    spring = next_occurrences("every hour", datetime(2026, 3, 8, 0, 30, tzinfo=NY), NY, 4, anchor=WED)
    assert local(spring) == ["Sun 2026-03-08 01:00", "Sun 2026-03-08 03:00", "Sun 2026-03-08 04:00",
                             "Sun 2026-03-08 05:00"]
    fall = next_occurrences("*/30 * * * *", datetime(2026, 11, 1, 0, 50, tzinfo=NY), NY, 4)
    assert local(fall) == ["Sun 2026-11-01 01:00", "Sun 2026-11-01 01:30", "Sun 2026-11-01 02:00",
                           "Sun 2026-11-01 02:30"]
    assert offsets(fall) == [-4, -4, -5, -5]


# next_occurrences


def test_start_is_excluded_and_occurrences_ascend() -> None:
    found = next_occurrences("0 9 * * *", WED, NY, 3)
    assert found[0] == WED + timedelta(days=1)
    assert found == sorted(found)


def test_a_naive_start_is_local_time_in_the_zone() -> None:
    found = next_occurrences("0 9 * * *", datetime(2026, 1, 14, 9, 0), "Europe/Berlin", 1)
    assert found == [datetime(2026, 1, 15, 9, 0, tzinfo=BERLIN)]


def test_a_start_in_another_zone_is_converted_to_the_users_zone() -> None:
    start = datetime(2026, 1, 14, 7, 30, tzinfo=ZoneInfo("UTC"))  # 08:30 in Berlin
    found = next_occurrences("0 9 * * *", start, BERLIN, 1)
    assert local(found) == ["Wed 2026-01-14 09:00"]
    assert found[0].tzinfo is BERLIN


def test_the_anchor_defaults_to_start() -> None:
    assert local(next_occurrences("daily", datetime(2026, 1, 14, 14, 30, tzinfo=NY), NY, 1)) == [
        "Thu 2026-01-15 14:30"]


def test_until_is_inclusive() -> None:
    until = datetime(2026, 1, 17, 9, 0, tzinfo=NY)
    found = next_occurrences("daily", WED, NY, 10, until=until)
    assert found[-1] == until
    assert len(found) == 3


def test_until_in_the_past_gives_no_occurrences() -> None:
    assert next_occurrences("daily", WED, NY, 10, until=WED - timedelta(days=1)) == []


def test_count_limits_the_occurrences() -> None:
    assert len(next_occurrences("every hour", WED, NY, 100)) == 100


@pytest.mark.parametrize("count", [0, -1, 101])
def test_count_outside_one_to_a_hundred_is_refused(count: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        next_occurrences("daily", WED, NY, count)
    assert caught.value.field == "count"


def test_an_unknown_timezone_is_refused() -> None:
    with pytest.raises(InvalidTimezone):
        next_occurrences("daily", WED, "Mars/Olympus_Mons", 1)


def test_a_parsed_rule_can_be_passed_instead_of_text() -> None:
    rule = parse_rule("every 2 weeks", WED)
    later = datetime(2026, 3, 1, tzinfo=NY)
    assert local(next_occurrences(rule, later, NY, 2)) == ["Wed 2026-03-11 09:00", "Wed 2026-03-25 09:00"]


def test_occurrences_after_requires_an_aware_start() -> None:
    with pytest.raises(InvalidInput):
        next(parse_rule("daily", WED).occurrences_after(datetime(2026, 1, 14)))


# next_occurrence (the successor's due)

MON_DUE = datetime(2026, 1, 12, 9, 0, tzinfo=NY)
WED_AFTERNOON = datetime(2026, 1, 14, 15, 0, tzinfo=NY)


def test_due_mode_completed_late_gets_the_next_slot_after_the_previous_due() -> None:
    found = next_occurrence("daily", mode=RecurrenceMode.DUE, previous_due=MON_DUE, completed_at=WED_AFTERNOON,
                            tz=NY)
    assert found == datetime(2026, 1, 13, 9, 0, tzinfo=NY)


def test_due_mode_completed_early_still_moves_past_the_previous_due() -> None:
    friday = datetime(2026, 1, 16, 9, 0, tzinfo=NY)
    found = next_occurrence("daily", mode=RecurrenceMode.DUE, previous_due=friday, completed_at=WED_AFTERNOON,
                            tz="America/New_York")
    assert found == datetime(2026, 1, 17, 9, 0, tzinfo=NY)


def test_due_mode_every_two_weeks_counts_from_the_previous_due() -> None:
    found = next_occurrence("every 2 weeks", mode=RecurrenceMode.DUE, previous_due=MON_DUE,
                            completed_at=WED_AFTERNOON, tz=NY)
    assert found == datetime(2026, 1, 26, 9, 0, tzinfo=NY)


def test_completion_mode_gets_the_next_slot_after_completion_at_the_previous_dues_time() -> None:
    found = next_occurrence("daily", mode=RecurrenceMode.COMPLETION, previous_due=MON_DUE,
                            completed_at=WED_AFTERNOON, tz=NY)
    assert found == datetime(2026, 1, 15, 9, 0, tzinfo=NY)


def test_completion_mode_every_three_days_counts_from_the_completion() -> None:
    found = next_occurrence("every 3 days", mode=RecurrenceMode.COMPLETION, previous_due=None,
                            completed_at=WED_AFTERNOON, tz=NY)
    assert found == datetime(2026, 1, 17, 15, 0, tzinfo=NY)


def test_without_a_previous_due_due_mode_behaves_like_completion_mode() -> None:
    found = next_occurrence("daily", mode=RecurrenceMode.DUE, previous_due=None, completed_at=WED_AFTERNOON,
                            tz=NY)
    assert found == datetime(2026, 1, 15, 15, 0, tzinfo=NY)


def test_completion_in_another_zone_is_evaluated_in_the_users_zone() -> None:
    completed = datetime(2026, 1, 14, 23, 30, tzinfo=ZoneInfo("UTC"))  # 18:30 in New York
    found = next_occurrence("0 20 * * *", mode=RecurrenceMode.COMPLETION, previous_due=None,
                            completed_at=completed, tz=NY)
    assert found == datetime(2026, 1, 14, 20, 0, tzinfo=NY)


def test_the_successor_is_none_after_until_and_kept_when_equal_to_it() -> None:
    kwargs = {"mode": RecurrenceMode.DUE, "previous_due": MON_DUE, "completed_at": WED_AFTERNOON, "tz": NY}
    tuesday = datetime(2026, 1, 13, 9, 0, tzinfo=NY)
    assert next_occurrence("daily", until=tuesday - timedelta(minutes=1), **kwargs) is None  # type: ignore[arg-type]
    assert next_occurrence("daily", until=tuesday, **kwargs) == tuesday  # type: ignore[arg-type]


def test_the_successor_is_none_when_the_rules_own_until_has_passed() -> None:
    found = next_occurrence("FREQ=DAILY;UNTIL=20260112", mode=RecurrenceMode.DUE, previous_due=MON_DUE,
                            completed_at=WED_AFTERNOON, tz=NY)
    assert found is None


# Properties

CRON_FIELDS = (
    st.sampled_from(["0", "30", "*/15", "5,35", "10-12", "*"]),
    st.sampled_from(["9", "0", "1", "2", "3", "23", "*/6", "9-17", "*"]),
    st.sampled_from(["*", "1", "15", "28", "29", "30", "31", "L", "1,15", "*/10"]),
    st.sampled_from(["*", "2", "3", "10", "11", "3,10", "*/4", "JAN-JUN"]),
    st.sampled_from(["*", "1-5", "0", "6", "MON,FRI", "SUN", "5#3", "1#1", "L5"]),
)
crons = st.tuples(*CRON_FIELDS).map(" ".join)
zones = st.sampled_from(sorted(available_timezones()))
starts = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31))
PROPERTY = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def _valid(rule: str) -> bool:
    try:
        validate_rule(rule)
    except InvalidRecurrence:
        return False
    return True


def _just_after_a_clock_change(moment: datetime) -> bool:
    earlier = (moment - timedelta(hours=3)).astimezone(moment.tzinfo)
    return earlier.utcoffset() != moment.utcoffset()


@PROPERTY
@given(crons, zones, starts)
def test_cron_occurrences_ascend_after_start_and_are_aware_in_the_zone(cron: str, zone: str, start: datetime) -> None:
    assume(_valid(cron))
    tz = ZoneInfo(zone)
    found = next_occurrences(cron, start, zone, 10)
    begin = start.replace(tzinfo=tz)
    assert len(found) == 10
    assert all(m.tzinfo is tz and m.utcoffset() is not None for m in found)
    assert all(a < b for a, b in zip([begin, *found], found, strict=False))
    for moment in found:  # on the rule's wall-clock time, or moved forward out of a gap
        assert croniter.match(cron, moment.replace(tzinfo=None)) or _just_after_a_clock_change(moment)


@PROPERTY
@given(crons, starts)
def test_cron_occurrences_in_utc_are_exactly_croniters(cron: str, start: datetime) -> None:
    assume(_valid(cron))
    utc = ZoneInfo("UTC")
    it = croniter(cron, start.replace(tzinfo=utc))
    assert next_occurrences(cron, start, utc, 20) == [it.get_next(datetime) for _ in range(20)]


def test_completing_early_in_completion_mode_never_repeats_the_completed_instances_due():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from domain.recurrence import RecurrenceMode, next_occurrence

    tz = ZoneInfo("Europe/Berlin")
    due_friday = datetime(2026, 12, 4, 9, 0, tzinfo=tz)
    done_thursday = datetime(2026, 12, 3, 15, 0, tzinfo=tz)
    nxt = next_occurrence("daily", mode=RecurrenceMode.COMPLETION, previous_due=due_friday,
                          completed_at=done_thursday, tz=tz)
    assert nxt == datetime(2026, 12, 5, 9, 0, tzinfo=tz)
