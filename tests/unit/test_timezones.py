"""Timezone names: matched case-insensitively and stored canonical, typos answered with a guess, abbreviations,
fixed offsets and legacy names refused for a new setting (a stored legacy name keeps working)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from domain.errors import InvalidTimezone
from domain.timeutil import check_timezone, zone
from domain.uow import UnitOfWork
from domain.usecases import Actor, create_user, get_user, set_timezone
from tests.conftest import new_actor


@pytest.mark.parametrize(("given", "stored"), [
    ("Europe/Berlin", "Europe/Berlin"),
    ("europe/berlin", "Europe/Berlin"),
    ("AMERICA/NEW_YORK", "America/New_York"),
    ("america/argentina/buenos_aires", "America/Argentina/Buenos_Aires"),
    ("UTC", "UTC"),
    ("utc", "UTC"),
    ("Etc/GMT+12", "Etc/GMT+12"),  # the tz database's own zones for places without a city
])
def test_a_name_in_any_case_gives_the_canonical_spelling(given: str, stored: str) -> None:
    assert check_timezone(given) == stored
    assert zone(given) == ZoneInfo(stored)


@pytest.mark.parametrize(("typo", "meant"), [
    ("Europe/Berln", "Europe/Berlin"),
    ("America/New_Yrok", "America/New_York"),
    ("Asia/Tokio", "Asia/Tokyo"),
    ("berlin", "Europe/Berlin"),
    ("new york", "America/New_York"),
])
def test_a_typo_gets_did_you_mean(typo: str, meant: str) -> None:
    with pytest.raises(InvalidTimezone) as err:
        check_timezone(typo)
    assert err.value.field == "timezone"
    assert f"unknown timezone {typo!r}: did you mean {meant!r}?" in err.value.message


def test_a_name_like_nothing_gets_examples_and_no_guess() -> None:
    with pytest.raises(InvalidTimezone) as err:
        check_timezone("Mars/Olympus")
    assert err.value.message == (
        "unknown timezone 'Mars/Olympus': use an IANA name such as 'Europe/Berlin' or 'America/New_York'")


@pytest.mark.parametrize(("name", "why", "instead"), [
    ("EST", "is an abbreviation, not a place", "America/New_York"),
    ("est", "is an abbreviation, not a place", "America/New_York"),
    ("PST", "is an abbreviation, not a place", "America/Los_Angeles"),  # not even in the database
    ("CET", "is an abbreviation, not a place", "Europe/Berlin"),
    ("EST5EDT", "is an abbreviation, not a place", "America/New_York"),
    ("US/Eastern", "is a legacy name", "America/New_York"),
    ("us/pacific", "is a legacy name", "America/Los_Angeles"),
    ("Japan", "is a legacy name", "Asia/Tokyo"),
    ("GMT+5", "is a fixed offset, not a place", "Europe/Berlin"),
    ("UTC+02:00", "is a fixed offset, not a place", "Europe/Berlin"),
])
def test_abbreviations_offsets_and_legacy_names_are_refused_with_a_place_to_use(name: str, why: str,
                                                                               instead: str) -> None:
    with pytest.raises(InvalidTimezone) as err:
        check_timezone(name)
    assert err.value.field == "timezone"
    assert err.value.message.startswith(f"{name!r} {why}")
    assert f"use an IANA name such as {instead!r}" in err.value.message


def test_a_legacy_name_already_stored_still_resolves() -> None:
    """Refused for new settings, but a user saved with it before keeps working."""
    assert zone("US/Eastern") == ZoneInfo("US/Eastern")
    assert Actor(id=1, timezone="US/Eastern").tz == ZoneInfo("US/Eastern")


async def test_registration_stores_the_canonical_name(uow: UnitOfWork) -> None:
    user = await create_user(uow, "tz-canonical@example.com", timezone="asia/tokyo")
    assert user.timezone == "Asia/Tokyo"
    assert (await get_user(uow, user_id=user.id)).timezone == "Asia/Tokyo"


async def test_changing_the_timezone_stores_the_canonical_name(uow: UnitOfWork) -> None:
    actor = await new_actor(uow, "UTC")
    assert (await set_timezone(uow, actor, "EUROPE/PARIS")).timezone == "Europe/Paris"
    assert (await get_user(uow, user_id=actor.id)).timezone == "Europe/Paris"


async def test_a_refused_timezone_changes_nothing(uow: UnitOfWork) -> None:
    actor = await new_actor(uow, "Asia/Tokyo")
    with pytest.raises(InvalidTimezone, match="abbreviation"):
        await set_timezone(uow, actor, "EST")
    assert (await get_user(uow, user_id=actor.id)).timezone == "Asia/Tokyo"
